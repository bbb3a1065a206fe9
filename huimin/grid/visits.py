"""Visit notes: a grid worker's record of going to see a resident."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huimin.grid import notify
from huimin.grid.access import GridDenied, authorize
from huimin.grid.actions import Done, record
from huimin.grid.models import VISIT_OUTCOMES, GridVisit
from huimin.platform.db import utcnow
from huimin.privacy import consent
from huimin.privacy.masking import mask_text

MAX_NOTE = 500
MAX_CLIENT_KEY = 64
NEXT_VISIT_WITHIN = timedelta(days=366)


def record_visit(
    session: Session,
    staff_id: int,
    resident_id: int,
    outcome: str,
    note: str = "",
    *,
    visited_at: datetime | None = None,
    next_visit_on: date | None = None,
    client_key: str | None = None,
    ip: str | None = None,
) -> tuple[GridVisit, Done | None]:
    """Needs a consent in force (any grid scope): a visit note is data about the resident.
    ID and phone numbers typed into the note are masked before it is stored.

    ``client_key`` is the phone's idempotency key: a note written offline may be sent again
    when the connection wavers; the same key from the same staff member returns the note
    stored the first time (no second note, audit entry or message to the resident)."""
    if client_key is not None:
        if not client_key or len(client_key) > MAX_CLIENT_KEY:
            raise GridDenied(422, "invalid_input",
                             f"Idempotency-Key 应为 1-{MAX_CLIENT_KEY} 个字符")
        earlier = _by_client_key(session, staff_id, client_key)
        if earlier is not None:
            if earlier.resident_id != resident_id:
                raise GridDenied(422, "invalid_input", "Idempotency-Key 已用于另一位居民")
            return earlier, None
    if outcome not in VISIT_OUTCOMES:
        raise GridDenied(422, "invalid_input", "走访结果不在可选范围内")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise GridDenied(422, "invalid_input", f"记录最多 {MAX_NOTE} 字")
    now = utcnow()
    when = visited_at or now
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when > now:
        raise GridDenied(422, "invalid_input", "走访时间不能晚于现在")
    if next_visit_on is not None and not (
            when.date() <= next_visit_on <= (when + NEXT_VISIT_WITHIN).date()):
        raise GridDenied(422, "invalid_input", "下次走访日期应在今天到一年以内")
    auth = authorize(session, staff_id, resident_id, consent.GRID_SCOPES)
    assert auth.consent is not None
    visit = GridVisit(
        resident_id=resident_id, staff_id=staff_id, consent_id=auth.consent.id,
        visited_at=when, outcome=outcome, note=mask_text(note), next_visit_on=next_visit_on,
        client_key=client_key,
    )
    try:
        with session.begin_nested():  # the same key sent twice at once: one note
            session.add(visit)
            session.flush()
    except IntegrityError:
        earlier = _by_client_key(session, staff_id, client_key) if client_key else None
        if earlier is None:
            raise
        return earlier, None
    done = record(session, auth.actor, "grid.visit.record", resident_id, {
        "visit_id": visit.id, "outcome": outcome, "consent_id": auth.consent.id,
    }, ip=ip, notify=notify.visit_recorded(auth.staff.username, VISIT_OUTCOMES[outcome]))
    return visit, done


def _by_client_key(session: Session, staff_id: int, client_key: str) -> GridVisit | None:
    return session.scalar(select(GridVisit).where(
        GridVisit.staff_id == staff_id, GridVisit.client_key == client_key))


def visits_of(session: Session, resident_id: int, limit: int = 50) -> list[GridVisit]:
    return list(session.scalars(
        select(GridVisit).where(GridVisit.resident_id == resident_id)
        .order_by(GridVisit.visited_at.desc(), GridVisit.id.desc()).limit(limit)
    ))
