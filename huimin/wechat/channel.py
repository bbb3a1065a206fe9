"""The WeChat official-account channel: one inbound message in, at most one passive reply out.

WeChat waits 5 s for the passive reply, then retries. The callback therefore answers within a
budget (settings.reply_budget_seconds) whatever happens behind it:

- The message is processed on a background thread; the request waits for it until the
  budget is spent. In time: the answer is the passive reply. Late: the reply is "success"
  and the answer goes out through the customer-service API when it is ready (the outbox).
- A retry of a message (same MsgId, or for events FromUserName + CreateTime + Event) is not
  processed again: it waits for the first delivery's answer (see huimin.wechat.dedup).
- A deferred question is owed: it is recorded in Redis as the reply goes out, under a lease
  this host's heartbeat renews, and cleared as the answer is handed to the outbox. If the host
  dies first, a periodic job hands the question to the worker (see huimin.wechat.dedup).
- When the assistant is down, the citizen gets a short apology naming 12333 at once and the
  question is queued; the outbox job asks again, with backoff, and answers in order.

Nothing here knows about Flask; the handler passes in an `Inbound` and the time it started.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from typing import TypeVar

import redis
import structlog

from huimin.assistant.client import AssistantClient, AssistantUnavailable
from huimin.platform.db import Database
from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import Settings
from huimin.wechat import conversation, undelivered
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.choices import ChoiceStore
from huimin.wechat.dedup import ANSWERED, DEFERRED, PROCESSING, Ledger, NonceGuard
from huimin.wechat.delivery import (
    ASK,
    ASK_TIMEOUT,
    SEND,
    DrainScheduler,
    Item,
    Outbox,
    deliver_now,
    split_text,
)
from huimin.wechat.ratelimit import RateLimiter
from huimin.wechat.safe_redis import FAST_TIMEOUT, RedisUnavailable, SafeRedis

log = structlog.get_logger("wechat")

# The main menu: shown on subscribe and whenever we cannot understand a message.
MENU: tuple[tuple[str, str], ...] = (
    ("查政策", "/ask_policy"),
    ("我能领哪些补贴", "/check_benefits"),
    ("办事指引", "/start_guide"),
    ("转人工", "/human_handoff"),
)
# Custom-menu CLICK keys (as created through WeChat's menu API) -> assistant intents.
MENU_CLICKS: dict[str, str] = {
    "POLICY": "/ask_policy",
    "BENEFITS": "/check_benefits",
    "GUIDE": "/start_guide",
    "EMPLOYMENT_CODE": "/show_employment_code",
    "APPLICATION": "/check_application",
    "OFFICE": "/ask_office",
    "HUMAN": "/human_handoff",
}
# Events that need no answer: the user left, opened a page, or WeChat reports on a send.
SILENT_EVENTS = frozenset({
    "unsubscribe", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "MASSSENDJOBFINISH",
    "subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event",
    "view_miniprogram",
})
TEXT_TYPES = frozenset({"text", "voice"})

WELCOME = "欢迎关注惠民人社！我是惠民助手，24小时在线。请回复数字："
WELCOME_BACK = "欢迎回来！我是惠民助手。请回复数字："
VOICE_UNCLEAR = "没听清您的语音。请直接打字告诉我，或回复数字："
UNSUPPORTED = "暂时只能看懂文字和语音。请用文字告诉我您想办什么事，或回复数字："
EMPTY_TEXT = "请用文字告诉我您想办什么事，或回复数字："
UNKNOWN_MENU = "这个菜单暂时用不了。请回复数字："
POLITE_EVENT = "收到。您可以直接发文字问我问题。"
RATE_LIMITED = "您发得太快了，请稍等一分钟再发。着急可拨打 12333。"
SORRY = "抱歉，系统出了点问题，请稍后再试。着急可拨打 12333。"

POLL_SECONDS = 0.05
SEEN_SECONDS = 60  # how often a chatting user's last_seen_at is written to the database
SEEN_NOTES = 10_000  # senders noted as seen before expired notes are dropped
USER_SAVE_WAIT = 1.0  # seconds an answer waits for the user's record to be saved


def menu_text(lead: str) -> str:
    return "\n".join([lead, *(f"回复 {i}：{title}" for i, (title, _) in enumerate(MENU, 1))])


MENU_PAYLOADS = tuple(payload for _, payload in MENU)


@dataclass(frozen=True)
class Inbound:
    """The fields of a WeChat message or event that the channel uses."""

    msg_type: str
    source: str  # the citizen's openid
    target: str  # the official account's id
    create_time: int
    msg_id: str = ""
    content: str = ""
    recognition: str = ""
    event: str = ""
    event_key: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Inbound:
        """Raise ValueError when a field every message has is missing or malformed."""
        source, msg_type = fields.get("FromUserName", ""), fields.get("MsgType", "")
        created = fields.get("CreateTime", "")
        if (not source or not msg_type or not (created.isascii() and created.isdigit())
                or len(source) > 64):
            raise ValueError("message lacks FromUserName, MsgType or CreateTime")
        return cls(
            msg_type=msg_type, source=source, target=fields.get("ToUserName", ""),
            create_time=int(created), msg_id=fields.get("MsgId", ""),
            content=fields.get("Content", ""), recognition=fields.get("Recognition", ""),
            event=fields.get("Event", ""), event_key=fields.get("EventKey", ""),
        )

    @property
    def key(self) -> str:
        """WeChat's de-duplication key: MsgId, or FromUserName + CreateTime + the event (its
        type and key, so two different menu clicks in one second stay two messages), hashed so
        the key can be logged without the openid."""
        if self.msg_id:
            return self.msg_id
        raw = f"{self.source}\n{self.create_time}\n{self.event}\n{self.event_key}"
        return "e" + hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass
class Result:
    """What processing produced: answer parts, and maybe a question to ask again later."""

    parts: list[str]
    ask_later: Item | None = None


@dataclass
class _Turn:
    """Coordinates the waiting request and the background processing of one message."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    reply: str | None = None  # set when the answer is to be the passive reply
    deferred: bool = False  # set when the request gave up waiting
    owed: bool = False  # set when the deferred question was recorded as owed (dedup)


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


