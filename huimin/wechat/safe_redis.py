"""Redis for the WeChat channel, degrading instead of failing.

The callback must answer WeChat whatever happens. When Redis is down, each feature that uses it
(de-duplication, replay checks, rate limits, numbered choices, the delivery queue) falls back to
a safe default, and Redis is not tried again for a few seconds, so a dead server costs nothing
per request and never pushes the callback past its reply budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

T = TypeVar("T")
log = structlog.get_logger("redis")


# Each Redis call on a citizen's path gives up after this long: a stalled server (a failover, a
# slow fork, CLIENT PAUSE) costs a fraction of WeChat's 5-second reply budget, not all of it.
FAST_TIMEOUT = 0.5


def fast_options(timeout: float = FAST_TIMEOUT) -> dict:
    """Options for a client that fails fast: a short connect and read timeout and no hidden
    retries.

    redis-py 8 retries a timed-out command 10 times by default, which turns a 1 s timeout into
    11 s of waiting; callers here fall back instead (SafeRedis) and try again later."""
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0), "health_check_interval": 0}


def fast_client(url: str, timeout: float = FAST_TIMEOUT) -> redis.Redis:
    """A fail-fast client (fast_options) for `url`."""
    return redis.Redis.from_url(url, **fast_options(timeout))


class RedisUnavailable(Exception):
    """Redis failed just now, or recently enough that it is not being tried."""


class SafeRedis:
    def __init__(self, conn: redis.Redis, cooldown: float = 5.0) -> None:
        self.conn = conn
        self.cooldown = cooldown
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def run(self, fn: Callable[[redis.Redis], T]) -> T:
        """Run `fn` against Redis; raise RedisUnavailable if Redis fails or failed recently."""
        if not self.available:
            raise RedisUnavailable("redis recently unavailable")
        try:
            return fn(self.conn)
        except redis.RedisError as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.cooldown
            log.warning("redis_unavailable", error=type(exc).__name__)
            raise RedisUnavailable(str(exc)) from exc

    def get(self, fn: Callable[[redis.Redis], T], default: T) -> T:
        """Like `run`, but return `default` when Redis is unavailable."""
        try:
            return self.run(fn)
        except RedisUnavailable:
            return default
