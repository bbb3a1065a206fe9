"""The scan log's write path: a Redis stream in front of `employment_code_scans`.

Every verification is logged, but a row insert and a commit per scan made the public
verify endpoint a write-bound one (and on SQLite, serialised across web workers). So a
scan is appended to a Redis stream (one XADD) and `flush` writes the stream to the
database in batches; the worker runs it every half minute (`jobs/employment_code.py`) and
the holder's "who scanned me" page runs it before reading, so the holder never misses one.

Nothing is lost: entries leave the stream only after their batch is committed, so a worker
that is down or dies mid-batch leaves them for the next flush; and when Redis cannot take
the entry, the scan is written to the database directly, in the request's own unit of work.
A flush that dies between its commit and the XDEL writes that batch again on the next run
(at-least-once), which only a crash in that instant can cause.

A rate-limited caller (the public verify endpoint) passes its limit to `record`: the
windows are counted and the scan appended in one Redis round trip, and a scan over the
limit is not logged (it is refused, as it was when the limit ran before the scan).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from huimin.platform.db import Database
from huimin.platform.ratelimit import WindowLimit
from huimin.residents.models import Resident

from .codes import Reason
from .models import IssuedCodeRecord, ScanRecord
from .store import Scan

log = logging.getLogger(__name__)

STREAM = "employment_code:scan_log"
LOCK = "employment_code:scan_log:flush"
BATCH = 1000
LOCK_MS = 60_000
"""One flusher at a time (two would write a batch twice); expires if the flusher dies."""

_COLUMNS = (
    "code_id", "resident_id", "reason", "detail", "verifier_kind", "verifier_id",
    "verifier_name", "disclosed",
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def record(session: Session, conn: redis.Redis | None, scan: Scan) -> bool:
    """Log one (complete, unsaved) scan: onto the stream, or, if Redis cannot take it (or
    `conn` is None), into `session` directly. Returns True when it was queued."""
    if conn is not None and enqueue(conn, scan):
        return True
    scan.save(session)
    return False


def enqueue(
    conn: redis.Redis, scan: Scan, *, limit: tuple[WindowLimit, str] | None = None
) -> bool:
    """Put one complete scan on the stream; False when Redis cannot take it, and then the
    caller must `Scan.save` it. `limit` (the limit, the caller's identity) is counted in the
    same round trip as the XADD, or in this process when Redis is down; over it,
    RateLimited is raised and the scan is not logged (it was refused, not answered)."""
    try:
        if limit is None:
            conn.xadd(STREAM, {"v": encode(scan)})
        else:
            limit[0].hit(conn, limit[1], append=(STREAM, {"v": encode(scan)}))
        return True
    except redis.RedisError as exc:
        log.warning("scan log stream unavailable (%s): writing the scan directly",
                    type(exc).__name__)
    if limit is not None:
        limit[0].hit_locally(limit[1])
    return False


def pending(conn: redis.Redis) -> int:
    """Scans waiting on the stream."""
    return int(conn.xlen(STREAM))


def flush(db: Database, conn: redis.Redis, *, batch: int = BATCH) -> int:
    """Write queued scans to the database, oldest first, `batch` rows per transaction.
    Returns how many were written (0 when another flusher holds the lock)."""
    token = secrets.token_hex(8)
    if not conn.set(LOCK, token, nx=True, px=LOCK_MS):
        return 0
    written = 0
    try:
        while entries := conn.xrange(STREAM, count=batch):
            rows = [_decode(fields) for _, fields in entries]
            with db.session() as session:
                _drop_dangling(session, rows)
                if rows:
                    session.execute(insert(ScanRecord), rows)
            conn.xdel(STREAM, *[entry_id for entry_id, _ in entries])
            conn.pexpire(LOCK, LOCK_MS)
            written += len(entries)
    finally:
        conn.eval(_RELEASE, 1, LOCK, token)
    if written:
        log.info("scan log: %d scans written", written)
    return written


def encode(scan: Scan) -> str:
    """A scan as the stream's `v` field."""
    values: dict[str, Any] = {name: getattr(scan, name) for name in _COLUMNS}
    values["scanned_at"] = scan.scanned_at.isoformat()
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def verdict_fields(code_id: int, resident_id: int, refused: str) -> dict[str, Any]:
    """What a cached verdict sets in a scan (`cache.VerdictCache.lookup` appends the scan
    with them as stream fields `c`, `r` and, for a refused in-time scan, `x`)."""
    values: dict[str, Any] = {"code_id": code_id, "resident_id": resident_id}
    if refused:
        values.update(reason=Reason.REVOKED.value, detail=refused)
    return values


def _decode(fields: Mapping[bytes | str, bytes | str]) -> dict[str, Any]:
    got = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
    values = json.loads(got["v"])
    if "c" in got:
        refused = got.get("x", b"")
        values.update(verdict_fields(
            int(got["c"]), int(got["r"]),
            refused.decode() if isinstance(refused, bytes) else refused))
    values["scanned_at"] = datetime.fromisoformat(values["scanned_at"])
    values["disclosed"] = bool(values.get("disclosed"))
    return values


def _drop_dangling(session: Session, rows: list[dict[str, Any]]) -> None:
    """Apply the foreign keys' ON DELETE rules to rows queued before a delete: a deleted
    code's scans keep no code (SET NULL), a deleted resident's scans go (CASCADE)."""
    code_ids = {r["code_id"] for r in rows if r["code_id"] is not None}
    resident_ids = {r["resident_id"] for r in rows if r["resident_id"] is not None}
    codes = set(session.scalars(
        select(IssuedCodeRecord.id).where(IssuedCodeRecord.id.in_(code_ids)))) if code_ids \
        else set()
    residents = set(session.scalars(
        select(Resident.id).where(Resident.id.in_(resident_ids)))) if resident_ids else set()
    rows[:] = [r for r in rows if r["resident_id"] is None or r["resident_id"] in residents]
    for r in rows:
        if r["code_id"] is not None and r["code_id"] not in codes:
            r["code_id"] = None
