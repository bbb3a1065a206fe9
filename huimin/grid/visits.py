"""Visit notes: a grid worker's record of going to see a resident."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.grid import notify
from huimin.grid.access import GridDenied, authorize
from huimin.grid.actions import Done, record
from huimin.grid.models import VISIT_OUTCOMES, GridVisit
from huimin.platform.db import utcnow
from huimin.privacy import consent
from huimin.privacy.masking import mask_text

MAX_NOTE = 500


def record_visit(
    session: Session,
    staff_id: int,
    resident_id: int,
    outcome: str,
    note: str = "",
    *,
    visited_at: datetime | None = None,
    ip: str | None = None,
) -> tuple[GridVisit, Done]:
    """Needs a consent in force (any grid scope): a visit note is data about the resident.
    ID and phone numbers typed into the note are masked before it is stored."""
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
    auth = authorize(session, staff_id, resident_id, consent.GRID_SCOPES)
    assert auth.consent is not None
    visit = GridVisit(
        resident_id=resident_id, staff_id=staff_id, consent_id=auth.consent.id,
        visited_at=when, outcome=outcome, note=mask_text(note),
    )
    session.add(visit)
    session.flush()
    done = record(session, auth.actor, "grid.visit.record", resident_id, {
        "visit_id": visit.id, "outcome": outcome, "consent_id": auth.consent.id,
    }, ip=ip, notify=notify.visit_recorded(auth.staff.username, VISIT_OUTCOMES[outcome]))
    return visit, done


def visits_of(session: Session, resident_id: int, limit: int = 50) -> list[GridVisit]:
    return list(session.scalars(
        select(GridVisit).where(GridVisit.resident_id == resident_id)
        .order_by(GridVisit.visited_at.desc(), GridVisit.id.desc()).limit(limit)
    ))
