"""Storage around the credential: issued codes, revocations and the scan log.

Every code gets a fresh random subject (`sub`) as well as its `jti`, so two scans of the
same person cannot be linked by a verifier; only this table maps a code to its holder.

Revocation ("a status change or the holder's request revokes older codes"):
* issuing a code whose status differs from the holder's live codes revokes those codes;
* the holder may revoke all their live codes;
* on-line verification re-derives the holder's status from their current facts, so a
  facts update (by any component) revokes codes carrying the old status at the next scan;
  `revoke_if_status_changed` does the same eagerly for callers that change facts.
Revocations are rows (`revoked_at`), so offline verifiers can download them by time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from huimin.employment_code.models import IssuedCodeRecord, ScanRecord
from huimin.platform.db import Database, utcnow
from huimin.platform.settings import load_settings
from huimin.residents import FACT_NAMES
from huimin.residents.models import Resident

from . import cache
from .codes import (
    CodeClaims,
    EmploymentCodes,
    IssuedCode,
    Verification,
    new_subject_id,
)
from .status import InsufficientFactsError, Status, derive_status

STATUS_CHANGE = "status_change"
HOLDER_REQUEST = "holder_request"

PUBLIC = "public"
VERIFIER = "verifier"


class HolderNotFoundError(LookupError):
    """No resident with that id (e.g. deleted since the citizen signed in)."""


@dataclass(frozen=True)
class Verifier:
    """Who is scanning: `public` (anyone, anonymous) or a signed-in `verifier` account."""

    kind: str = PUBLIC
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class CodeRow:
    """An issued code as the scan path reads it: plain columns, no ORM object to build."""

    id: int
    resident_id: int
    subject: str
    status: str
    revoked_at: datetime | None
    revoke_reason: str | None


@dataclass
class Scan:
    """One scan, as logged (the columns of `ScanRecord`): a plain object, so the scan path
    builds no ORM instance when the scan goes onto the stream (`scan_log.record`). `id` is
    set once it is written to the database."""

    scanned_at: datetime
    code_id: int | None
    resident_id: int | None
    reason: str
    detail: str
    verifier_kind: str
    verifier_id: str | None = None
    verifier_name: str | None = None
    disclosed: bool = False
    id: int | None = None

    def row(self) -> ScanRecord:
        """The table row for this scan (unsaved)."""
        return ScanRecord(
            scanned_at=self.scanned_at, code_id=self.code_id, resident_id=self.resident_id,
            reason=self.reason, detail=self.detail, verifier_kind=self.verifier_kind,
            verifier_id=self.verifier_id, verifier_name=self.verifier_name,
            disclosed=self.disclosed,
        )

    def save(self, session: Session) -> None:
        """Write this scan into `session` now and set `id` (the direct path, without the
        stream: Redis down, or a caller that logs in its own unit of work)."""
        row = self.row()
        session.add(row)
        session.flush()
        self.id = row.id


@dataclass(frozen=True)
class ScanOutcome:
    verification: Verification
    scan: Scan
    record: CodeRow | None
    """The issued code the scan was attributed to (signature good and jti known)."""


# The scan path's reads, built once (building a statement per scan cost more than running
# it on SQLite) and run on the session's connection, without the ORM's identity map.
_CODES = IssuedCodeRecord.__table__
_RESIDENTS = Resident.__table__
_CODE_COLUMNS = (_CODES.c.id, _CODES.c.resident_id, _CODES.c.subject, _CODES.c.status,
                 _CODES.c.revoked_at, _CODES.c.revoke_reason)
_CODE_BY_JTI = select(*_CODE_COLUMNS).where(_CODES.c.jti == bindparam("jti"))
_CODE_AND_FACTS_BY_JTI = (
    select(*_CODE_COLUMNS, *(_RESIDENTS.c[name] for name in FACT_NAMES))
    .join_from(_CODES, _RESIDENTS, _RESIDENTS.c.id == _CODES.c.resident_id)
    .where(_CODES.c.jti == bindparam("jti"))
)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def resident_facts(resident: Resident) -> dict[str, Any]:
    return {name: getattr(resident, name) for name in FACT_NAMES}


def holder_status(session: Session, resident_id: int, *, today: date | None = None) -> Status:
    """The holder's status from their current facts (InsufficientFactsError if unknown)."""
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise HolderNotFoundError(f"resident {resident_id} not found")
    return derive_status(resident_facts(resident), today=today)


def live_codes(session: Session, resident_id: int, now: datetime) -> Sequence[IssuedCodeRecord]:
    """The holder's codes that are neither revoked nor expired."""
    return session.scalars(
        select(IssuedCodeRecord).where(
            IssuedCodeRecord.resident_id == resident_id,
            IssuedCodeRecord.revoked_at.is_(None),
            IssuedCodeRecord.expires_at > now,
        )
    ).all()


