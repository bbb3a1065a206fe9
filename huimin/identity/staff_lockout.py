"""Staff sign-in lockout per (username, address) pair.

Locking the account itself after five failures lets anyone who knows a username lock that
person out from anywhere. Counting failures per username *and* client address locks out the
guesser's address only; the staff member signs in from their own. Admins lift a lockout
(``unlock``: every address of that username) from the CLI or the admin API, both audited.
Usernames and addresses sit in Redis only as keyed digests.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import redis

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_PREFIX = "huimin:auth:staff-lock:"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class PairLock:
    """The lock state of one (username, address) pair; implements accounts.LoginLock."""

    def __init__(self, conn: redis.Redis, username: str, address: str) -> None:
        self.conn = conn
        base = f"{_PREFIX}{_digest(username.strip().casefold())}:{_digest(address)}"
        self.failures_key, self.locked_key = f"{base}:failures", f"{base}:locked"

    def retry_after(self) -> int | None:
        """Seconds until this pair may try again, or None when it is not locked."""
        ttl = self.conn.ttl(self.locked_key)
        return int(ttl) + 1 if ttl and ttl > 0 else None

    def failed(self) -> int | None:
        """Count a failure; the lockout's length in seconds if this one locked the pair."""
        seconds = int(LOCKOUT.total_seconds())
        pipe = self.conn.pipeline()
        pipe.incr(self.failures_key)
        pipe.expire(self.failures_key, seconds)
        count = int(pipe.execute()[0])
        if count < MAX_FAILURES:
            return None
        pipe = self.conn.pipeline()
        pipe.set(self.locked_key, 1, ex=seconds)
        pipe.delete(self.failures_key)
        pipe.execute()
        return seconds

    def succeeded(self) -> None:
        self.conn.delete(self.failures_key)


class PairLockout:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def pair(self, username: str, address: str) -> PairLock:
        return PairLock(self.conn, username, address)

    def _keys(self, username: str) -> list[bytes]:
        pattern = f"{_PREFIX}{_digest(username.strip().casefold())}:*"
        return list(self.conn.scan_iter(match=pattern, count=500))

    def locked_addresses(self, username: str) -> int:
        """How many addresses are locked out for this username now."""
        return sum(1 for k in self._keys(username) if k.endswith(b":locked"))

    def unlock(self, username: str) -> int:
        """Lift every lockout (and failure count) of this username; how many were locked."""
        keys = self._keys(username)
        locked = sum(1 for k in keys if k.endswith(b":locked"))
        if keys:
            self.conn.delete(*keys)
        return locked