T = TypeVar("T")

# A Redis client's own timeout does not bound every call: a connection opened while Redis was
# paused was seen blocking in redis-py's connection handshake until the pause ended (8-11 s,
# tests/e2e/test_faults.py). So the request thread never makes a Redis call itself: the call
# runs on the pool, and the request waits for it at most this long, then goes on as if Redis
# were down.
REQUEST_REDIS_WAIT = FAST_TIMEOUT + 0.1


def _within(call: Callable[[], T], default: T) -> T:
    """`call()` on the pool, waited for at most REQUEST_REDIS_WAIT; `default` if slower."""
    future = _executor().submit(call)
    try:
        return future.result(timeout=REQUEST_REDIS_WAIT)
    except FuturesTimeout:
        log.warning("redis_call_abandoned", waited=REQUEST_REDIS_WAIT)
        return default


def _executor() -> ThreadPoolExecutor:
    """One pool per process, created after gunicorn forks (threads do not survive a fork)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="wechat-turn")
            _pool_pid = os.getpid()
        return _pool


class OwedHeartbeat:
    """Renews the leases of the answers this process owes, so the periodic job never takes
    over from a host that is alive but slow. An owed record this process could not clear
    (Redis was down as its answer went out another way) is cleared here once Redis is back,
    before its lease runs out, so the question is not answered a second time.

    One daemon thread per process while anything is held (threads do not survive a fork);
    it beats twelve times per lease, so a record left to clear goes soon after Redis is back."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._held: dict[str, bool] = {}  # message key -> True when only to be cleared
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def hold(self, message_key: str) -> None:
        with self._lock:
            self._held[message_key] = False
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wechat-owed",
                                                daemon=True)
                self._pid = os.getpid()
                self._thread.start()

    def release(self, message_key: str) -> None:
        with self._lock:
            self._held.pop(message_key, None)

    def settle_later(self, message_key: str) -> None:
        with self._lock:
            if message_key in self._held:
                self._held[message_key] = True

    def _run(self) -> None:
        while True:
            time.sleep(self.ledger.owed_lease_seconds / 12)
            with self._lock:
                if not self._held:
                    self._thread = None
                    return
                held = dict(self._held)
            self.ledger.renew_owed([key for key, settle in held.items() if not settle])
            for key in [key for key, settle in held.items() if settle]:
                if self.ledger.settle(key):
                    self.release(key)


