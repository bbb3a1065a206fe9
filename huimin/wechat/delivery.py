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
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import redis
import structlog
from redis.client import Pipeline

from huimin.assistant.client import AssistantClient, AssistantUnavailable
from huimin.platform.db import Database
from huimin.wechat import conversation, undelivered
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.choices import ChoiceStore

log = structlog.get_logger("delivery")

TEXT_LIMIT = 2048  # bytes, WeChat's limit for a text message (passive or customer-service)
WINDOW_SECONDS = 48 * 3600  # customer-service messages: 48 h after the user's message
ASK_TIMEOUT = 15.0  # how long a background question waits for the assistant
# WeChat codes worth retrying: system busy, API frequency limits; None is a network failure.
TRANSIENT_ERRCODES = {None, -1, 45009, 45011}
SEND, ASK = "send", "ask"
DRAINER_TTL = 7 * 24 * 3600  # a forgotten marker cannot block new jobs for long
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

    def push(self, sender: str, items: list[Item], drains: DrainScheduler) -> None:
        """Append `items` and, in the same transaction, start a drain job unless one is alive."""
        if not items:
            return
        key, drainer = self.key(sender), self.drainer_key(sender)
        with self.conn.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key, drainer)
                    job_id = pipe.get(drainer)
                    alive = job_id is not None and drains.is_alive(self.conn, job_id.decode())
                    pipe.multi()
                    pipe.rpush(key, *[item.dumps() for item in items])
                    if not alive:
                        pipe.set(drainer, drains.schedule(self.conn, pipe, sender),
                                 ex=DRAINER_TTL)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue  # the drain job finished or took items meanwhile: look again

    def items(self, sender: str) -> list[Item]:
        return [Item.loads(raw) for raw in self.conn.lrange(self.key(sender), 0, -1)]

    def has_questions(self, sender: str) -> bool:
        """True while earlier questions wait for the assistant: new ones queue behind them."""
        return any(item.kind == ASK for item in self.items(sender))

    def drain(self, sender: str, courier: Courier) -> int:
        """Deliver everything queued for `sender`, in order; return how many texts were sent."""
        sent, first = 0, True
        while True:
            lock = self.conn.lock(f"huimin:wechat:outbox-lock:{sender}", timeout=300)
            if not lock.acquire(blocking=False):
                if first:
                    raise OutboxBusy(sender)
                return sent  # the holder drains what was added, and closes the outbox
            try:
                sent += self._drain_locked(sender, courier)
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

    def _drain_locked(self, sender: str, courier: Courier) -> int:
        key, sent = self.key(sender), 0
        while (raw := self.conn.lindex(key, 0)) is not None:
            item = Item.loads(raw)
            if item.kind == ASK:
                self._answer(key, item, courier)
                continue
            wait = item.not_before - courier.clock()
            if wait > 0:
                courier.sleep(min(wait, 2.0))
            if self._send(item, courier):
                sent += 1
            self.conn.lpop(key)
        return sent

    def _answer(self, key: str, item: Item, courier: Courier) -> None:
        """Ask the assistant now; replace the question by its answer's parts, atomically."""
        if courier.clock() - item.received_at > WINDOW_SECONDS:
            _record(courier, item, undelivered.QUESTION, "reply window passed", 45015)
            self.conn.lpop(key)
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
        pipe = self.conn.pipeline(transaction=True)
        pipe.lpop(key)
        if parts:
            pipe.lpush(key, *[p.dumps() for p in reversed(parts)])
        pipe.execute()
        log.info("queued_question_answered", sender=item.sender, parts=len(parts))

    def _send(self, item: Item, courier: Courier) -> bool:
        """True when delivered; False when recorded for staff; raises when worth retrying."""
        with courier.db.session() as session:
            subscribed = wechat_users.is_subscribed(session, item.openid)
        if not subscribed:
            _record(courier, item, undelivered.ANSWER, "user unsubscribed")
            return False
        return deliver_now(courier.wechat, courier.db, item)


def deliver_now(wechat: WeChatApi, db: Database, item: Item) -> bool:
    """Send one text now: True if WeChat took it; False if refused for good (recorded for
    staff); raises WeChatError for transient failures."""
    try:
        wechat.send_text(item.openid, item.text)
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
