"""Audit log: every staff action and every access to a resident's personal data.

Append-only and tamper-evident: entry *n* stores the hash of entry *n-1* and a SHA-256 hash over
its own content, so editing, deleting or inserting a row anywhere breaks the chain, which
``verify_chain`` (and ``flask audit verify``) reports. A one-row ``audit_head`` table holds the
newest sequence number and hash; updating it first serialises writers (a row lock on
PostgreSQL, the write lock on SQLite), so two transactions cannot fork the chain, and it lets
``verify_chain`` notice entries cut off the end.

Entries are kept at least ``MIN_RETENTION_DAYS`` (six months, as the Cybersecurity Law requires
for logs); there is no API to delete them, only ``purge_older_than`` for the CLI, which records
where the chain was cut so the remaining part still verifies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from huimin.platform.db import utcnow
from huimin.privacy.masking import mask_value
from huimin.privacy.models import GENESIS, AuditEntry, AuditHead

MIN_RETENTION_DAYS = 183
OK, DENIED, FAILED = "ok", "denied", "failed"


def _utc_text(value: datetime) -> str:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    result: str,
    ip: str | None,
    detail: dict | None,
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON rendering of the entry's content and its predecessor."""
    content = {
        "seq": seq,
        "at": _utc_text(at),
        "actor": actor,
        "action": action,
        "target": target,
        "result": result,
        "ip": ip,
        "detail": detail,
        "prev": prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json_safe(detail: dict[str, Any] | None) -> dict | None:
    if detail is None:
        return None
    # Round-trip so the hashed form is exactly what the JSON column gives back.
    return json.loads(json.dumps(mask_value(detail), ensure_ascii=False, default=str))


def _claim_next(session: Session) -> tuple[int, str]:
    """Bump the head (locking it until commit) and return (new seq, previous hash)."""
    for _ in range(2):
        row = session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.last_hash)
        ).one_or_none()
        if row is not None:
            return int(row[0]), str(row[1])
        session.add(AuditHead(id=1, seq=0, last_hash=GENESIS))
        session.flush()
    raise RuntimeError("audit_head row could not be created")


def record(
    session: Session,
    actor: str,
    action: str,
    target: str,
    result: str,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction (it commits or rolls back with the action).

    ``detail`` is masked (ID and phone numbers) before it is stored: the audit log must not
    become a second copy of the personal data it protects.
    """
    seq, prev_hash = _claim_next(session)
    at = utcnow()
    safe_detail = _json_safe(detail)
    digest = entry_hash(
        seq=seq, at=at, actor=actor, action=action, target=target, result=result, ip=ip,
        detail=safe_detail, prev_hash=prev_hash,
    )
    entry = AuditEntry(
        seq=seq, at=at, actor=actor, action=action, target=target, result=result, ip=ip,
        detail=safe_detail, prev_hash=prev_hash, hash=digest,
    )
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"entry seq {self.seq}" if self.seq is not None else "audit_head"
        return f"{where}: {self.message}"


def verify_chain(session: Session, batch: int = 1000) -> list[ChainProblem]:
    """Recompute every hash and link; an empty list means the log is intact."""
    head = session.get(AuditHead, 1)
    problems: list[ChainProblem] = []
    expected_seq = (head.purged_through_seq if head else 0) + 1
    expected_prev = head.purged_through_hash if head else GENESIS
    last_seq = 0
    offset_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > offset_seq).order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                problems.append(ChainProblem(
                    entry.seq, f"expected seq {expected_seq}: entries missing or inserted"
                ))
            if entry.prev_hash != expected_prev:
                problems.append(ChainProblem(
                    entry.seq, "prev_hash does not match the previous entry's hash"
                ))
            recomputed = entry_hash(
                seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action,
                target=entry.target, result=entry.result, ip=entry.ip, detail=entry.detail,
                prev_hash=entry.prev_hash,
            )
            if recomputed != entry.hash:
                problems.append(ChainProblem(entry.seq, "content does not match its hash"))
            expected_seq = entry.seq + 1
            expected_prev = entry.hash
            last_seq = entry.seq
        offset_seq = rows[-1].seq
    if head is not None:
        if head.seq != max(last_seq, head.purged_through_seq):
            problems.append(ChainProblem(
                None, f"head says the newest entry is seq {head.seq}, the log ends at {last_seq}"
            ))
        if head.last_hash != expected_prev:
            problems.append(ChainProblem(None, "head hash does not match the newest entry"))
    elif last_seq:
        problems.append(ChainProblem(None, "audit_head row is missing"))
    return problems


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def purge_older_than(
    session: Session, days: int, *, retention_days: int = MIN_RETENTION_DAYS
) -> int:
    """Delete entries older than ``days`` (never fewer than the retention period).

    The chain stays verifiable: the head remembers the last purged entry's seq and hash.
    """
    floor = max(retention_days, MIN_RETENTION_DAYS)
    if days < floor:
        raise ValueError(f"audit entries must be kept at least {floor} days; got {days}")
    cutoff = utcnow() - timedelta(days=days)
    last = session.scalars(
        select(AuditEntry).where(AuditEntry.at < cutoff).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    if last is None:
        return 0
    head = session.get(AuditHead, 1)
    if head is None:
        raise RuntimeError("audit_head row is missing: run `flask audit verify`")
    head.purged_through_seq = last.seq
    head.purged_through_hash = last.hash
    removed = session.execute(delete(AuditEntry).where(AuditEntry.seq <= last.seq)).rowcount
    session.flush()
    return int(removed or 0)


def entries_for_target(session: Session, target: str, limit: int = 500) -> list[AuditEntry]:
    """Newest first: who accessed this resident's data (shown to the resident in the export)."""
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.target == target)
        .order_by(AuditEntry.seq.desc()).limit(limit)
    ))
