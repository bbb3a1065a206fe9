"""The public scan (anyone, anonymous or a citizen): verified and logged in one Redis round
trip when the code's verdict is cached (`cache`), with the database read on a miss.

1. The signature and times are checked here (no I/O).
2. A code that is not ours or not well-formed needs no database: its scan is appended with
   the limit counted (`scan_log.enqueue`), as before.
3. A signed code: one script counts the limit, reads the verdict and, on a hit, appends the
   scan. On a miss, `store.verify_code` reads the database (and revokes a stale status), and
   one pipeline fills the verdict and appends the scan.
4. Redis down: the database path, the limit counted in the process, the scan written to the
   database directly.
"""

from __future__ import annotations

from datetime import date, datetime

import redis

from huimin.platform.db import Database, utcnow
from huimin.platform.ratelimit import WindowLimit

from . import scan_log, store
from .cache import Verdict, VerdictCache
from .codes import EmploymentCodes, Reason, Verification


def verify_public(
    db: Database,
    conn: redis.Redis,
    cache: VerdictCache,
    codes: EmploymentCodes,
    code: str,
    verifier: store.Verifier,
    *,
    limit: WindowLimit,
    identity: str,
    now: datetime | None = None,
    today: date | None = None,
) -> Verification:
    """Verify and log one public scan; RateLimited when `identity` is over `limit` (then
    nothing is logged)."""
    now = now or utcnow()
    today = today or date.today()  # what derive_status judges by
    if not cache.seconds:  # cache off: the database path, the limit counted with the append
        outcome = store.verify_code(None, codes, code, verifier, log=False, reads=db,
                                    now=now, today=today)
        _log(db, conn, outcome.scan, limit, identity)
        return outcome.verification
    first = codes.verify(code, now=now)  # revocation and status: below
    claims = first.claims
    if claims is None:
        scan = store.scan_of(first, None, verifier, now)
        _log(db, conn, scan, limit, identity)
        return first
    base = store.scan_of(first, None, verifier, now)
    try:
        found = cache.lookup(
            conn, limit, identity, jti=claims.jti, sub=claims.sub, today=today,
            in_time=first.valid, scan=scan_log.encode(base),
        )
    except redis.RedisError:
        return _without_redis(db, codes, code, verifier, limit, identity, now, today)
    if isinstance(found, Verdict):
        if first.valid and found.refused:
            return Verification(False, Reason.REVOKED, "revoked", claims, first.kid)
        return first
    outcome = store.verify_code(None, codes, code, verifier, log=False, reads=db, now=now,
                                today=today)  # checks the signature again (about 0.15 ms)
    record = outcome.record
    verdict = None
    if first.valid and record is not None:  # only an in-time scan judged revocation
        refused = outcome.scan.detail if outcome.scan.reason == Reason.REVOKED.value else ""
        verdict = Verdict(record.id, record.resident_id, refused)
    try:
        cache.fill(conn, found, jti=claims.jti, sub=claims.sub, today=today, verdict=verdict,
                   append=(scan_log.STREAM, {"v": scan_log.encode(outcome.scan)}))
    except redis.RedisError:
        _save(db, outcome.scan)
    return outcome.verification


def _log(db: Database, conn: redis.Redis, scan: store.Scan, limit: WindowLimit,
         identity: str) -> None:
    if not scan_log.enqueue(conn, scan, limit=(limit, identity)):
        _save(db, scan)


def _without_redis(
    db: Database, codes: EmploymentCodes, code: str, verifier: store.Verifier,
    limit: WindowLimit, identity: str, now: datetime, today: date,
) -> Verification:
    limit.hit_locally(identity)
    outcome = store.verify_code(None, codes, code, verifier, log=False, reads=db, now=now,
                                today=today)
    _save(db, outcome.scan)
    return outcome.verification


def _save(db: Database, scan: store.Scan) -> None:
    with db.session() as session:
        scan.save(session)