def revoke_codes(
    session: Session,
    resident_id: int,
    reason: str,
    *,
    now: datetime | None = None,
    unless_status: Status | None = None,
    leeway_seconds: int | None = None,
) -> int:
    """Revoke the holder's codes that a verifier would still accept (all, or those whose
    status is not `unless_status`): verifiers allow clock skew past `exp`, so a code that
    expired less than the leeway ago is revoked too (default: EMPLOYMENT_CODE_LEEWAY_SECONDS,
    the verifiers' own setting)."""
    now = now or utcnow()
    if leeway_seconds is None:
        leeway_seconds = load_settings().employment_code.leeway_seconds
    query = update(IssuedCodeRecord).where(
        IssuedCodeRecord.resident_id == resident_id,
        IssuedCodeRecord.revoked_at.is_(None),
        IssuedCodeRecord.expires_at > now - timedelta(seconds=leeway_seconds),
    )
    if unless_status is not None:
        query = query.where(IssuedCodeRecord.status != unless_status.value)
    result = session.execute(
        query.values(revoked_at=now, revoke_reason=reason).execution_options(
            synchronize_session="fetch"
        )
    )
    count = result.rowcount or 0
    if count:
        cache.holder_changed(session, resident_id)  # a bulk UPDATE: the flush listener misses it
    return count


def revoke_if_status_changed(
    session: Session, resident_id: int, *, now: datetime | None = None, today: date | None = None
) -> int:
    """Call after changing a resident's facts: revokes live codes with a stale status."""
    try:
        status: Status | None = holder_status(session, resident_id, today=today)
    except (InsufficientFactsError, ValueError):
        status = None  # no status can be derived any more: no code is right
    if status is None:
        return revoke_codes(session, resident_id, STATUS_CHANGE, now=now)
    return revoke_codes(session, resident_id, STATUS_CHANGE, now=now, unless_status=status)


