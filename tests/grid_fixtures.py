"""Residents, grid workers and consents written straight to a database, for grid tests."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from huimin.identity.models import StaffAccount, StaffGrid
from huimin.platform.db import Database, utcnow
from huimin.privacy import consent
from huimin.residents.models import Resident

_ids = itertools.count(1)


def add_resident(db: Database, grid: str | None, *, birth: date | None = date(1950, 5, 1),
                 wechat: bool = False, openid: str | None = None, **facts) -> int:
    with db.session() as s:
        resident = Resident(external_id=f"ext-{next(_ids)}", grid_id=grid, birth_date=birth,
                            wechat_channel=wechat, openid=openid, **facts)
        s.add(resident)
        s.flush()
        return resident.id


def add_staff(db: Database, roles: str, grids: tuple[str, ...] = ()) -> int:
    with db.session() as s:
        staff = StaffAccount(username=f"staff{next(_ids)}", password_hash="not-used",
                             roles=roles, grids=[StaffGrid(grid_id=g) for g in grids])
        s.add(staff)
        s.flush()
        return staff.id


def give_consent(db: Database, resident_id: int, scope: str = consent.GRID_WORKER_ASSIST, *,
                 days: int = 30, granted_to: int | None = None) -> int:
    with db.session() as s:
        row = consent.grant(s, resident_id, scope, "miniapp", granted_to=granted_to,
                            expires_at=utcnow() + timedelta(days=days))
        return row.id
