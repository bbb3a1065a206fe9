"""Batch matching into notices: exactly once, on SQLite and PostgreSQL, agreeing with Python."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from huimin.benefits import notices as lifecycle
from huimin.benefits.matching import run_matching
from huimin.benefits.models import CONFIRMED, EXPIRED, MATCHED, PENDING, BenefitNotice
from huimin.platform.db import Database
from huimin.residents.facts import Facts
from huimin.residents.models import Resident
from huimin.residents.synthetic import insert_residents, synthetic_residents
from huimin.rules import evaluate, load_rules
from tests.benefits_fixtures import AS_OF, ELDER, ELDERLY_V2, add_resident, copy_rules


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url)
    yield database
    database.engine.dispose()


def notices(db: Database, **where) -> list[BenefitNotice]:
    with db.session() as s:
        query = select(BenefitNotice).order_by(BenefitNotice.id)
        for key, value in where.items():
            query = query.where(getattr(BenefitNotice, key) == value)
        return list(s.scalars(query))


def test_a_match_becomes_one_notice_with_the_rules_amount(db):
    rid = add_resident(db, "E1", **ELDER)
    add_resident(db, "Y1", birth_date=date(1990, 1, 1), local_hukou=True)
    book = load_rules()
    report = run_matching(db, book, AS_OF)
    [notice] = notices(db)
    assert (notice.resident_id, notice.policy, notice.rule_version) == (rid, "elderly_allowance", 1)
    assert (notice.amount, notice.amount_unit) == (100, "元/月")
    assert (notice.status, notice.delivery, notice.as_of) == (MATCHED, PENDING, AS_OF)
    assert report.created == 1
    assert "elderly_allowance v1: 1 eligible, 1 new notices" in "\n".join(report.lines())

    again = run_matching(db, book, AS_OF)
    assert again.created == 0 and len(notices(db)) == 1
    assert next(p for p in again.policies if p.policy == "elderly_allowance").eligible == 1


def test_notices_are_exactly_the_python_eligible_set(db):
    with db.engine.begin() as conn:
        insert_residents(conn, synthetic_residents(1500, seed=7, as_of=AS_OF))
    book = load_rules()
    run_matching(db, book, AS_OF)
    with db.session() as s:
        residents = list(s.scalars(select(Resident)))
        expected = set()
        for r in residents:
            facts = Facts.from_mapping({k: getattr(r, k) for k in Facts.__dataclass_fields__})
            for rule in book.in_force(AS_OF):
                result = evaluate(rule, facts, AS_OF, explain=False)
                if result.status == "eligible":
                    expected.add((r.id, rule.policy, result.amount, result.duration))
    got = {(n.resident_id, n.policy, n.amount, n.duration) for n in notices(db)}
    assert got == expected and len(expected) > 20


def test_concurrent_runs_do_not_duplicate(db):
    with db.engine.begin() as conn:
        insert_residents(conn, synthetic_residents(800, seed=3, as_of=AS_OF))
    book = load_rules()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_matching(db, book, AS_OF)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(BenefitNotice))
        distinct = s.scalar(select(func.count()).select_from(
            select(BenefitNotice.resident_id, BenefitNotice.policy).distinct().subquery()))
    assert total == distinct > 0


def test_one_resident_only(db):
    a = add_resident(db, "A", **ELDER)
    add_resident(db, "B", **ELDER)
    report = run_matching(db, load_rules(), AS_OF, resident_ids=[a])
    assert report.created == 1
    assert [n.resident_id for n in notices(db)] == [a]


def test_new_rule_version_supersedes_open_notices_but_not_confirmed_ones(db, tmp_path):
    waiting = add_resident(db, "W", **ELDER)
    confirmed = add_resident(db, "C", **ELDER)
    rules_dir = copy_rules(tmp_path)
    run_matching(db, load_rules(rules_dir), AS_OF)
    with db.session() as s:
        notice = s.scalar(select(BenefitNotice).where(BenefitNotice.resident_id == confirmed))
        lifecycle.confirm(s, notice, "miniapp", "citizen:1")

    (rules_dir / "elderly_allowance.yml").write_text(ELDERLY_V2, encoding="utf-8")
    book = load_rules(rules_dir)
    report = run_matching(db, book, AS_OF + timedelta(days=1))
    count = next(p for p in report.policies if p.policy == "elderly_allowance")
    assert (count.version, count.created, count.kept, count.superseded) == (2, 1, 1, 1)
    old, new = notices(db, resident_id=waiting)
    assert (old.rule_version, old.status, old.expire_reason) == (1, EXPIRED, "superseded")
    assert (new.rule_version, new.status, new.amount) == (2, MATCHED, 150)
    assert [n.status for n in notices(db, resident_id=confirmed)] == [CONFIRMED]


def test_no_longer_eligible_withdraws_and_eligible_again_reopens(db):
    rid = add_resident(db, "E", **ELDER)
    unknown = add_resident(db, "U", **ELDER)
    book = load_rules()
    run_matching(db, book, AS_OF)
    with db.session() as s:
        s.get(Resident, rid).local_hukou = False  # moved away
        s.get(Resident, unknown).local_hukou = None  # unknown now: nothing is decided
    report = run_matching(db, book, AS_OF)
    assert next(p for p in report.policies if p.policy == "elderly_allowance").withdrawn == 1
    [gone] = notices(db, resident_id=rid)
    assert (gone.status, gone.expire_reason) == (EXPIRED, "no_longer_eligible")
    assert notices(db, resident_id=unknown)[0].status == MATCHED

    with db.session() as s:
        s.get(Resident, rid).local_hukou = True
    report = run_matching(db, book, AS_OF)
    [back] = notices(db, resident_id=rid)
    assert (back.status, back.delivery, back.expire_reason) == (MATCHED, PENDING, None)
    assert next(p for p in report.policies if p.policy == "elderly_allowance").reopened == 1


def test_policy_filter(db):
    add_resident(db, "E", **ELDER, final_year_student=True, low_income_household=True)
    report = run_matching(db, load_rules(), AS_OF, policy="graduate_job_search_subsidy")
    assert [p.policy for p in report.policies] == ["graduate_job_search_subsidy"]
    [notice] = notices(db)
    assert (notice.policy, notice.amount, notice.amount_unit) == (
        "graduate_job_search_subsidy", 3000, "元")
