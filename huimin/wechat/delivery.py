"""Answers that do not fit in the passive reply, delivered later through the customer-service API.

Each citizen has an ordered outbox in Redis. Items are either a text to send ("send") or a
question the assistant could not answer when it arrived ("ask"). One job at a time drains a
citizen's outbox, head first, so everything arrives in the order it was asked:

- "ask": ask the assistant; on success the item is replaced, atomically, by the answer's
  parts; when the assistant is still down the job fails and is retried with backoff.
- "send": send through WeChat. A refusal that will not change (45015 the 48-hour window
  passed, 45047 quota, user unsubscribed or unknown) is recorded for staff follow-up and the
  item dropped; a transient failure (WeChat busy, network) fails the job, which is retried.

Nothing is lost: an item leaves the outbox only once it is delivered or recorded.

Nothing is sent twice: just before WeChat is called for a part, the part is marked "sending"
(beside the outbox); its removal after WeChat's answer clears the mark in the same step. A
mark still on the head part when a job starts means the job before it died while WeChat had
that part (a SIGKILL, the machine lost): it may have been delivered, so it is recorded for
staff instead of sent again, as benefit pushes do (huimin.benefits.push). A failure the job
sees (WeChat busy, a network error) clears the mark and the part is retried as before, except
a read timeout: WeChat had the part and may have delivered it before its answer was lost, so
it is recorded for staff too ("may have been delivered"), never resent blindly.
Removals compare the head with the item handled, so a removal that is repeated (redis-py
retries a command after a dropped connection) never takes the next item.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import redis
import requests
import structlog
from redis.client import Pipeline
from redis.lock import Lock

from huimin.assistant.client import AssistantClient, AssistantUnavailable
from huimin.platform.db import Database
from huimin.wechat import conversation, undelivered
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.choices import ChoiceStore
from huimin.wechat.dedup import OWED_INDEX, ledger_key

log = structlog.get_logger("delivery")

TEXT_LIMIT = 2048  # bytes, WeChat's limit for a text message (passive or customer-service)
WINDOW_SECONDS = 48 * 3600  # customer-service messages: 48 h after the user's message
ASK_TIMEOUT = 15.0  # how long a background question waits for the assistant
# WeChat codes worth retrying: system busy, API frequency limits; None is a network failure.
TRANSIENT_ERRCODES = {None, -1, 45009, 45011}
SEND, ASK = "send", "ask"
DRAINER_TTL = 7 * 24 * 3600  # a forgotten marker cannot block new jobs for long
# The drain lock lasts this long from the last item begun (one item takes at most ASK_TIMEOUT
# or WeChat's and the database's timeouts), so a killed job's outbox is free again soon.
LOCK_TTL = 60
# KEYS: outbox, sending mark. ARGV: the item handled (as stored), then the items replacing it.
# Only if that item is still the head: pop it, push the replacements, clear its mark.
_REPLACE_HEAD = """
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
for i = #ARGV, 2, -1 do redis.call('LPUSH', KEYS[1], ARGV[i]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""
_SEPARATORS = ("\n\n", "\n", "。", "！", "？", "；", "，", " ")


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split into parts of at most `limit` UTF-8 bytes, at paragraph/line/sentence ends when
    possible, never inside a character."""
    text = text.strip()
    parts: list[str] = []
    while len(text.encode()) > limit:
        fit = _chars_within(text, limit)
        cut = fit
        for sep in _SEPARATORS:
            at = text.rfind(sep, 0, fit)
            if at >= fit // 2:
                cut = at + len(sep)
                break
        head, text = text[:cut].rstrip(), text[cut:].lstrip()
        if head:
            parts.append(head)
    if text:
        parts.append(text)
    return parts


def _chars_within(text: str, limit: int) -> int:
    """How many leading characters fit in `limit` UTF-8 bytes."""
    used = 0
    for i, ch in enumerate(text):
        used += len(ch.encode())
        if used > limit:
            return i
    return len(text)


@dataclass
class Item:
    kind: str  # send | ask
    openid: str
    sender: str
    text: str
    message_key: str = ""
    received_at: float = field(default_factory=time.time)
    not_before: float = 0.0  # continuation parts wait a moment so the passive part lands first
    quote: str = ""  # for "ask": the citizen's own words, quoted in the late answer

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def loads(cls, raw: bytes | str) -> Item:
        return cls(**json.loads(raw))


class OutboxBusy(Exception):
    """Another job is draining this outbox; retried later (the lock expires if it died)."""


@dataclass
class Courier:
    """What draining needs: the database, the assistant, WeChat, and the choice store."""

    db: Database
    assistant: AssistantClient
    wechat: WeChatApi
    choices: ChoiceStore
    health: conversation.AssistantHealth
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


class DrainScheduler(Protocol):
    """Starts the background job that drains a citizen's outbox (RQ in jobs/messages.py)."""

    def is_alive(self, conn: redis.Redis, job_id: str) -> bool:
        """Whether the job is still going to run (queued, running or waiting to retry)."""

    def schedule(self, conn: redis.Redis, pipe: Pipeline, sender: str) -> str:
        """Enqueue a drain job inside the transaction `pipe`; return its id."""


