"""The notice lifecycle: allowed moves, idempotent answers, expiry, audit, grid worklist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from huimin.benefits import notices as lifecycle
from huimin.benefits.matching import run_matching
from huimin.benefits.models import (
    CONFIRMED,
    DECLINED,
    EXPIRED,
    GRANTED,
    GRID_WORKER,
    MATCHED,
    NOTIFIED,
    BenefitNotice,
)
from huimin.platform.db import Database, utcnow
from huimin.privacy import audit
from huimin.rules import load_rules
from tests.benefits_fixtures import AS_OF, ELDER, add_resident


@pytest.fixture
def db(sqlite_url: str) -> Database:
    database = Database(sqlite_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def notice_id(db: Database) -> int:
    add_resident(db, "E1", grid_id="G1", **ELDER)
    run_matching(db, load_rules(), AS_OF)
    with db.session() as s:
        return s.scalar(select(BenefitNotice.id))


def test_confirm_is_one_tap_and_idempotent(db, notice_id):
    with db.session() as s:
        notice = s.get(BenefitNotice, notice_id)
        lifecycle.mark_notified(notice, "miniapp")
        assert notice.status == NOTIFIED and notice.notified_at is not None
        assert lifecycle.confirm(s, notice, "miniapp", "citizen:7") is True
        first = notice.confirmed_at
    with db.session() as s:
        notice = s.get(BenefitNotice, notice_id)
        assert lifecycle.confirm(s, notice, "official_account", "citizen:7") is False
        assert (notice.status, notice.response_channel) == (CONFIRMED, "miniapp")
        assert lifecycle.aware(notice.confirmed_at) == first
        entries = [e for e in audit.entries_for_target(s, f"resident:{notice.resident_id}")
                   if e.action == "benefit.confirm"]
        assert len(entries) == 1 and entries[0].actor == "citizen:7"
        assert entries[0].detail["channel"] == "miniapp"
        with pytest.raises(lifecycle.NoticeError) as err:
            lifecycle.decline(s, notice, "miniapp", "citizen:7")
        assert err.value.code == "notice_confirmed"
        assert lifecycle.grant(s, notice, None, "system") is True
        assert notice.status == GRANTED and lifecycle.grant(s, notice, None, "system") is False
        assert audit.verify_chain(s) == []


def test_decline_then_confirm_is_refused(db, notice_id):
    with db.session() as s:
        notice = s.get(BenefitNotice, notice_id)
        assert lifecycle.decline(s, notice, "grid_worker", "staff:3", staff_id=None) is True
        assert lifecycle.decline(s, notice, "miniapp", "citizen:7") is False
        assert notice.status == DECLINED and notice.response_channel == "grid_worker"
        with pytest.raises(lifecycle.NoticeError) as err:
            lifecycle.confirm(s, notice, "miniapp", "citizen:7")
        assert err.value.code == "notice_declined"


def test_overdue_notice_expires_and_cannot_be_confirmed(db, notice_id):
    with db.session() as s:
        s.get(BenefitNotice, notice_id).expires_at = utcnow() - timedelta(seconds=1)
    with db.session() as s:
        notice = s.get(BenefitNotice, notice_id)
        with pytest.raises(lifecycle.NoticeError) as err:
            lifecycle.confirm(s, notice, "miniapp", "citizen:7")
        assert err.value.code == "notice_expired"
        assert (notice.status, notice.expire_reason) == (EXPIRED, lifecycle.TIMED_OUT)


def test_expire_overdue_closes_only_open_overdue_notices(db):
    for n in range(3):
        add_resident(db, f"E{n}", **ELDER)
    run_matching(db, load_rules(), AS_OF)
    with db.session() as s:
        first, second, third = s.scalars(select(BenefitNotice).order_by(BenefitNotice.id))
        lifecycle.confirm(s, second, "miniapp", "citizen:1")  # answered in time
        first.expires_at = utcnow() - timedelta(days=1)
    with db.session() as s:
        second = s.get(BenefitNotice, second.id)
        second.expires_at = utcnow() - timedelta(days=1)
    with db.session() as s:
        assert lifecycle.expire_overdue(s) == 1
    with db.session() as s:
        statuses = [n.status for n in s.scalars(select(BenefitNotice).order_by(BenefitNotice.id))]
    assert statuses == [EXPIRED, CONFIRMED, MATCHED]


def test_unknown_moves_and_channels_are_refused(db, notice_id):
    with db.session() as s:
        notice = s.get(BenefitNotice, notice_id)
        with pytest.raises(lifecycle.NoticeError) as err:
            lifecycle.grant(s, notice, None, "system")
        assert err.value.code == "not_confirmed"
        with pytest.raises(lifecycle.NoticeError) as err:
            lifecycle.confirm(s, notice, "fax", "citizen:1")
        assert err.value.code == "bad_channel"
        assert notice.status == MATCHED


def test_grid_worklist_lists_open_notices_of_the_workers_grids(db, notice_id):
    add_resident(db, "E2", grid_id="G2", **ELDER)
    run_matching(db, load_rules(), AS_OF)
    with db.session() as s:
        for notice in s.scalars(select(BenefitNotice)):
            notice.delivery = GRID_WORKER
    with db.session() as s:
        rows = s.execute(lifecycle.worklist({"G1"})).all()
        assert [(n.id, r.grid_id) for n, r in rows] == [(notice_id, "G1")]
        lifecycle.confirm(s, rows[0][0], "grid_worker", "staff:3")
    with db.session() as s:
        assert s.execute(lifecycle.worklist({"G1"})).all() == []
