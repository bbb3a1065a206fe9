"""Per-user message rate limit (fixed one-minute windows in Redis)."""

from __future__ import annotations

import time

from huimin.wechat.safe_redis import SafeRedis


class RateLimiter:
    def __init__(self, redis: SafeRedis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    def allow(self, subject: str, now: float | None = None) -> bool:
        """Count one message for `subject`; False once it exceeds the limit this minute.

        A limit of 0 or less disables the check; Redis being down allows everything.
        """
        if self.per_minute <= 0:
            return True
        minute = int((now if now is not None else time.time()) // 60)
        key = f"huimin:wechat:rate:{subject}:{minute}"

        def count(conn) -> int:
            pipe = conn.pipeline()
            pipe.incr(key)
            pipe.expire(key, 120)
            return int(pipe.execute()[0])

        return self.redis.get(count, 0) <= self.per_minute