class Outbox:
    """A citizen's ordered outbox. Invariant: while it holds items, a drain job is alive for it
    (its id is kept beside the outbox); pushing and finishing are transactions that keep it."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    @staticmethod
    def key(sender: str) -> str:
        return f"huimin:wechat:outbox:{sender}"

    @staticmethod
    def drainer_key(sender: str) -> str:
        return f"huimin:wechat:outbox-drainer:{sender}"

    @staticmethod
    def sending_key(sender: str) -> str:
        """The part WeChat is being asked to deliver right now (see the module docstring)."""
        return f"huimin:wechat:outbox-sending:{sender}"

    def push(self, sender: str, items: list[Item], drains: DrainScheduler) -> None:
        """Append `items` and, in the same transaction, start a drain job unless one is alive."""
        if items:
            self._push(sender, items, drains)

    def push_owed(self, sender: str, items: list[Item], drains: DrainScheduler,
                  message_key: str, *, expired_only: bool = False) -> bool:
        """Hand what is owed for a deferred message (its answer's parts, or the question itself
        when its host died) to the outbox and clear the owed record, in one transaction.
        False, pushing nothing, when the periodic job took the question over or, with
        `expired_only` (that job), when it is not owed or its lease still runs (its host is
        alive): so exactly one of the host and the periodic job answers (huimin.wechat.dedup).
        The host pushes even when no owed record is found: its write may have failed."""
        return self._push(sender, items, drains, message_key, expired_only)

    def _push(self, sender: str, items: list[Item], drains: DrainScheduler, owed: str = "",
              expired_only: bool = False) -> bool:
        key, drainer = self.key(sender), self.drainer_key(sender)
        entry = ledger_key(owed) if owed else None
        with self.conn.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key, drainer, *([entry] if entry else []))
                    if entry is not None:
                        until, taken = pipe.hmget(entry, "owed_until", "reclaimed")
                        if expired_only:
                            gone = until is None or int(until) > _redis_ms(pipe)
                        else:
                            gone = taken is not None
                        if gone:
                            pipe.unwatch()
                            return False
                    job_id = pipe.get(drainer)
                    alive = job_id is not None and drains.is_alive(self.conn, job_id.decode())
                    pipe.multi()
                    if items:
                        pipe.rpush(key, *[item.dumps() for item in items])
                        if not alive:
                            pipe.set(drainer, drains.schedule(self.conn, pipe, sender),
                                     ex=DRAINER_TTL)
                    if entry is not None:
                        pipe.hdel(entry, "owed", "owed_until")
                        if expired_only:  # the host, if alive after all, must not answer
                            pipe.hset(entry, "reclaimed", 1)
                        pipe.zrem(OWED_INDEX, owed)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue  # the drain job finished or took items meanwhile: look again

    def items(self, sender: str) -> list[Item]:
        return [Item.loads(raw) for raw in self.conn.lrange(self.key(sender), 0, -1)]

    def has_questions(self, sender: str) -> bool:
        """True while earlier questions wait for the assistant: new ones queue behind them."""
        return self.any_question(self.conn.lrange(self.key(sender), 0, -1))

    def items_on(self, pipe: Pipeline, sender: str) -> None:
        """Queue the read of `sender`'s outbox on a pipeline (its result: for any_question)."""
        pipe.lrange(self.key(sender), 0, -1)

    @staticmethod
    def any_question(raw_items: list[bytes]) -> bool:
        """Whether an outbox read (items as stored) holds a question."""
        return any(Item.loads(raw).kind == ASK for raw in raw_items)

    def drain(self, sender: str, courier: Courier) -> int:
        """Deliver everything queued for `sender`, in order; return how many texts were sent."""
        sent, first = 0, True
        while True:
            lock = self.conn.lock(f"huimin:wechat:outbox-lock:{sender}", timeout=LOCK_TTL)
            if not lock.acquire(blocking=False):
                if first:
                    raise OutboxBusy(sender)
                return sent  # the holder drains what was added, and closes the outbox
            try:
                sent += self._drain_locked(sender, courier, lock)
            finally:
                with contextlib.suppress(redis.exceptions.LockError):
                    lock.release()
            first = False
            if self._close_if_empty(sender):
                return sent

    def _close_if_empty(self, sender: str) -> bool:
        """Atomically: if the outbox is empty, forget its drain job (the next push starts one)."""
        key = self.key(sender)
        with self.conn.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if pipe.llen(key):
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.delete(self.drainer_key(sender))
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def _replace_head(self, sender: str, raw: bytes, replacements: Sequence[str] = ()) -> None:
        """Atomically: if `raw` is still the head, replace it (and clear its sending mark)."""
        self.conn.eval(_REPLACE_HEAD, 2, self.key(sender), self.sending_key(sender), raw,
                       *replacements)

    def _drain_locked(self, sender: str, courier: Courier, lock: Lock) -> int:
        key, sent = self.key(sender), 0
        while (raw := self.conn.lindex(key, 0)) is not None:
            lock.reacquire()  # LockNotOwnedError if a step outlasted it: stop, the job retries
            item = Item.loads(raw)
            if item.kind == ASK:
                self._answer(sender, raw, item, courier)
                continue
            if self.conn.get(self.sending_key(sender)) == raw:
                _record(courier, item, undelivered.ANSWER, undelivered.INTERRUPTED)
                self._replace_head(sender, raw)
                continue
            wait = item.not_before - courier.clock()
            if wait > 0:
                courier.sleep(min(wait, 2.0))
            if self._send(sender, raw, item, courier):
                sent += 1
            self._replace_head(sender, raw)
        return sent

    def _answer(self, sender: str, raw: bytes, item: Item, courier: Courier) -> None:
        """Ask the assistant now; replace the question by its answer's parts, atomically."""
        if courier.clock() - item.received_at > WINDOW_SECONDS:
            _record(courier, item, undelivered.QUESTION, "reply window passed", 45015)
            self._replace_head(sender, raw)
            return
        try:
            rendered = conversation.ask(courier.assistant, item.sender, item.text, ASK_TIMEOUT)
        except AssistantUnavailable:
            courier.health.failed()
            raise
        courier.health.recovered()
        courier.choices.remember(item.sender, rendered.payloads)
        text = rendered.text
        if text and item.quote:
            text = f"关于您刚才说的“{_short(item.quote)}”：\n{text}"
        parts = [
            Item(SEND, item.openid, item.sender, part, item.message_key, item.received_at)
            for part in split_text(text)
        ]
        self._replace_head(sender, raw, [p.dumps() for p in parts])
        log.info("queued_question_answered", sender=item.sender, parts=len(parts))

    def _send(self, sender: str, raw: bytes, item: Item, courier: Courier) -> bool:
        """True when delivered; False when recorded for staff; raises when worth retrying.
        While WeChat has the part, it is marked as being sent; a failure seen here clears the
        mark (the part is retried), an accepted or refused part leaves with its mark."""
        with courier.db.session() as session:
            subscribed = wechat_users.is_subscribed(session, item.openid)
        if not subscribed:
            _record(courier, item, undelivered.ANSWER, "user unsubscribed")
            return False
        mark = self.sending_key(sender)
        self.conn.set(mark, raw, ex=DRAINER_TTL)
        try:
            return deliver_now(courier.wechat, courier.db, item)
        except Exception:
            self.conn.delete(mark)
            raise


