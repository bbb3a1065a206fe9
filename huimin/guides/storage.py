"""Guide sessions in Redis, keyed by conversation, kept for the 7-day resume window.

A conversation is any stable id of one chat: the WeChat pseudonym of a resident, or
``grid:<staff id>:<resident id>`` for a grid worker assisting a resident. Each guide a
conversation has touched keeps its own session (so a resident who starts another guide
can still come back to the first one), and a pointer names the guide touched last.
Every write renews the expiry: after 7 days without a step the session is gone.
"""

from __future__ import annotations

import json
from datetime import timedelta

import redis

from huimin.guides.session import RESUME_WINDOW, GuideSession

PREFIX = "huimin:guides"
# A day beyond the resume window: the state machine decides by `updated_at`, Redis only
# has to keep the session at least that long.
TTL = RESUME_WINDOW + timedelta(days=1)


class GuideStorageError(Exception):
    """Redis could not be reached; the edge answers with an apology instead of a step."""


class SessionStore:
    def __init__(self, conn: redis.Redis, prefix: str = PREFIX, ttl: timedelta = TTL) -> None:
        self.conn = conn
        self.prefix = prefix
        self.ttl = int(ttl.total_seconds())

    def _key(self, conversation: str, guide_key: str) -> str:
        return f"{self.prefix}:session:{conversation}:{guide_key}"

    def _current_key(self, conversation: str) -> str:
        return f"{self.prefix}:current:{conversation}"

    def load(self, conversation: str, guide_key: str) -> GuideSession | None:
        try:
            raw = self.conn.get(self._key(conversation, guide_key))
        except redis.RedisError as exc:
            raise GuideStorageError(str(exc)) from exc
        if not raw:
            return None
        try:
            return GuideSession.from_dict(json.loads(raw))
        except ValueError:
            # Written by an older version in a shape we no longer read: start afresh.
            return None

    def current(self, conversation: str) -> GuideSession | None:
        """The session of the guide this conversation touched last."""
        try:
            key = self.conn.get(self._current_key(conversation))
        except redis.RedisError as exc:
            raise GuideStorageError(str(exc)) from exc
        return self.load(conversation, key.decode()) if key else None

    def save(self, conversation: str, session: GuideSession) -> None:
        data = json.dumps(session.to_dict(), ensure_ascii=False)
        try:
            pipe = self.conn.pipeline()
            pipe.set(self._key(conversation, session.guide_key), data, ex=self.ttl)
            pipe.set(self._current_key(conversation), session.guide_key, ex=self.ttl)
            pipe.execute()
        except redis.RedisError as exc:
            raise GuideStorageError(str(exc)) from exc

    def discard(self, conversation: str, guide_key: str) -> None:
        """Forget a finished guide (and the pointer, if it names this guide)."""
        try:
            pipe = self.conn.pipeline()
            pipe.delete(self._key(conversation, guide_key))
            pipe.execute()
            current = self._current_key(conversation)
            if self.conn.get(current) == guide_key.encode():
                self.conn.delete(current)
        except redis.RedisError as exc:
            raise GuideStorageError(str(exc)) from exc
