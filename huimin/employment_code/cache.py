"""Scan verdicts kept in Redis, so a public scan costs the signature check and one round trip.

What a scan of a signed, in-time code needs from the database is small and changes rarely:
which code and holder it is (for the scan log) and whether it is refused (revoked, or the
holder's status is no longer the code's). `VerdictCache` keeps that per code (a hash keyed by
`jti`), judged for one calendar day (the status depends on the date), and `lookup` reads it
in the same Lua script that counts the per-address limit and appends the scan to the log
stream. The database stays the truth:

* a miss (no entry, another day, or the holder changed since it was filled) is reported by
  the script, which counts the limit but appends nothing; the caller reads the database
  (`store.verify_code`) and `fill`s the entry while appending the scan;
* every committed write that can change a verdict marks the holder changed
  (`holder_changed`: revocations, issues that revoke, a resident's facts changed, a code or
  resident deleted; ORM writes are caught by the session listeners below, `revoke_codes`
  marks explicitly). The mark is the Redis time of the commit; an entry filled from a read
  that began before it is never served again, and a fill racing with it is dropped (the
  fill carries the time its miss was reported, before its read began);
* a code is cached as live when the unit of work that issued it commits (`issued`), so even
  its first scan is a hit, unless its holder changed since just before its facts were read;
* a lost mark (Redis down at commit, a write outside the ORM) is bounded by the entry's
  expiry, EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS;
* Redis down at a scan: the caller takes the database path as before.

Marks need the unit of work's Redis client: sessions made by `build_runtime`'s database
carry it in `session.info["redis"]`; a session without one marks nothing (the expiry bounds).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from huimin.platform.ratelimit import LimitScript, WindowLimit
from huimin.residents import FACT_NAMES
from huimin.residents.models import Resident

from .models import IssuedCodeRecord

log = logging.getLogger(__name__)

PREFIX = "employment_code:verdict"
HOLDER_PREFIX = "employment_code:holder_changed:"
MARK_SECONDS = 3601
"""A mark outlives every entry filled before it (the longest setting allowed is 3600 s)."""
_MARK_CHUNK = 1000
_PENDING = "employment_code_holders_changed"
"""session.info key: holders whose verdicts end when the unit of work commits."""
_ISSUED = "employment_code_issued"
"""session.info key: verdicts of codes issued in the unit of work, cached when it commits."""

# Redis time in microseconds, as a decimal string (exact in Lua's doubles until year 2255).
_NOW = "local t = redis.call('TIME')\nlocal now = t[1] .. string.format('%06d', tonumber(t[2]))\n"

_LOOKUP = LimitScript("""
local code, stream = KEYS[kb + 1], KEYS[kb + 2]
local sub, day, in_time = ARGV[ab + 1], ARGV[ab + 2], ARGV[ab + 3]
local v = redis.call('HMGET', code, 'sub', 'day', 'cid', 'rid', 'x', 'at')
if v[1] == sub and v[2] == day then
  local changed = redis.call('GET', ARGV[ab + 4] .. v[4])
  if not changed or tonumber(changed) < tonumber(v[6]) then
    local entry = {'v', ARGV[ab + 5], 'c', v[3], 'r', v[4]}
    if in_time == '1' and v[5] ~= '' then
      entry[7] = 'x'
      entry[8] = v[5]
    end
    redis.call('XADD', stream, '*', unpack(entry))
    return {over, {v[3], v[4], v[5]}}
  end
end
""" + _NOW + "return {over, now}\n")
"""Hit: appends the scan with the entry's code, holder and refusal (applied only to an
in-time scan) and returns them. Miss: returns the Redis time, the token for `fill`."""

_FILL = """
local changed = redis.call('GET', ARGV[1] .. ARGV[3])
if changed and tonumber(changed) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'sub', ARGV[4], 'day', ARGV[5], 'cid', ARGV[6], 'rid', ARGV[3],
           'x', ARGV[7], 'at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[8])