def reclaim_owed(conn: redis.Redis, drains: DrainScheduler, limit: int = 500) -> int:
    """Questions owed by hosts that died after replying "success" (their leases ran out):
    hand each to its citizen's outbox as a question, for the worker to answer in order.
    Run periodically (jobs.cron); returns how many were handed over."""
    outbox, handed = Outbox(conn), 0
    for raw_key in conn.zrangebyscore(OWED_INDEX, "-inf", _redis_ms(conn), start=0, num=limit):
        message_key = raw_key.decode()
        raw = conn.hget(ledger_key(message_key), "owed")
        if raw is None:  # settled meanwhile
            conn.zrem(OWED_INDEX, message_key)
            continue
        item = Item.loads(raw)
        if outbox.push_owed(item.sender, [item], drains, message_key, expired_only=True):
            handed += 1
            log.warning("owed_answer_reclaimed", sender=item.sender, message=message_key)
    return handed


def _redis_ms(conn: redis.Redis | Pipeline) -> int:
    """Redis's clock in ms: leases are set by it, so hosts with skewed clocks agree."""
    seconds, micros = conn.time()
    return seconds * 1000 + micros // 1000


def deliver_now(wechat: WeChatApi, db: Database, item: Item) -> bool:
    """Send one text now: True if WeChat took it; False if refused for good or if WeChat's
    answer timed out (it may have delivered the text: resending could send it twice), both
    recorded for staff; raises WeChatError for transient failures."""
    try:
        wechat.send_text(item.openid, item.text)
    except requests.ReadTimeout:
        with db.session() as session:
            undelivered.record(
                session, openid=item.openid, sender_id=item.sender,
                message_key=item.message_key, kind=undelivered.ANSWER, text=item.text,
                reason=undelivered.TIMED_OUT,
            )
        log.warning("answer_send_timed_out", sender=item.sender, message=item.message_key)
        return False
    except WeChatError as exc:
        if exc.errcode in TRANSIENT_ERRCODES:
            raise
        with db.session() as session:
            undelivered.record(
                session, openid=item.openid, sender_id=item.sender,
                message_key=item.message_key, kind=undelivered.ANSWER, text=item.text,
                reason=f"wechat refused ({exc.errcode})", errcode=exc.errcode,
            )
        log.warning("answer_undeliverable", sender=item.sender, errcode=exc.errcode)
        return False
    log.info("answer_sent", sender=item.sender, message=item.message_key)
    return True


def _record(courier: Courier, item: Item, kind: str, reason: str,
            errcode: int | None = None) -> None:
    with courier.db.session() as session:
        undelivered.record(
            session, openid=item.openid, sender_id=item.sender, message_key=item.message_key,
            kind=kind, text=item.quote or item.text, reason=reason, errcode=errcode,
        )
    log.warning("message_recorded_for_staff", sender=item.sender, reason=reason)


def _short(text: str, limit: int = 20) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
