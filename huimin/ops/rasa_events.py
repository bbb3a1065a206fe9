"""A Rasa event broker that appends conversation events to a Redis stream.

Loaded by the Rasa server (``event_broker`` in bot/endpoints.yml), in the Rasa environment: it
imports nothing from the app. ``huimin.ops.conversation_log`` reads the stream into the database,
so every channel's messages reach the review inbox without the channel doing anything.

Only the events the review needs are kept (user messages with their NLU result, bot answers,
executed actions), the stream is capped, and a Redis failure never breaks a conversation: the
event is dropped with a warning.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

try:  # the base class exists only in the Rasa environment
    from rasa.core.brokers.broker import EventBroker
except ImportError:  # imported by the app for `slim` and the constants
    EventBroker = object  # type: ignore[assignment,misc]

try:  # standard library only, so the Rasa environment can use it too
    from huimin.privacy.masking import mask_text
except ImportError:  # the reader masks again in any case
    def mask_text(text: str) -> str:
        return text

log = logging.getLogger(__name__)

STREAM = "huimin:rasa-events"
MAX_LENGTH = 500_000  # about a week of a busy city's messages; ingested every few seconds
COOLDOWN_SECONDS = 5.0
KEPT_EVENTS = frozenset({"user", "bot", "action"})
_ACTION_SKIP = frozenset({"action_listen", "action_session_start"})


def slim(event: dict[str, Any]) -> dict[str, Any] | None:
    """The part of a Rasa event the conversation log stores, or None to drop it."""
    kind = event.get("event")
    if kind not in KEPT_EVENTS:
        return None
    if kind == "action" and event.get("name") in _ACTION_SKIP:
        return None
    out: dict[str, Any] = {
        "event": kind,
        "sender_id": event.get("sender_id"),
        "timestamp": event.get("timestamp"),
        "model_id": (event.get("metadata") or {}).get("model_id"),
    }
    if kind == "user":
        parse = event.get("parse_data") or {}
        out.update(
            text=mask_text(event.get("text") or ""),
            intent=parse.get("intent") or {},
            intent_ranking=(parse.get("intent_ranking") or [])[:6],
            entities=[
                {k: e.get(k) for k in ("entity", "start", "end", "value", "extractor")}
                for e in parse.get("entities") or []
            ],
            input_channel=event.get("input_channel"),
        )
    elif kind == "bot":
        out["text"] = mask_text(event.get("text") or "")
    else:
        out["name"] = event.get("name")
    return out


class RedisStreamEventBroker(EventBroker):  # type: ignore[misc,valid-type]
    """``event_broker: {type: huimin.ops.rasa_events.RedisStreamEventBroker, url, port, db}``."""

    def __init__(
        self, host: str, port: int = 6379, db: int = 0, password: str | None = None,
        stream: str = STREAM,
    ) -> None:
        # publish() runs on Rasa's event loop: fail fast, no retries, and after a failure
        # do not try again for a few seconds.
        self.client = redis.Redis(
            host=host, port=port, db=db, password=password or None,
            socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0),
        )
        self.stream = stream
        self.down_until = 0.0

    @classmethod
    async def from_endpoint_config(cls, broker_config: Any, event_loop: Any = None) -> Any:
        kwargs = broker_config.kwargs
        return cls(
            host=broker_config.url or "127.0.0.1",
            port=int(kwargs.get("port") or 6379),
            db=int(kwargs.get("db") or 0),
            password=kwargs.get("password"),
            stream=kwargs.get("stream") or STREAM,
        )

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Publish several events in one round trip (huimin/ops/rasa_tracker.py gives a
        message's new events at once)."""
        kept = [k for k in map(slim, events) if k is not None]
        if not kept or time.monotonic() < self.down_until:
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for k in kept:
                    pipe.xadd(self.stream, {"e": json.dumps(k, ensure_ascii=False)},
                              maxlen=MAX_LENGTH, approximate=True)
                pipe.execute()
        except redis.RedisError as exc:
            self.down_until = time.monotonic() + COOLDOWN_SECONDS
            log.warning("%d conversation events not recorded: %s", len(kept), exc)

    def is_ready(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    async def close(self) -> None:
        self.client.close()
