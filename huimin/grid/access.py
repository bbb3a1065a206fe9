"""May this grid worker act for this resident, now? One check, read fresh on every call.

A grid worker acts only for residents of the grids assigned to them, and only while a consent
for the scope is in force (given to them or to any grid worker of the grid). Nothing is
cached: a consent that expired a second ago or was just withdrawn refuses the next call, and
a grid reassigned by an admin takes effect at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.identity.models import GRID_WORKER, StaffAccount
from huimin.platform.db import utcnow
from huimin.privacy import consent
from huimin.privacy.models import Consent
from huimin.residents.models import Resident


class GridDenied(Exception):
    """Refused; ``code`` is stable for the API, ``message`` plain Chinese."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


NOT_FOUND = (404, "not_found", "找不到要访问的内容")
NOT_GRID_WORKER = (403, "forbidden", "您没有权限进行此操作")
NOT_YOUR_GRID = (403, "not_your_grid", "该居民不在您负责的网格内")
CONSENT_REQUIRED = (403, "consent_required", "该居民尚未授权您协助办理")


@dataclass(frozen=True)
class Authorization:
    staff: StaffAccount
    resident: Resident
    consent: Consent | None  # None for actions that need no consent (e.g. asking for one)

    @property
    def actor(self) -> str:
        return f"staff:{self.staff.id}"

    @property
    def target(self) -> str:
        return f"resident:{self.resident.id}"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def grid_worker(session: Session, staff_id: int) -> StaffAccount:
    staff = session.get(StaffAccount, staff_id)
    if staff is None or not staff.active or GRID_WORKER not in staff.role_set:
        raise GridDenied(*NOT_GRID_WORKER)
    return staff


def consent_in_force(
    session: Session,
    resident_id: int,
    scopes: Iterable[str],
    grantee: int,
    at: datetime | None = None,
) -> Consent | None:
    """The consent that lets staff member ``grantee`` act under any of ``scopes`` now: the
    one given to them personally first, then the longest-running. (huimin.privacy.consent answers
    yes/no; acting for a resident must also name the consent it relied on.)"""
    moment = _aware(at) if at is not None else utcnow()
    allowed = {s for scope in scopes for s in consent.scopes_satisfying(scope)}
    rows = session.scalars(select(Consent).where(
        Consent.resident_id == resident_id, Consent.scope.in_(allowed)))
    usable = [c for c in rows if c.active_at(moment)
              and (c.granted_to is None or c.granted_to == grantee)]
    if not usable:
        return None
    far = datetime.max.replace(tzinfo=UTC)
    return max(usable, key=lambda c: (c.granted_to == grantee,
                                      _aware(c.expires_at) if c.expires_at else far, c.id))


def authorize(
    session: Session,
    staff_id: int,
    resident_id: int,
    scopes: Iterable[str] = (),
    *,
    at: datetime | None = None,
) -> Authorization:
    """Check grid and consent; no ``scopes`` means the grid check only."""
    staff = grid_worker(session, staff_id)
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise GridDenied(*NOT_FOUND)
    if resident.grid_id is None or resident.grid_id not in staff.grid_ids:
        raise GridDenied(*NOT_YOUR_GRID)
    wanted = tuple(scopes)
    if not wanted:
        return Authorization(staff, resident, None)
    found = consent_in_force(session, resident_id, wanted, staff.id, at)
    if found is None:
        raise GridDenied(*CONSENT_REQUIRED)
    return Authorization(staff, resident, found)