return 1
"""
_FILL_SHA = hashlib.sha1(_FILL.encode()).hexdigest()
_MARK = _NOW + """
for i = 1, #KEYS do redis.call('SET', KEYS[i], now, 'EX', ARGV[1]) end
return #KEYS
"""


@dataclass(frozen=True)
class Verdict:
    """What the database says about scanning one code in its lifetime: its row id, its
    holder, and the scan detail when it is refused (`revoked_<reason>`), else ''."""

    code_id: int
    resident_id: int
    refused: str


class VerdictCache:
    """Per-code verdicts in Redis, valid for `seconds` at most (0: off)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def lookup(
        self,
        conn: redis.Redis,
        limit: WindowLimit,
        identity: str,
        *,
        jti: str,
        sub: str,
        today: date,
        in_time: bool,
        scan: str,
    ) -> Verdict | str:
        """Count `identity`'s limit and, on a hit, append `scan` (the encoded scan without
        code, holder or refusal) with the cached ones: one round trip. Returns the verdict,
        or on a miss the token to `fill` with (nothing appended). RateLimited, RedisError
        propagate."""
        reply = limit.run(
            conn, identity, _LOOKUP, [self._key(jti), _stream()],
            [sub, today.isoformat(), "1" if in_time else "0", HOLDER_PREFIX, scan],
        )
        if isinstance(reply, list):
            code_id, resident_id, refused = reply
            return Verdict(int(code_id), int(resident_id), _text(refused))
        return _text(reply)

    def fill(
        self,
        conn: redis.Redis,
        token: str,
        *,
        jti: str,
        sub: str,
        today: date,
        verdict: Verdict | None,
        append: tuple[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Store `verdict` (None: nothing to store) unless the holder changed since `token`,
        and append the complete scan (stream, fields), in one round trip."""
        pipe = conn.pipeline(transaction=False)
        fill: list[Any] = []
        if verdict is not None and self.seconds:
            fill = [1, self._key(jti), HOLDER_PREFIX, token, verdict.resident_id, sub,
                    today.isoformat(), verdict.code_id, verdict.refused, self.seconds]
            pipe.evalsha(_FILL_SHA, *fill)
        if append is not None:
            pipe.xadd(append[0], dict(append[1]))
        try:
            pipe.execute()
        except redis.exceptions.NoScriptError:  # the XADD went through; only the fill failed
            conn.eval(_FILL, *fill)

    @staticmethod
    def _key(jti: str) -> str:
        return f"{PREFIX}:{jti}"


def _stream() -> str:
    from .scan_log import STREAM  # scan_log builds on this module

    return STREAM


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# ---- invalidation ----------------------------------------------------------------------------


def holder_changed(session: Session, resident_id: int) -> None:
    """The holder's verdicts end when `session` commits (nothing happens on rollback)."""
    session.info.setdefault(_PENDING, set()).add(resident_id)


def token(session: Session) -> str | None:
    """The Redis time now, for `issued` (None without Redis): take it before reading the
    facts a verdict is judged from."""
    conn = session.info.get("redis")
    if conn is None:
        return None
    try:
        seconds, micros = conn.time()
    except redis.RedisError:
        return None
    return f"{seconds}{micros:06d}"


def issued(
    session: Session, token: str | None, *, jti: str, sub: str, verdict: Verdict,
    today: date, seconds: int,
) -> None:
    """Cache a code issued in `session` when it commits, so its first scan is a hit; dropped
    if its holder changes after `token` (this issue's own revocations included)."""
    if token is not None and seconds:
        session.info.setdefault(_ISSUED, []).append(
            (VerdictCache(seconds), token, jti, sub, verdict, today))


def mark_holders(conn: redis.Redis, resident_ids: set[int]) -> None:
    """End these holders' cached verdicts now (in chunks: an import may change thousands)."""
    keys = [f"{HOLDER_PREFIX}{r}" for r in sorted(resident_ids)]
    for start in range(0, len(keys), _MARK_CHUNK):
        chunk = keys[start:start + _MARK_CHUNK]
        conn.eval(_MARK, len(chunk), *chunk, MARK_SECONDS)


@event.listens_for(Session, "after_flush")
def _changes(session: Session, _context: Any) -> None:
    """ORM writes that can change a verdict: a code changed or deleted, a resident's facts
    changed, a resident deleted."""
    for obj in session.dirty:
        if isinstance(obj, IssuedCodeRecord) and session.is_modified(obj):
            holder_changed(session, obj.resident_id)
        elif isinstance(obj, Resident):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in FACT_NAMES):
                holder_changed(session, obj.id)
    for obj in session.deleted:
        if isinstance(obj, IssuedCodeRecord):
            holder_changed(session, obj.resident_id)
        elif isinstance(obj, Resident):
            holder_changed(session, obj.id)


@event.listens_for(Session, "after_commit")
def _send(session: Session) -> None:
    holders = session.info.pop(_PENDING, None)
    fills = session.info.pop(_ISSUED, None)
    conn = session.info.get("redis")
    if conn is None:
        return
    try:
        if holders:
            mark_holders(conn, holders)
        for verdicts, token_, jti, sub, verdict, today in fills or ():
            verdicts.fill(conn, token_, jti=jti, sub=sub, today=today, verdict=verdict)
    except redis.RedisError as exc:
        log.warning("employment-code verdicts not invalidated (%s): they end within "
                    "EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS", type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_ISSUED, None)

