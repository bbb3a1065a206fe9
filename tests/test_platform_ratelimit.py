"""Fixed-window limits counted with the guarded XADD in one Redis round trip (real Redis),
their in-process breach memo, and the in-process fallback when Redis is down."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from huimin.platform.ratelimit import RateLimited, WindowLimit
from tests.faults import PrivateRedis

T0 = 1_800_000_000.0  # a whole hour: windows of a minute and an hour start here
STREAM = "test:stream"


def test_each_window_is_counted_and_the_entry_appended_only_within_all(redis_conn):
    limit = WindowLimit("t", "3/minute,5/hour")
    for n in range(3):
        limit.hit(redis_conn, "ip:a", append=(STREAM, {"v": f"scan{n}"}), now=T0 + n)
    with pytest.raises(RateLimited) as minute:
        limit.hit(redis_conn, "ip:a", append=(STREAM, {"v": "over"}), now=T0 + 10)
    assert minute.value.retry_after == 50  # to the end of this minute
    assert [f[b"v"] for _, f in redis_conn.xrange(STREAM)] == [b"scan0", b"scan1", b"scan2"]
    limit.hit(redis_conn, "ip:b", append=(STREAM, {"v": "other"}), now=T0 + 11)  # per identity
    # The next minute: the minute window is fresh, the hour has counted 4 of 5.
    limit.hit(redis_conn, "ip:a", now=T0 + 60)
    with pytest.raises(RateLimited) as hour:
        limit.hit(redis_conn, "ip:a", append=(STREAM, {"v": "over"}), now=T0 + 61)
    assert hour.value.retry_after == 3600 - 61
    assert redis_conn.xlen(STREAM) == 4
    # Counted in Redis: another process (another WindowLimit) sees the same windows.
    with pytest.raises(RateLimited):
        WindowLimit("t", "3/minute,5/hour").hit(redis_conn, "ip:a", now=T0 + 62)


def test_a_breach_is_remembered_until_its_window_ends_without_asking_redis(redis_conn):
    limit = WindowLimit("t", "1/minute")
    limit.check("ip:a", now=T0)
    limit.hit(redis_conn, "ip:a", now=T0)
    with pytest.raises(RateLimited):
        limit.hit(redis_conn, "ip:a", now=T0 + 1)
    redis_conn.flushdb()  # the memo, not Redis, refuses now
    with pytest.raises(RateLimited) as refused:
        limit.check("ip:a", now=T0 + 30)
    assert refused.value.retry_after == 30
    limit.check("ip:b", now=T0 + 30)
    limit.check("ip:a", now=T0 + 60)  # the window is over
    limit.hit(redis_conn, "ip:a", now=T0 + 60)


def test_redis_down_raises_and_the_local_fallback_keeps_the_limit(tmp_path: Path):
    dead = PrivateRedis(tmp_path / "redis")
    dead.start()
    conn = redis.Redis.from_url(dead.url, socket_timeout=1)
    dead.stop()
    limit = WindowLimit("t", "2/minute")
    with pytest.raises(redis.RedisError):
        limit.hit(conn, "ip:a", append=(STREAM, {"v": "x"}), now=T0)
    limit.hit_locally("ip:a", now=T0)
    limit.hit_locally("ip:a", now=T0 + 1)
    with pytest.raises(RateLimited):
        limit.hit_locally("ip:a", now=T0 + 2)
    limit.hit_locally("ip:b", now=T0 + 2)
    limit.hit_locally("ip:a", now=T0 + 60)


def test_a_limit_must_say_something():
    with pytest.raises(ValueError):
        WindowLimit("t", "")