class Channel:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        conn: redis.Redis,
        assistant: AssistantClient,
        drains: DrainScheduler,
        wechat: WeChatApi | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = SafeRedis(conn)
        self.assistant = assistant
        self.drains = drains
        self.wechat = wechat or WeChatApi(settings, conn)
        self.nonces = NonceGuard(self.redis)
        self.ledger = Ledger(self.redis)
        self.heartbeat = OwedHeartbeat(self.ledger)
        self.limiter = RateLimiter(self.redis, settings.user_rate_limit_per_minute)
        self.choices = ChoiceStore(self.redis)
        self.health = conversation.AssistantHealth(self.redis)
        self.outbox = Outbox(conn)
        # sender -> monotonic time until which the "seen" mark this channel set in Redis lives
        # (see _seen_recently).
        self._seen_until: dict[str, float] = {}

    @functools.cached_property
    def pseudonym_secret(self) -> str:
        """Derived once (in development an HKDF derivation), not per message."""
        return pseudonym_secret(self.settings)

    def sender_of(self, openid: str) -> str:
        return wechat_users.pseudonym(openid, self.pseudonym_secret)

    def fresh_nonce(self, nonce: str) -> bool:
        return _within(lambda: self.nonces.fresh(nonce), True)

    # ---- the request side ------------------------------------------------------------------

    def handle(self, msg: Inbound, started: float) -> str | None:
        """The passive reply text for `msg`, or None for "success" (nothing, or later).

        The wait ends one Redis timeout before the budget: the ledger call made after it may
        stall that long, and the reply must still leave within the budget."""
        deadline = started + self.settings.reply_budget_seconds - REQUEST_REDIS_WAIT
        if _within(lambda: self.ledger.claim(msg.key), None) is not None:
            taken_over, reply = self._await_first_delivery(msg, deadline)
            if not taken_over:
                return reply
        turn = _Turn()
        _executor().submit(self._process, msg, turn)
        renew_every = self.ledger.lease_seconds / 4
        while not turn.done.wait(max(0.0, min(renew_every, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                break
            # This host is alive: no other host takes the message. Not waited for.
            _executor().submit(self.ledger.renew, msg.key)
        question = self._owed_question(msg)
        with turn.lock:
            if turn.reply is not None:
                return turn.reply or None
            turn.deferred = True
            if question is not None:
                # Owed even if the write failed: a write that timed out may still land, and
                # must then be cleared (or renewed) like any other.
                turn.owed = True
                self.heartbeat.hold(msg.key)
            _within(lambda: self._defer(msg.key, question), None)
        log.info("reply_deferred", sender=self.sender_of(msg.source), message=msg.key)
        return None

    def _defer(self, message_key: str, question: Item | None) -> None:
        """Mark the message deferred, recording the owed question when there is one."""
        if question is None or not self.ledger.defer_owing(message_key, question.dumps()):
            self.ledger.defer(message_key)

    def _owed_question(self, msg: Inbound) -> Item | None:
        """What the worker asks if this host dies owing the answer: the citizen's words (a
        numbered choice is asked as typed), or a menu click's intent; None for messages that
        need no assistant (events answered with a menu, or nothing)."""
        sender = self.sender_of(msg.source)
        if msg.msg_type in TEXT_TYPES:
            text = (msg.content if msg.msg_type == "text" else msg.recognition).strip()
            return Item(ASK, msg.source, sender, text, msg.key, quote=text) if text else None
        if msg.msg_type == "event" and msg.event == "CLICK" and msg.event_key in MENU_CLICKS:
            return Item(ASK, msg.source, sender, MENU_CLICKS[msg.event_key], msg.key)
        return None

    def _await_first_delivery(self, msg: Inbound, deadline: float) -> tuple[bool, str | None]:
        """A retry: (False, the first delivery's answer, or None if it is not ready in time);
        (True, None) when the claim's lease ran out meanwhile (its host died) and this
        delivery took the message over, to process it itself."""
        log.info("duplicate_delivery", sender=self.sender_of(msg.source), message=msg.key)
        while time.monotonic() < deadline:
            state = _within(lambda: self.ledger.claim(msg.key), PROCESSING)
            if state is None:
                log.warning("delivery_taken_over", sender=self.sender_of(msg.source),
                            message=msg.key)
                return True, None
            if state == ANSWERED:
                return False, _within(lambda: self.ledger.peek(msg.key), (None, ""))[1] or None
            if state != PROCESSING:
                return False, None  # deferred: the answer comes later
            time.sleep(POLL_SECONDS)
        state, reply = _within(lambda: self.ledger.defer(msg.key), (DEFERRED, ""))
        return False, (reply or None) if state == ANSWERED else None

    # ---- the background side ---------------------------------------------------------------

    def _process(self, msg: Inbound, turn: _Turn) -> None:
        sender = self.sender_of(msg.source)
        try:
            result = self._route(msg, sender)
        except Exception:  # noqa: BLE001 - a bug must still end in an answer
            log.exception("message_processing_failed", sender=sender, message=msg.key)
            result = Result([SORRY])
        try:
            self._finish(msg, sender, turn, result)
        except Exception:  # noqa: BLE001 - nothing else would see it on this thread
            log.exception("answer_delivery_failed", sender=sender, message=msg.key)
            self.heartbeat.release(msg.key)  # if owed, its lease runs out: the worker answers
        finally:
            turn.done.set()

    def _finish(self, msg: Inbound, sender: str, turn: _Turn, result: Result) -> None:
        first = result.parts[0] if result.parts else ""
        with turn.lock:
            passive = not turn.deferred and _within(
                lambda: self.ledger.finish(msg.key, first), ANSWERED) != DEFERRED
            if passive:
                turn.reply = first
            turn.done.set()
        later = result.parts[1:] if passive else result.parts
        not_before = time.time() + 1.0 if passive else 0.0
        items = [Item(SEND, msg.source, sender, part, msg.key, not_before=not_before)
                 for part in later]
        if result.ask_later is not None:
            items.append(result.ask_later)
        self._deliver_later(sender, items, msg.key if turn.owed else "")

    def _deliver_later(self, sender: str, items: list[Item], owed: str = "") -> None:
        """Queue for the worker, clearing the owed record with it (none if the periodic job took
        the question over meanwhile: the worker answers it); if Redis is down, send from here
        or record for staff, and clear the owed record once Redis is back."""
        if not items and not owed:
            return
        try:
            if not owed:
                self.redis.run(lambda c: self.outbox.push(sender, items, self.drains))
            elif not self.redis.run(
                    lambda c: self.outbox.push_owed(sender, items, self.drains, owed)):
                log.warning("owed_answer_taken_over", sender=sender, message=owed)
            self.heartbeat.release(owed)
            return
        except RedisUnavailable:
            log.warning("outbox_unavailable", sender=sender, items=len(items))
            self.heartbeat.settle_later(owed)
        for item in items:
            reason = "queue unavailable"
            if item.kind == SEND:
                try:
                    deliver_now(self.wechat, self.db, item)  # refusals are recorded there
                    continue
                except WeChatError as exc:
                    reason = f"wechat unavailable ({exc.errcode})"
            with self.db.session() as session:
                undelivered.record(
                    session, openid=item.openid, sender_id=sender,
                    message_key=item.message_key,
                    kind=undelivered.QUESTION if item.kind == ASK else undelivered.ANSWER,
                    text=item.quote or item.text, reason=reason,
                )

    def _route(self, msg: Inbound, sender: str) -> Result:
        if msg.msg_type == "event":
            return self._event(msg, sender)
        self._touch(msg.source, sender)
        if not self.limiter.allow(sender):
            return Result([RATE_LIMITED])
        if msg.msg_type == "text":
            text = msg.content.strip()
            if not text:
                return self._menu(sender, EMPTY_TEXT)
        elif msg.msg_type == "voice":
            text = msg.recognition.strip()
            if not text:
                return self._menu(sender, VOICE_UNCLEAR)
        else:  # image, location, link, video, shortvideo, file, anything new
            return self._menu(sender, UNSUPPORTED)
        payload = self.choices.resolve(sender, text) or text
        return self._ask(msg, sender, payload, quote=text)

    def _event(self, msg: Inbound, sender: str) -> Result:
        event = msg.event
        if event == "subscribe":
            self._touch(msg.source, sender, subscribed=True)
            return self._menu(sender, WELCOME)
        if event == "unsubscribe":
            self._touch(msg.source, sender, subscribed=False)
            self.choices.remember(sender, ())
            return Result([])
        if event in SILENT_EVENTS:
            return Result([])
        self._touch(msg.source, sender)
        if event == "SCAN":
            return self._menu(sender, WELCOME_BACK)
        if event == "CLICK":
            intent = MENU_CLICKS.get(msg.event_key)
            if intent is None:
                return self._menu(sender, UNKNOWN_MENU)
            if not self.limiter.allow(sender):
                return Result([RATE_LIMITED])
            return self._ask(msg, sender, intent, quote="")
        return Result([POLITE_EVENT])

    def _menu(self, sender: str, lead: str) -> Result:
        self.choices.remember(sender, MENU_PAYLOADS)
        return Result([menu_text(lead)])

    def _remember_seen(self, sender: str, until: float) -> None:
        """Note the mark's lifetime (measured from before it was set, so it ends no later than
        Redis's); expired notes are dropped once they pile up."""
        if len(self._seen_until) >= SEEN_NOTES:
            now = time.monotonic()
            self._seen_until = {s: t for s, t in self._seen_until.items() if t > now}
        self._seen_until[sender] = until

    def _ask(self, msg: Inbound, sender: str, text: str, quote: str) -> Result:
        """Ask the assistant, or queue the question behind the ones already waiting."""
        later = Item(ASK, msg.source, sender, text, msg.key, quote=quote)
        if self._must_queue(sender):
            return Result([conversation.FALLBACK_TEXT], ask_later=later)
        try:
            rendered = conversation.ask(self.assistant, sender, text, ASK_TIMEOUT)
        except AssistantUnavailable as exc:
            log.warning("assistant_unavailable", sender=sender, message=msg.key,
                        error=str(exc)[:200])
            self.health.failed()
            return Result([conversation.FALLBACK_TEXT], ask_later=later)
        self.choices.remember(sender, rendered.payloads)
        return Result(split_text(rendered.text))

    def _must_queue(self, sender: str) -> bool:
        """The assistant is marked down, or earlier questions of this citizen still wait for it
        (a new one queues behind them): both read in one round trip. Redis down: False."""
        def read(c: redis.Redis) -> bool:
            with c.pipeline(transaction=False) as pipe:
                self.health.is_down_on(pipe)
                self.outbox.items_on(pipe, sender)
                down, queued = pipe.execute()
            return bool(down) or self.outbox.any_question(queued)
        return self.redis.get(read, False)

    def _touch(self, openid: str, sender: str, subscribed: bool | None = None) -> None:
        """Keep the user's record (subscription, last seen) current before answering, so a late
        answer finds the user subscribed; but on a thread of its own, waited for at most
        USER_SAVE_WAIT: a stalled database (which no client timeout cuts short) never holds up
        the answer."""
        if subscribed is None and self._seen_recently(sender):
            return
        future = _executor().submit(self._save_user, openid, sender, subscribed)
        with contextlib.suppress(FuturesTimeout):
            future.result(timeout=USER_SAVE_WAIT)

    def _seen_recently(self, sender: str) -> bool:
        """True while the "seen" mark this channel set for `sender` still lives in Redis: the
        mark's SET NX would fail, so neither it nor the database write is tried."""
        return self._seen_until.get(sender, 0.0) > time.monotonic()

    def _save_user(self, openid: str, sender: str, subscribed: bool | None) -> None:
        """A chatting user is written at most once a minute. A database problem is logged."""
        if subscribed is None:
            key = f"huimin:wechat:seen:{sender}"
            asked_at = time.monotonic()
            try:
                if not self.redis.run(lambda c: c.set(key, 1, nx=True, ex=SEEN_SECONDS)):
                    return
                self._remember_seen(sender, asked_at + SEEN_SECONDS)
            except RedisUnavailable:
                pass  # written on every message until Redis is back
        try:
            with self.db.session() as session:
                wechat_users.touch(session, openid, self.pseudonym_secret, subscribed)
        except Exception:  # noqa: BLE001 - logged; the citizen still gets an answer
            log.exception("wechat_user_not_saved", sender=sender)
