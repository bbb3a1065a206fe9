"""What citizens said and how the assistant understood it: the record the ops review works on.

Fed from the Rasa server's event stream (``huimin.ops.rasa_events``: every channel, nothing
for a channel to call). ``ingest`` copies new stream entries into ``conversation_messages``
(text masked), in order, exactly once (the stream position is stored in the same transaction);
it runs on every model-server poll of the Rasa replicas (every few seconds) and before the ops
console's views. It marks the user messages worth a second look:

- ``fallback``: the NLU's fallback intent, or answered by a fallback action;
- ``handoff_after``: followed by a hand-off (the citizen asked for a person right after it, or
  the assistant gave up on it);
- ``repeated_after``: the citizen's next message, soon after, says nearly the same thing;
- ``unhelpful``: the citizen said the answer to it did not help (the ``feedback_unhelpful``
  intent: the "没帮到我" button under every policy answer, or those words typed);
- ``menu``: the assistant answered with a menu of policies to choose from (it hesitated);
- ``referral``: the assistant referred it to another department (``referrals/``).

Low confidence is not stored as a flag: the threshold is a setting, applied when querying.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.catalogue.answers import MENU_INTRO
from huimin.catalogue.referrals import REFERRAL_MARK
from huimin.ops.models import ConversationMessage, IngestCursor
from huimin.ops.rasa_events import STREAM
from huimin.platform.db import utcnow
from huimin.privacy.masking import mask_text, mask_value
from huimin.privacy.pii import NAME, PiiCipher, PiiDecryptError
from huimin.residents.models import Resident
from huimin.wechat import users as wechat_users

USER, BOT = "user", "bot"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_fallback", "action_default_fallback",
                              "action_two_stage_fallback"})
HANDOFF_ACTIONS = frozenset({"action_handoff"})
HANDOFF_INTENT = "human_handoff"
UNHELPFUL_INTENT = "feedback_unhelpful"
REPEAT_WINDOW = timedelta(minutes=5)
REPEAT_SIMILARITY = 0.6
HANDOFF_WINDOW = timedelta(minutes=10)
INGEST_BATCH = 1000
_LOCK_KEY = "huimin:ops:ingest-lock"


# ---- similarity (the citizen repeating themselves) ----------------------------------------------

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower-case, full-width folded, without spaces and punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} if len(text) > 1 else {text}


def similarity(a: str, b: str) -> float:
    """Dice similarity of the character bigrams of the normalised texts (0..1): a rephrasing
    that keeps most words ("失业金怎么领取" / "失业金到底怎么领取啊") scores about 0.67."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    sa, sb = _bigrams(na), _bigrams(nb)
    return 2 * len(sa & sb) / (len(sa) + len(sb))


def is_repeat(previous: str, current: str) -> bool:
    """Nearly the same words again (short replies such as "好" or "1" never count)."""
    if previous.startswith("/") or current.startswith("/"):
        return False
    if min(len(normalise(previous)), len(normalise(current))) < 3:
        return False
    return similarity(previous, current) >= REPEAT_SIMILARITY


# ---- ingestion ----------------------------------------------------------------------------------


def _at(event: dict[str, Any]) -> datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(float(stamp), tz=UTC)
    return utcnow()


def _last_user(session: Session, sender_id: str, before_id: int | None = None,
               typed: bool = False):
    """The sender's latest message; ``typed``: words typed by the citizen (no payload, no
    "没帮到我"), the kind the review inbox shows."""
    query = select(ConversationMessage).where(
        ConversationMessage.sender_id == sender_id, ConversationMessage.role == USER
    )
    if before_id is not None:
        query = query.where(ConversationMessage.id < before_id)
    if typed:
        query = query.where(~ConversationMessage.text.startswith("/"),
                            ConversationMessage.intent.is_distinct_from(UNHELPFUL_INTENT))
    return session.scalars(query.order_by(ConversationMessage.id.desc()).limit(1)).first()


NameLookup = Callable[[str], Sequence[str]]
# Each sender's latest user message, as far as one ingest run knows it (its first lookup
# reads the database, then the run keeps it current): an action or bot event otherwise costs
# a query, with the autoflush before it, and a message brings several of them.
Latest = dict[str, ConversationMessage | None]


def _latest_user(session: Session, sender_id: str, latest: Latest | None):
    """The sender's latest message, from `latest` when the run already knows it."""
    if latest is None:
        return _last_user(session, sender_id)
    if sender_id not in latest:
        latest[sender_id] = _last_user(session, sender_id)
    return latest[sender_id]


def resident_names(session: Session, cipher: PiiCipher) -> NameLookup:
    """The names on record for a sender (pseudonym → WeChat user → resident), for masking
    them wherever the citizen types them; cached per ingest run."""

    @functools.cache
    def lookup(sender_id: str) -> tuple[str, ...]:
        user = wechat_users.by_pseudonym(session, sender_id)
        resident = session.get(Resident, user.resident_id) if user and user.resident_id else None
        if resident is None or resident.name_enc is None:
            return ()
        try:
            return (cipher.decrypt(resident.name_enc.decode(), field=NAME),)
        except PiiDecryptError:
            return ()

    return lookup


