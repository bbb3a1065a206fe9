"""Fixed-window rate limits in Redis, counted in the same round trip as the write they guard.

Flask-Limiter pays one Redis round trip per limit before the view runs, and the view then
pays another for its own write. On a hot public endpoint (employment-code verification:
two windows, ``120/minute,3000/hour``, and an XADD of the scan log) that is three round
trips where one will do: ``WindowLimit.hit`` counts every window and, when none is over,
appends the entry to a stream, all in one Lua script (EVALSHA). ``WindowLimit.run`` runs
any other ``LimitScript`` the same way (the verify path also reads a cached verdict).

Windows are aligned to the clock (the key names the window), so a key's expiry is only
clean-up and ``Retry-After`` needs no look-up. A breach is remembered in the process until
its window ends, so a flooding address costs no Redis (nor, for the caller, any other work)
for the rest of the window: exact, because a fixed window once over stays over.

Redis down: ``hit_locally`` counts the same windows in this process, so the limit still
holds per process (a brake, not an exact city-wide count) while the caller writes directly
to the database.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from limits import parse_many

_COUNT = """
local n = tonumber(ARGV[1])
local over = {}
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i + 1]) end
  if count > tonumber(ARGV[2 * i]) then over[#over + 1] = i end
end
if #over > 0 then return {over} end
local kb, ab = n, 2 * n + 1
"""
"""Counts every window; over any, returns {over}. Otherwise a ``LimitScript``'s tail runs,
its own keys and arguments after the windows' (``KEYS[kb + 1]``, ``ARGV[ab + 1]``)."""


class LimitScript:
    """The windows' count followed by ``tail``, a Lua chunk that runs only when no window is
    over and returns ``{over, result}`` (``over`` is the empty table the count leaves)."""

    def __init__(self, tail: str) -> None:
        self.source = _COUNT + tail
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


_APPEND = LimitScript("""
if #KEYS > kb then
  local entry = {}
  for j = ab + 1, #ARGV do entry[#entry + 1] = ARGV[j] end
  redis.call('XADD', KEYS[kb + 1], '*', unpack(entry))
end
return {over}
""")
_LOCAL_MAX_KEYS = 100_000
"""Bound on the in-process counters and breach memo (stale windows are dropped first)."""


@dataclass(frozen=True)
class Window:
    amount: int
    seconds: int


class RateLimited(Exception):
    """Over a limit; ``retry_after`` is whole seconds until the breached window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after} s")
        self.retry_after = retry_after


class WindowLimit:
    """One limit specification (e.g. ``"120/minute,3000/hour"``) under one scope, counted
    per identity (e.g. ``ip:203.0.113.9``). Thread-safe; one per process and scope."""

    def __init__(self, scope: str, spec: str, *, prefix: str = "huimin-limit") -> None:
        self.windows = tuple(
            Window(item.amount, item.get_expiry()) for item in parse_many(spec)
        )
        if not self.windows:
            raise ValueError(f"rate limit {spec!r}: no limit given")
        self.prefix = f"{prefix}:{scope}"
        self._lock = threading.Lock()
        self._blocked: dict[str, float] = {}
        self._local: dict[str, tuple[int, float]] = {}

    def check(self, identity: str, *, now: float | None = None) -> None:
        """Refuse at once an identity already known to be over (no Redis): RateLimited."""
        until = self._blocked.get(identity)
        if until is not None:
            now = time.time() if now is None else now
            if now < until:
                raise RateLimited(max(1, math.ceil(until - now)))

    def hit(
        self,
        conn: redis.Redis,
        identity: str,
        *,
        append: tuple[str, Mapping[str, str]] | None = None,
        now: float | None = None,
    ) -> None:
        """Count one hit in every window and, if none is over, XADD ``append`` (stream,
        fields): one round trip. Over: RateLimited, nothing appended. RedisError propagates
        (the caller falls back: ``hit_locally``, and writes elsewhere)."""
        keys: list[str] = []
        args: list[str | int] = []
        if append is not None:
            stream, fields = append
            keys.append(stream)
            for name, value in fields.items():
                args += [name, value]
        self.run(conn, identity, _APPEND, keys, args, now=now)

    def run(
        self,
        conn: redis.Redis,
        identity: str,
        script: LimitScript,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        now: float | None = None,
    ) -> Any:
        """Count one hit in every window and, if none is over, run ``script``'s tail with
        ``keys`` and ``args``, in one round trip; returns the tail's result. Over:
        RateLimited, the tail not run. RedisError propagates."""
        now = time.time() if now is None else now
        all_keys = [self._key(identity, w, now) for w in self.windows] + list(keys)
        all_args: list[str | int] = [len(self.windows)]
        for w in self.windows:
            all_args += [w.amount, w.seconds]
        all_args += args
        try:
            reply = conn.evalsha(script.sha, len(all_keys), *all_keys, *all_args)
        except redis.exceptions.NoScriptError:
            reply = conn.eval(script.source, len(all_keys), *all_keys, *all_args)
        over = reply[0]
        if over:
            self._refuse(identity, [self.windows[int(i) - 1] for i in over], now)
        return reply[1] if len(reply) > 1 else None

    def hit_locally(self, identity: str, *, now: float | None = None) -> None:
        """``hit`` without Redis: the windows counted in this process only."""
        now = time.time() if now is None else now
        over = []
        with self._lock:
            if len(self._local) > _LOCAL_MAX_KEYS:
                self._local = {k: v for k, v in self._local.items() if v[1] > now}
            for w in self.windows:
                key = self._key(identity, w, now)
                count = self._local.get(key, (0, 0.0))[0] + 1
                self._local[key] = (count, (now // w.seconds + 1) * w.seconds)
                if count > w.amount:
                    over.append(w)
        if over:
            self._refuse(identity, over, now)

    def _key(self, identity: str, window: Window, now: float) -> str:
        return f"{self.prefix}:{identity}:{window.seconds}:{int(now // window.seconds)}"

    def _refuse(self, identity: str, over: list[Window], now: float) -> None:
        until = max((now // w.seconds + 1) * w.seconds for w in over)
        with self._lock:
            if len(self._blocked) > _LOCAL_MAX_KEYS:
                self._blocked = {k: v for k, v in self._blocked.items() if v > now}
            self._blocked[identity] = max(until, self._blocked.get(identity, 0.0))
        raise RateLimited(max(1, math.ceil(until - now)))