def issue_code(
    session: Session,
    codes: EmploymentCodes,
    resident_id: int,
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> IssuedCode:
    """Sign a fresh code with the holder's status derived now, store it, and revoke live
    codes that carry another status. Raises HolderNotFoundError, InsufficientFactsError."""
    now = now or utcnow()
    fill_token = cache.token(session)  # before the facts are read
    status = holder_status(session, resident_id, today=today)
    revoke_codes(session, resident_id, STATUS_CHANGE, now=now, unless_status=status)
    issued = codes.issue(new_subject_id(), status, now=now)
    record = IssuedCodeRecord(
        jti=issued.jti,
        subject=issued.subject,
        resident_id=resident_id,
        status=issued.status.value,
        kid=issued.kid,
        code=issued.code,
        issued_at=issued.issued_at,
        expires_at=issued.expires_at,
    )
    session.add(record)
    session.flush()
    cache.issued(session, fill_token, jti=issued.jti, sub=issued.subject,
                 verdict=cache.Verdict(record.id, resident_id, ""), today=today or date.today(),
                 seconds=load_settings().employment_code.verify_cache_seconds)
    return issued


def find_code(session: Session, jti: str) -> IssuedCodeRecord | None:
    return session.scalar(select(IssuedCodeRecord).where(IssuedCodeRecord.jti == jti))


def displayable_code(
    session: Session, jti: str, *, now: datetime | None = None
) -> IssuedCodeRecord | None:
    """The code behind a QR image URL, if it may still be shown (live, not revoked)."""
    record = find_code(session, jti)
    if record is None or record.revoked_at is not None:
        return None
    return record if as_utc(record.expires_at) > (now or utcnow()) else None


Read = Callable[[Executable, Mapping[str, Any]], Row[Any] | None]
"""Runs one SELECT and returns its first row: `Database.read_one`, or a session's."""


def _session_read(session: Session) -> Read:
    return lambda statement, params: session.connection().execute(statement, params).first()


def _code_row(read: Read, jti: str) -> CodeRow | None:
    row = read(_CODE_BY_JTI, {"jti": jti})
    return CodeRow(*row) if row is not None else None


def _code_and_facts(read: Read, jti: str) -> tuple[CodeRow, dict[str, Any]] | None:
    """The issued code and its holder's facts in one indexed read: the hot path of every
    scan, so no second round trip for the resident."""
    row = read(_CODE_AND_FACTS_BY_JTI, {"jti": jti})
    if row is None:
        return None
    n = len(_CODE_COLUMNS)
    return CodeRow(*row[:n]), dict(zip(FACT_NAMES, row[n:], strict=True))


def _status_is_current(record: CodeRow, facts: dict[str, Any], today: date | None) -> bool:
    try:
        return derive_status(facts, today=today).value == record.status
    except (InsufficientFactsError, ValueError):
        return False  # no status can be derived any more: no code is right


def _revoke_stale(
    session: Session | None,
    reads: Database | None,
    record: CodeRow,
    jti: str,
    now: datetime,
    today: date | None,
) -> CodeRow:
    """Revoke the holder's codes with a stale status; the code as it is now, read back in
    the unit of work that revoked it (not committed yet when it is the caller's)."""
    if session is None:
        assert reads is not None  # verify_code checked
        with reads.session() as own:
            revoke_if_status_changed(own, record.resident_id, now=now, today=today)
            return _code_row(_session_read(own), jti) or record
    revoke_if_status_changed(session, record.resident_id, now=now, today=today)
    return _code_row(_session_read(session), jti) or record


def verify_code(
    session: Session | None,
    codes: EmploymentCodes,
    code: str,
    verifier: Verifier,
    *,
    now: datetime | None = None,
    today: date | None = None,
    log: bool = True,
    reads: Database | None = None,
) -> ScanOutcome:
    """Verify a scanned code against our keys and storage, and log the scan.

    Beyond the signature and times: the jti must be one we issued to that subject, not
    revoked, and the holder's current status must still be the code's (else the live
    codes are revoked now, as a status change, so offline verifiers learn it too).

    A scan of a current code only reads (one SELECT); it writes only when a stale status
    must be revoked. With `log=False` the scan is returned unsaved, for the caller to
    hand to `scan_log.record` once it is complete (e.g. `disclosed` set).

    `reads`: run the SELECTs on that database's `read_one` (committed data, no unit of
    work) rather than in `session`: the public scan's path. With `session` None too, a
    stale status is revoked in a unit of work of its own, committed at once.
    """
    now = now or utcnow()
    seen: dict[str, Any] = {}
    if session is None and (reads is None or log):
        raise ValueError("verify_code: without a session, give `reads` and log=False")
    read = reads.read_one if reads is not None else _session_read(session)

    def is_revoked(claims: CodeClaims) -> bool:
        found = _code_and_facts(read, claims.jti)
        if found is None or found[0].subject != claims.sub:
            seen["detail"] = "unknown_code"
            return True
        record, facts = found
        if record.revoked_at is None and not _status_is_current(record, facts, today):
            record = _revoke_stale(session, reads, record, claims.jti, now, today)
        seen["record"] = record
        if record.revoked_at is not None:
            seen["detail"] = f"revoked_{record.revoke_reason}"
            return True
        return False

    verification = codes.verify(code, now=now, is_revoked=is_revoked)
    record: CodeRow | None = seen.get("record")
    if record is None and verification.claims is not None and "detail" not in seen:
        found = _code_row(read, verification.claims.jti)  # expired: still the holder's scan
        if found is not None and found.subject == verification.claims.sub:
            record = found
    scan = scan_of(verification, record, verifier, now, seen.get("detail"))
    if log and session is not None:
        scan.save(session)
    return ScanOutcome(verification, scan, record)


def scan_of(
    verification: Verification,
    record: CodeRow | None,
    verifier: Verifier,
    now: datetime,
    detail: str | None = None,
) -> Scan:
    """The scan-log entry of one verification (unsaved), attributed to `record`."""
    return Scan(
        scanned_at=now,
        code_id=record.id if record else None,
        resident_id=record.resident_id if record else None,
        reason=verification.reason.value,
        detail=str(detail or verification.detail)[:32],
        verifier_kind=verifier.kind,
        verifier_id=verifier.id,
        verifier_name=verifier.name,
        disclosed=False,
    )


def holder_scans(session: Session, resident_id: int, *, limit: int = 50) -> Sequence[ScanRecord]:
    """Who scanned this holder's codes, newest first."""
    return session.scalars(
        select(ScanRecord)
        .where(ScanRecord.resident_id == resident_id)
        .order_by(ScanRecord.scanned_at.desc(), ScanRecord.id.desc())
        .limit(limit)
    ).all()


def revoked_since(
    session: Session, since: datetime, *, now: datetime | None = None, leeway_seconds: int = 0
) -> Sequence[IssuedCodeRecord]:
    """Codes revoked at or after `since` that could still pass an expiry check, oldest
    revocation first. Expired codes are left out: every verifier rejects those anyway."""
    now = now or utcnow()
    return session.scalars(
        select(IssuedCodeRecord)
        .where(
            IssuedCodeRecord.revoked_at.is_not(None),
            IssuedCodeRecord.revoked_at >= since,
            IssuedCodeRecord.expires_at > now - timedelta(seconds=leeway_seconds),
        )
        .order_by(IssuedCodeRecord.revoked_at, IssuedCodeRecord.id)
    ).all()
