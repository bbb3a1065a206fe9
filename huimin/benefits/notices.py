"""The notice lifecycle: matched -> notified -> confirmed | declined | expired -> granted.

Every change goes through these functions so the allowed moves live in one place. The
resident's answers are idempotent (confirming twice keeps the first time and channel) and
audited with the actor, so a confirmation given by a grid worker can be traced.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from huimin.benefits.models import (
    CONFIRMED,
    DECLINED,
    EXPIRED,
    GRANTED,
    GRID_WORKER,
    MATCHED,
    NOTIFIED,
    OPEN,
    BenefitNotice,
)
from huimin.platform.db import utcnow
from huimin.privacy import audit
from huimin.privacy.consent import CHANNELS
from huimin.residents.models import Resident

TRANSITIONS: dict[str, frozenset[str]] = {
    MATCHED: frozenset({NOTIFIED, CONFIRMED, DECLINED, EXPIRED}),
    NOTIFIED: frozenset({CONFIRMED, DECLINED, EXPIRED}),
    CONFIRMED: frozenset({GRANTED}),
    DECLINED: frozenset(),
    EXPIRED: frozenset(),
    GRANTED: frozenset(),
}

# Why a notice expired.
TIMED_OUT = "timed_out"  # no answer within the validity period
NO_LONGER_ELIGIBLE = "no_longer_eligible"  # the resident's facts or the rule changed
SUPERSEDED = "superseded"  # a newer rule version made a new notice


class NoticeError(Exception):
    """A move the lifecycle does not allow; `code` is stable, the message plain English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _move(notice: BenefitNotice, to: str) -> None:
    if to not in TRANSITIONS[notice.status]:
        raise NoticeError("bad_transition", f"notice {notice.id}: cannot go from {notice.status} "
                          f"to {to}")
    notice.status = to


def expire(notice: BenefitNotice, reason: str, now: datetime | None = None) -> None:
    _move(notice, EXPIRED)
    notice.expired_at = now or utcnow()
    notice.expire_reason = reason


def mark_notified(notice: BenefitNotice, delivery: str, now: datetime | None = None) -> None:
    """The message reached the resident's WeChat (a later answer keeps its status)."""
    notice.delivery = delivery
    notice.push_started_at = None
    if notice.status == MATCHED:
        _move(notice, NOTIFIED)
        notice.notified_at = now or utcnow()


def _answerable(notice: BenefitNotice, now: datetime) -> None:
    """Refuse answers to notices that are closed; expire an overdue one first."""
    if notice.status in OPEN and aware(notice.expires_at) <= now:
        expire(notice, TIMED_OUT, now)
    if notice.status == EXPIRED:
        raise NoticeError("notice_expired", f"notice {notice.id} has expired")


def _answer(
    session: Session,
    notice: BenefitNotice,
    to: str,
    channel: str,
    actor: str,
    staff_id: int | None,
    consent_id: int | None,
) -> bool:
    if channel not in CHANNELS:
        raise NoticeError("bad_channel", f"unknown channel {channel!r}; use {', '.join(CHANNELS)}")
    now = utcnow()
    _answerable(notice, now)
    _move(notice, to)
    if to == CONFIRMED:
        notice.confirmed_at = now
    else:
        notice.declined_at = now
    notice.response_channel = channel
    notice.responded_by = staff_id
    notice.consent_id = consent_id
    action = "benefit.confirm" if to == CONFIRMED else "benefit.decline"
    audit.record(session, actor, action, f"resident:{notice.resident_id}", audit.OK,
                 detail={"notice": notice.id, "policy": notice.policy, "channel": channel,
                         "consent": consent_id})
    session.flush()
    return True


def confirm(
    session: Session,
    notice: BenefitNotice,
    channel: str,
    actor: str,
    *,
    staff_id: int | None = None,
    consent_id: int | None = None,
) -> bool:
    """One-tap confirmation (免申即享). Returns False when it was confirmed already."""
    if notice.status in (CONFIRMED, GRANTED):
        return False
    if notice.status == DECLINED:
        raise NoticeError("notice_declined", f"notice {notice.id} was declined")
    return _answer(session, notice, CONFIRMED, channel, actor, staff_id, consent_id)


def decline(
    session: Session,
    notice: BenefitNotice,
    channel: str,
    actor: str,
    *,
    staff_id: int | None = None,
    consent_id: int | None = None,
) -> bool:
    """The resident does not want it. Returns False when it was declined already."""
    if notice.status == DECLINED:
        return False
    if notice.status in (CONFIRMED, GRANTED):
        raise NoticeError("notice_confirmed", f"notice {notice.id} was confirmed already")
    return _answer(session, notice, DECLINED, channel, actor, staff_id, consent_id)


def grant(session: Session, notice: BenefitNotice, staff_id: int | None, actor: str) -> bool:
    """The benefit was paid or granted (recorded by staff or the bureau's system)."""
    if notice.status == GRANTED:
        return False
    if notice.status != CONFIRMED:
        raise NoticeError("not_confirmed", f"notice {notice.id} is {notice.status}, "
                          "only a confirmed notice can be granted")
    _move(notice, GRANTED)
    notice.granted_at = utcnow()
    notice.granted_by = staff_id
    audit.record(session, actor, "benefit.grant", f"resident:{notice.resident_id}", audit.OK,
                 detail={"notice": notice.id, "policy": notice.policy})
    session.flush()
    return True


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    """Close every open notice whose validity has run out; returns how many."""
    now = now or utcnow()
    result = session.execute(
        update(BenefitNotice)
        .where(BenefitNotice.status.in_(OPEN), BenefitNotice.expires_at <= now)
        .values(status=EXPIRED, expired_at=now, expire_reason=TIMED_OUT, updated_at=now)
    )
    return int(result.rowcount or 0)


def for_resident(resident_id: int, statuses: Collection[str] | None = None) -> Select:
    """A resident's notices, newest first."""
    query = select(BenefitNotice).where(BenefitNotice.resident_id == resident_id)
    if statuses:
        query = query.where(BenefitNotice.status.in_(list(statuses)))
    return query.order_by(BenefitNotice.matched_at.desc(), BenefitNotice.id.desc())


def worklist(grid_ids: Collection[str]) -> Select:
    """Open notices that no WeChat message could carry, for the grid workers of these grids:
    (notice, resident) rows, oldest first."""
    return (
        select(BenefitNotice, Resident)
        .join(Resident, Resident.id == BenefitNotice.resident_id)
        .where(
            BenefitNotice.delivery == GRID_WORKER,
            BenefitNotice.status.in_(OPEN),
            Resident.grid_id.in_(list(grid_ids)),
        )
        .order_by(BenefitNotice.matched_at, BenefitNotice.id)
    )
