"""Which grid workers look after which grids (``staff_grids``; residents carry ``grid_id``).

Assignments arrive with the resident import (a CSV of username,grid_id) and are edited by
admins; either way the whole set for a worker is replaced at once, and it applies at the
next request (access checks read it fresh).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huimin.identity.models import GRID_ROLES, StaffAccount, StaffGrid
from huimin.residents.models import Resident

MAX_GRID_ID = 64


class AssignmentError(ValueError):
    """Plain English for admins; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str = "grids") -> None:
        super().__init__(message)
        self.field = field


def staff_by_username(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username))


def clean_grid_ids(grid_ids: Iterable[str]) -> list[str]:
    clean = sorted({g.strip() for g in grid_ids if g and g.strip()})
    bad = [g for g in clean if len(g) > MAX_GRID_ID or not g.isprintable()]
    if bad:
        raise AssignmentError(f"grid ids must be 1-{MAX_GRID_ID} printable characters: {bad[0]!r}")
    return clean


def set_grids(session: Session, staff_id: int, grid_ids: Iterable[str]) -> list[str]:
    """Replace the worker's grids (an empty list removes them all)."""
    staff = session.get(StaffAccount, staff_id)
    if staff is None:
        raise AssignmentError(f"no staff account {staff_id}", "staff_id")
    clean = clean_grid_ids(grid_ids)
    if clean and not GRID_ROLES & staff.role_set:
        raise AssignmentError("grid assignments are for grid_worker and grid_supervisor "
                              "accounts")
    staff.grids = [StaffGrid(grid_id=g) for g in clean]
    session.flush()
    return clean


@dataclass(frozen=True)
class GridSummary:
    grid_id: str
    residents: int
    workers: tuple[str, ...]


def summary(session: Session) -> list[GridSummary]:
    """Every grid with its number of residents and its workers (grids without a worker show
    up too: their residents have nobody to visit them)."""
    counts = dict(session.execute(
        select(Resident.grid_id, func.count()).where(Resident.grid_id.is_not(None))
        .group_by(Resident.grid_id)
    ).all())
    workers: dict[str, list[str]] = {}
    for grid_id, username in session.execute(
        select(StaffGrid.grid_id, StaffAccount.username)
        .join(StaffAccount, StaffAccount.id == StaffGrid.staff_id)
        .where(StaffAccount.active.is_(True)).order_by(StaffAccount.username)
    ):
        workers.setdefault(grid_id, []).append(username)
    return [GridSummary(g, int(counts.get(g, 0)), tuple(workers.get(g, ())))
            for g in sorted(set(counts) | set(workers))]


@dataclass
class ImportReport:
    assigned: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def import_csv(session: Session, path: Path) -> ImportReport:
    """``username,grid_id`` lines (a header line is allowed): each named worker's grids
    become exactly the ones listed. Bad lines are reported by number and skipped."""
    report = ImportReport()
    wanted: dict[str, list[str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if number == 1 and [c.strip().lower() for c in row[:2]] == ["username", "grid_id"]:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                report.problems.append(f"line {number}: expected username,grid_id")
                continue
            wanted.setdefault(row[0].strip(), []).append(row[1])
    for username, grids in wanted.items():
        staff = staff_by_username(session, username)
        if staff is None:
            report.problems.append(f"username {username!r}: no such staff account")
            continue
        try:
            report.assigned[username] = set_grids(session, staff.id, grids)
        except AssignmentError as exc:
            report.problems.append(f"username {username!r}: {exc}")
    return report
