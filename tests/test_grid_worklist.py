"""The grid worker's worklist: who is on it, the urgency order, filters and pages, and nobody
from another grid (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from huimin.benefits.models import BenefitNotice
from huimin.grid.worklist import NO_WECHAT, OPEN_TICKET, PENDING_NOTICE, Filters, worklist
from huimin.identity.models import CitizenAccount
from huimin.ops.models import CLOSED, HandoffTicket
from huimin.platform.db import Database, utcnow
from huimin.wechat.models import WechatUser
from tests.grid_fixtures import add_resident

TODAY = date(2026, 3, 3)


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    yield database
    database.engine.dispose()


def notice(db: Database, resident_id: int, policy: str, *, status: str = "notified",
           delivery: str = "official_account", expires_in: timedelta = timedelta(days=60),
           age: timedelta = timedelta(days=1)) -> None:
    now = utcnow()
    with db.session() as s:
        s.add(BenefitNotice(resident_id=resident_id, policy=policy, rule_version=1,
                            as_of=TODAY, status=status, delivery=delivery,
                            matched_at=now - age, expires_at=now + expires_in))


def chat_user(db: Database, resident_id: int, name: str, ticket: str | None = None) -> None:
    with db.session() as s:
        s.add(WechatUser(openid=f"o-{name}", pseudonym=f"u-{name}", resident_id=resident_id))
        if ticket:
            s.add(HandoffTicket(sender_id=f"u-{name}", reason="asked", status=ticket))


def ids(items) -> list[int]:
    return [item.resident.id for item in items]


def test_who_is_on_the_list_and_in_which_order(db):
    # Reached by WeChat and nothing pending: not on the list.
    fine = add_resident(db, "G1", birth=date(1990, 1, 1))
    chat_user(db, fine, "fine")
    # Mini-program account only: has WeChat, one ordinary notice.
    one_notice = add_resident(db, "G1", birth=date(1990, 1, 1))
    with db.session() as s:
        s.add(CitizenAccount(openid="mp-1", resident_id=one_notice))
    notice(db, one_notice, "startup_subsidy")
    # No WeChat, nothing pending: on the list for that alone.
    unreachable = add_resident(db, "G1", birth=date(1990, 1, 1))
    # No WeChat, aged 85, a notice only the grid worker can deliver.
    elderly = add_resident(db, "G1", birth=date(1940, 1, 1))
    notice(db, elderly, "elderly_allowance", delivery="grid_worker", status="matched")
    # An open hand-off ticket beats everything.
    asked = add_resident(db, "G1", birth=date(1990, 1, 1))
    chat_user(db, asked, "asked", ticket="open")
    # A closed ticket and answered or lapsed notices do not count.
    done = add_resident(db, "G1", birth=date(1990, 1, 1), wechat=True)
    chat_user(db, done, "done", ticket=CLOSED)
    notice(db, done, "startup_subsidy", status="confirmed")
    notice(db, done, "skill_upgrade_subsidy", expires_in=timedelta(days=-1))
    # Another grid: never shown.
    elsewhere = add_resident(db, "G2", birth=date(1930, 1, 1))
    notice(db, elsewhere, "elderly_allowance", delivery="grid_worker")

    with db.session() as s:
        items, total = worklist(s, ["G1"], Filters(), today=TODAY)
        assert total == 4
        assert ids(items) == [asked, elderly, one_notice, unreachable]
        by_id = {i.resident.id: i for i in items}
        assert by_id[asked].reasons == [OPEN_TICKET]
        assert by_id[elderly].reasons == [PENDING_NOTICE, NO_WECHAT]
        assert by_id[elderly].grid_notices == 1
        assert by_id[one_notice].reasons == [PENDING_NOTICE] and by_id[one_notice].has_wechat
        assert by_id[unreachable].reasons == [NO_WECHAT]
        assert by_id[elderly].to_dict(TODAY)["age"] == 86
        assert elsewhere not in ids(worklist(s, ["G1", "G3"], Filters(), today=TODAY)[0])


def test_soon_lapsing_notices_and_longest_waiting_first(db):
    later = add_resident(db, "G1", wechat=True, birth=date(1990, 1, 1))
    notice(db, later, "startup_subsidy", age=timedelta(days=1))
    earlier = add_resident(db, "G1", wechat=True, birth=date(1990, 1, 1))
    notice(db, earlier, "startup_subsidy", age=timedelta(days=5))
    lapsing = add_resident(db, "G1", wechat=True, birth=date(1990, 1, 1))
    notice(db, lapsing, "startup_subsidy", expires_in=timedelta(days=3))
    with db.session() as s:
        items, _ = worklist(s, ["G1"], Filters(), today=TODAY)
    assert ids(items) == [lapsing, earlier, later]
    assert items[0].urgency > items[1].urgency == items[2].urgency


def test_filters_and_pages(db):
    residents = []
    for n in range(7):
        rid = add_resident(db, "G1" if n % 2 else "G2", birth=date(1950 + 10 * (n % 3), 1, 1))
        notice(db, rid, "startup_subsidy", age=timedelta(days=10 - n))
        residents.append(rid)
    ticket = add_resident(db, "G2", birth=date(1990, 1, 1))
    chat_user(db, ticket, "t", ticket="claimed")
    with db.session() as s:
        everyone, total = worklist(s, ["G1", "G2"], Filters(), today=TODAY)
        assert total == 8
        pages = [worklist(s, ["G1", "G2"], Filters(), page=p, per_page=3, today=TODAY)
                 for p in (1, 2, 3)]
        assert [t for _, t in pages] == [8, 8, 8]
        assert [i for items, _ in pages for i in ids(items)] == ids(everyone)
        g1, total = worklist(s, ["G1", "G2"], Filters(grid_id="G1"), today=TODAY)
        assert total == 3 and {i.resident.grid_id for i in g1} == {"G1"}
        # A grid that is not theirs gives nothing, whatever the filter says.
        assert worklist(s, ["G1"], Filters(grid_id="G2"), today=TODAY) == ([], 0)
        tickets, total = worklist(s, ["G1", "G2"], Filters(reason=OPEN_TICKET), today=TODAY)
        assert ids(tickets) == [ticket] and total == 1
        older, _ = worklist(s, ["G1", "G2"], Filters(older=True), today=TODAY)
        assert older and all(i.resident.birth_date <= date(1966, 3, 3) for i in older)
        assert ticket not in ids(older)