def apply_event(
    session: Session, key: str, event: dict[str, Any], names: NameLookup | None = None,
    latest: Latest | None = None,
) -> ConversationMessage | None:
    """Store one (slimmed) Rasa event; returns the message row it created, if any.
    `latest`: each sender's latest message, kept by the ingest run (see Latest)."""
    sender = str(event.get("sender_id") or "")[:64]
    kind = event.get("event")
    if not sender:
        return None
    known = names(sender) if names is not None else ()
    at = _at(event)
    if kind == USER:
        intent = event.get("intent") or {}
        ranking = [
            {"intent": str(r.get("name")), "confidence": round(float(r.get("confidence") or 0), 4)}
            for r in event.get("intent_ranking") or [] if r.get("name")
        ]
        name = intent.get("name")
        text = mask_text(str(event.get("text") or ""), known)
        previous = _latest_user(session, sender, latest)
        message = ConversationMessage(
            source_key=key, sender_id=sender, role=USER, text=text, intent=name,
            confidence=float(intent["confidence"]) if intent.get("confidence") is not None
            else None,
            alternatives=ranking, entities=mask_value(event.get("entities") or []),
            model_id=event.get("model_id"), channel=event.get("input_channel"), at=at,
            fallback=name == FALLBACK_INTENT,
        )
        session.add(message)
        if latest is not None:
            latest[sender] = message
        if previous is not None:
            gap = at - _aware(previous.at)
            if gap <= REPEAT_WINDOW and is_repeat(previous.text, text):
                previous.repeated_after = True
            if name == HANDOFF_INTENT and gap <= HANDOFF_WINDOW and not previous.is_payload:
                previous.handoff_after = True
        if name == UNHELPFUL_INTENT:
            # The answer did not help: flag the question the citizen typed (answers reached by
            # tapping buttons belong to it; the conversation view shows them).
            asked = _last_user(session, sender, typed=True)
            if asked is not None and at - _aware(asked.at) <= HANDOFF_WINDOW:
                asked.unhelpful = True
        return message
    if kind == BOT:
        text = mask_text(str(event.get("text") or ""), known)
        if not text:
            return None
        message = ConversationMessage(
            source_key=key, sender_id=sender, role=BOT, text=text,
            model_id=event.get("model_id"), at=at,
        )
        asked = _latest_user(session, sender, latest)
        if asked is not None:
            asked.menu = asked.menu or text.startswith(MENU_INTRO)
            asked.referral = asked.referral or REFERRAL_MARK in text
        session.add(message)
        return message
    if kind == "action":
        name = event.get("name")
        current = _latest_user(session, sender, latest)
        if current is None:
            return None
        if name in FALLBACK_ACTIONS:
            current.fallback = True
        elif name in HANDOFF_ACTIONS and current.intent != HANDOFF_INTENT:
            current.handoff_after = True  # the assistant gave up on this message
    return None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class IngestResult:
    events: int
    messages: int
    skipped: bool = False  # another process was ingesting, or Redis was unavailable


def ingest(
    session: Session, conn: redis.Redis, stream: str = STREAM, max_events: int = 20_000,
    *, cipher: PiiCipher | None = None,
) -> IngestResult:
    """Copy new stream entries into the database (in the caller's transaction); with
    ``cipher`` the sender's names on record are masked too, not only name patterns.

    One process at a time (a short Redis lock); the others skip, since the one holding the
    lock is doing the same work. Cheap when there is nothing new: one XRANGE.
    """
    try:
        lock = conn.lock(_LOCK_KEY, timeout=60, blocking=False)
        if not lock.acquire(blocking=False):
            return IngestResult(0, 0, skipped=True)
    except redis.RedisError:
        return IngestResult(0, 0, skipped=True)
    try:
        cursor = session.get(IngestCursor, stream)
        if cursor is None:
            cursor = IngestCursor(stream=stream, last_id="0-0")
            session.add(cursor)
        events = messages = 0
        names = resident_names(session, cipher) if cipher is not None else None
        latest: Latest = {}
        while events < max_events:
            try:
                entries = conn.xrange(stream, min=f"({cursor.last_id}", count=INGEST_BATCH)
            except redis.RedisError:
                break
            if not entries:
                break
            for raw_id, fields in entries:
                key = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                payload = fields.get(b"e") or fields.get("e")
                try:
                    event = json.loads(payload) if payload else None
                except ValueError:
                    event = None
                if isinstance(event, dict) and apply_event(session, key, event, names,
                                                           latest) is not None:
                    messages += 1
                cursor.last_id = key
                events += 1
            cursor.updated_at = utcnow()
            session.flush()  # the batch's rows, in the order they were added
        return IngestResult(events, messages)
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()


def context(session: Session, message: ConversationMessage, before: int = 6, after: int = 6):
    """The conversation around ``message``: the same sender's messages just before and after."""
    earlier = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.sender_id == message.sender_id,
               ConversationMessage.id < message.id)
        .order_by(ConversationMessage.id.desc()).limit(before)
    ).all()
    later = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.sender_id == message.sender_id,
               ConversationMessage.id > message.id)
        .order_by(ConversationMessage.id).limit(after)
    ).all()
    return [*reversed(earlier), message, *later]


def recent(session: Session, sender_id: str, limit: int = 30) -> list[ConversationMessage]:
    """The last ``limit`` messages of a conversation, oldest first."""
    rows = session.scalars(
        select(ConversationMessage).where(ConversationMessage.sender_id == sender_id)
        .order_by(ConversationMessage.id.desc()).limit(limit)
    ).all()
    return list(reversed(rows))
