"""Batch matching in SQL agrees exactly with the Python evaluation, on SQLite and PostgreSQL.

A Hypothesis property test draws an evaluation date, a random rule from the whole language
(with amount tables) and residents with random missing facts and dates near the rule's
edges (birthdays, 29 Feb, month ends), then compares status and amount per resident.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from huimin.platform.db import Base, make_engine
from huimin.residents import FACTS, Facts
from huimin.residents.synthetic import insert_residents
from huimin.rules import RuleBook, evaluate, load_rules, match_all, parse_rule_file
from huimin.rules.sql import ALL_STATUSES, RESIDENTS
from tests.services import temporary_postgres

BOOL_FACTS = [n for n, s in FACTS.items() if s.kind == "bool"]
INT_FACTS = [n for n, s in FACTS.items() if s.kind == "int"]
DATE_FACTS = [n for n, s in FACTS.items() if s.kind == "date"]
ENUM_FACTS = [n for n, s in FACTS.items() if s.kind == "enum"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Engine]:
    """A fresh database per backend for this module, with the residents table."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('rules') / 'rules.db'}"
        yield from _with_table(url)
    else:
        with temporary_postgres() as url:
            yield from _with_table(url)


def _with_table(url: str) -> Iterator[Engine]:
    eng = make_engine(url)
    Base.metadata.create_all(eng, tables=[RESIDENTS])
    try:
        yield eng
    finally:
        eng.dispose()


def load(engine: Engine, people: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(RESIDENTS))
        blank = dict.fromkeys(FACTS)
        rows = [
            {"id": i + 1, "external_id": f"T{i + 1}", **blank, **p} for i, p in enumerate(people)
        ]
        insert_residents(conn, rows)


def sql_answers(engine: Engine, book: RuleBook, as_of: date, **kw) -> dict:
    with engine.connect() as conn:
        return {
            (m.resident_id, m.policy): (m.status, m.amount, m.duration)
            for m in match_all(conn, book, as_of, chunk_size=7, **kw)
        }


def python_answers(book: RuleBook, as_of: date, people: list[dict]) -> dict:
    out = {}
    for i, p in enumerate(people):
        facts = Facts(**p)  # facts not given are unknown
        for rule in book.in_force(as_of):
            r = evaluate(rule, facts, as_of)
            amount = (r.amount, r.duration) if r.status == "eligible" else (None, None)
            out[(i + 1, rule.policy)] = (r.status, *amount)
    return out


# --- the eight shipped rules on hand-picked boundary residents ---------------------------

EDGE_PEOPLE = [
    {"local_hukou": True, "birth_date": date(1944, 6, 15)},
    {"local_hukou": True, "birth_date": date(1944, 6, 16)},
    {"local_hukou": None, "birth_date": date(1930, 1, 1)},
    {"local_hukou": False},
    {"local_hukou": True, "birth_date": date(1934, 6, 15)},
    {"local_hukou": True, "birth_date": date(1924, 6, 15)},
    {"local_hukou": True, "birth_date": date(1944, 2, 29)},
    {
        "unemployment_insurance_months": 60,
        "involuntary_separation": True,
        "registered_unemployed": True,
        "receiving_pension": False,
    },
    {
        "business_registered_date": date(2024, 2, 29),
        "startup_subsidy_received": False,
        "returned_migrant_worker": True,
    },
    {"business_registered_date": date(2024, 3, 1), "startup_subsidy_received": False},
    {"final_year_student": True, "disabled": True, "low_income_household": None},
    {
        "birth_date": date(1990, 1, 1),
        "receiving_pension": False,
        "certificate_date": date(2023, 8, 31),
        "certificate_level": 4,
        "hard_to_employ": True,
        "employment_status": "employed",
        "unemployment_insurance_months": 12,
    },
    {
        "gender": "female",
        "birth_date": date(1984, 8, 31),
        "local_hukou": True,
        "employment_status": "flexible",
        "flexible_employment_registered": True,
        "paying_pension_insurance": True,
        "receiving_pension": False,
    },
    {},
]


@pytest.mark.parametrize("on", [date(2024, 8, 31), date(2024, 6, 15), date(2025, 2, 28)])
def test_shipped_rules_agree_on_edge_residents(engine: Engine, on: date):
    book = load_rules()
    load(engine, EDGE_PEOPLE)
    expected = python_answers(book, on, EDGE_PEOPLE)
    assert sql_answers(engine, book, on, statuses=ALL_STATUSES) == expected
    eligible = {k: v for k, v in expected.items() if v[0] == "eligible"}
    assert sql_answers(engine, book, on) == eligible  # the default: eligible only
    assert len(eligible) >= 8 and any(v[1] for v in eligible.values())


def test_match_all_filters_by_policy_and_resident(engine: Engine):
    book = load_rules()
    load(engine, EDGE_PEOPLE)
    on = date(2024, 6, 15)
    elderly = sql_answers(engine, book, on, policy="elderly_allowance")
    assert elderly == {
        (1, "elderly_allowance"): ("eligible", 100, None),
        (5, "elderly_allowance"): ("eligible", 300, None),
        (6, "elderly_allowance"): ("eligible", 600, None),
        (7, "elderly_allowance"): ("eligible", 100, None),  # born 29 Feb 1944
    }
    only = sql_answers(engine, book, on, statuses=ALL_STATUSES, resident_ids=[3])
    assert only[(3, "elderly_allowance")] == ("unknown", None, None)
    assert {rid for rid, _ in only} == {3} and len(only) == 8
    unknown = sql_answers(engine, book, on, policy="elderly_allowance", statuses=["unknown"])
    # unknown: no hukou (3) or neither fact (8-11, 14); 12 is decided by age alone
    assert {rid for rid, _ in unknown} == {3, 8, 9, 10, 11, 14}


def test_bad_status_rejected(engine: Engine):
    with pytest.raises(ValueError, match="unknown status"):
        sql_answers(engine, load_rules(), date(2024, 6, 1), statuses=["maybe"])


# --- every date leaf at its edges, swept deterministically ------------------------------

TRICKY_DAYS = [
    date(2025, 2, 28),  # common year: 29 Feb birthdays count today
    date(2024, 2, 29),
    date(2024, 2, 28),
    date(2024, 3, 1),
    date(2024, 8, 31),  # minus 6 months clamps to 29 Feb
    date(2023, 8, 31),  # ... and to 28 Feb
    date(2025, 3, 31),
    date(2024, 12, 31),
]
NUMBERS = [1, 3, 6, 12, 16, 60, 80, 81, 100]


def _sweep_rules() -> RuleBook:
    conditions = []
    for n in NUMBERS:
        conditions += [{"age_at_least": n}, {"age_below": n}]
        for unit in ("years", "months"):
            for fact in ("graduation_date", "certificate_date"):
                conditions.append({"within_last": {"fact": fact, unit: n}})
                conditions.append({"at_least_before": {"fact": fact, unit: n}})
    bands = [
        {"min": lo, "max": hi - 1, "value": lo}
        for lo, hi in zip(NUMBERS, NUMBERS[1:], strict=False)
    ]
    rules = []
    for i, cond in enumerate(conditions):
        version = {"version": 1, "effective_from": "1900-01-01", "condition": cond}
        if "age_at_least" in cond:
            version["amount"] = {"unit": "元", "by": "age", "bands": bands}
        rules += parse_rule_file({"policy": f"p{i}", "versions": [version]})
    return RuleBook(rules)


def _sweep_people(on: date) -> list[dict]:
    days = {date(y, 2, 29) for y in range(1920, 2028, 4)}
    for n in NUMBERS:
        for d in range(-2, 3):
            days.add(on - relativedelta(years=n) + timedelta(days=d))
            days.add(on - relativedelta(months=n) + timedelta(days=d))
    return [
        {"birth_date": day, "graduation_date": day, "certificate_date": day} for day in sorted(days)
    ]


@pytest.mark.parametrize("on", TRICKY_DAYS, ids=str)
def test_date_edges_sweep(engine: Engine, on: date):
    book = _sweep_rules()
    people = _sweep_people(on)
    load(engine, people)
    expected = python_answers(book, on, people)
    assert sql_answers(engine, book, on, statuses=ALL_STATUSES) == expected


# --- property: Python == SQL for random rules and residents ------------------------------
#
# Edges are where implementations disagree, so each scenario draws a few "edge numbers"
# shared by the rule (ages, periods) and the residents (dates N years/months before D,
# give or take a day or two), and the evaluation date favours 29 Feb, 28 Feb and month ends.

MONTH_ENDS = st.builds(
    lambda y, m: date(y, m, 1) + relativedelta(months=1) - timedelta(days=1),
    st.integers(1995, 2040),
    st.integers(1, 12),
)
FEBRUARY = st.builds(
    lambda y, d: date(y, 2, 28) + timedelta(days=d),  # 28 Feb, 29 Feb or 1 Mar
    st.integers(1995, 2040),
    st.integers(0, 1),
)
AS_OF = st.one_of(st.dates(date(1995, 1, 1), date(2040, 12, 31)), MONTH_ENDS, FEBRUARY, FEBRUARY)


def near(as_of: date, edges: list[int]) -> st.SearchStrategy[date]:
    """Dates at the edges a rule on `as_of` draws: D - N years or months, +/- 2 days."""
    edge = st.sampled_from(edges)
    day = st.sampled_from([-1, 0, 1])
    by_years = st.builds(lambda n, d: as_of - relativedelta(years=n) + timedelta(days=d), edge, day)
    by_months = st.builds(
        lambda n, d: as_of - relativedelta(months=n) + timedelta(days=d), edge, day
    )
    leap = st.builds(lambda y: date(y, 2, 29), st.sampled_from(range(1904, 2044, 4)))
    anywhere = st.dates(date(1900, 1, 1), date(2045, 12, 31))
    return st.one_of(by_years, by_years, by_months, leap, anywhere)


def fact_value(name: str, as_of: date, edges: list[int]) -> st.SearchStrategy:
    spec = FACTS[name]
    if spec.kind == "bool":
        known = st.booleans()
    elif spec.kind == "enum":
        known = st.sampled_from([v for v, _ in spec.choices])
    elif spec.kind == "int":
        lo, hi = spec.minimum or 0, min(spec.maximum or 130, 130)
        known = st.one_of(st.integers(lo, hi), st.sampled_from(edges).map(lambda n: min(n, hi)))
    else:
        known = near(as_of, edges)
    return st.one_of(st.none(), known)


def person(as_of: date, edges: list[int]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({name: fact_value(name, as_of, edges) for name in FACTS})


def leaf(as_of: date, edges: list[int]) -> st.SearchStrategy[dict]:
    number = st.one_of(st.sampled_from(edges), st.integers(0, 110))

    def compare(name: str) -> st.SearchStrategy[dict]:
        spec = FACTS[name]
        if spec.kind == "bool":
            return st.builds(lambda v: {"fact": name, "is": v}, st.booleans())
        if spec.kind == "enum":
            ops = ["eq", "ne"]
            value = st.sampled_from([v for v, _ in spec.choices])
        elif spec.kind == "int":
            ops = ["eq", "ne", "gte", "gt", "lte", "lt"]
            lo, hi = spec.minimum or 0, min(spec.maximum or 130, 130)
            value = number.map(lambda n: max(lo, min(n, hi)))
        else:
            ops = ["eq", "ne", "gte", "gt", "lte", "lt"]
            value = near(as_of, edges).map(date.isoformat)
        single = st.builds(lambda op, v: {"fact": name, op: v}, st.sampled_from(ops), value)
        many = st.lists(value, min_size=1, max_size=3).map(lambda vs: {"fact": name, "in": vs})
        return st.one_of(single, many)

    span = st.builds(
        lambda f, unit, n: {"fact": f, unit: n},
        st.sampled_from(DATE_FACTS),
        st.sampled_from(["years", "months"]),
        number,
    )
    return st.one_of(
        st.sampled_from(list(FACTS)).flatmap(compare),
        st.builds(lambda n: {"age_at_least": n}, number),
        st.builds(lambda n: {"age_below": n}, number),
        span.map(lambda s: {"within_last": s}),
        span.map(lambda s: {"at_least_before": s}),
    )


def condition(as_of: date, edges: list[int]) -> st.SearchStrategy[dict]:
    return st.recursive(
        leaf(as_of, edges),
        lambda kids: st.one_of(
            st.lists(kids, min_size=1, max_size=4).map(lambda c: {"all": c}),
            st.lists(kids, min_size=1, max_size=4).map(lambda c: {"any": c}),
            kids.map(lambda c: {"not": c}),
        ),
        max_leaves=10,
    )


@st.composite
def bands(draw, edges: list[int]) -> list[dict]:
    number = st.one_of(st.sampled_from(edges), st.integers(0, 110))
    cuts = sorted(set(draw(st.lists(number, min_size=1, max_size=4))))
    out = [
        {"min": lo, "max": hi - 1, "value": draw(st.integers(0, 5000))}
        for lo, hi in zip(cuts, cuts[1:], strict=False)
    ]
    last = {"min": cuts[-1], "value": draw(st.integers(0, 5000))}
    if draw(st.booleans()):
        last["max"] = cuts[-1] + draw(st.integers(0, 10))
    return [*out, last]


def quantity(edges: list[int]) -> st.SearchStrategy[dict | None]:
    return st.one_of(
        st.none(),
        st.builds(lambda v: {"unit": "元", "value": v}, st.integers(0, 10000)),
        st.builds(
            lambda by, b: {"unit": "元", "by": by, "bands": b},
            st.sampled_from(["age", *INT_FACTS]),
            bands(edges),
        ),
    )


@st.composite
def scenario(draw):
    as_of = draw(AS_OF)
    # Some edges land D - N years in a leap year, where 29 Feb birthdays live.
    leap_aligned = st.integers(0, 26).map(lambda k: as_of.year % 4 + 4 * k)
    edges = draw(st.lists(st.one_of(st.integers(0, 105), leap_aligned), min_size=1, max_size=2))
    version = {
        "version": 1,
        "effective_from": "1900-01-01",
        "condition": draw(condition(as_of, edges)),
    }
    for key in ("amount", "duration"):
        q = draw(quantity(edges))
        if q is not None:
            version[key] = q
    rules = parse_rule_file({"policy": "random", "versions": [version]}, "<hypothesis>")
    people = draw(st.lists(person(as_of, edges), min_size=1, max_size=12))
    statuses = draw(st.sets(st.sampled_from(ALL_STATUSES), min_size=1))
    return as_of, RuleBook(rules), people, statuses


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario())
def test_python_and_sql_agree(engine: Engine, case):
    as_of, book, people, statuses = case
    load(engine, people)
    expected = python_answers(book, as_of, people)
    assert sql_answers(engine, book, as_of, statuses=ALL_STATUSES) == expected
    wanted = {k: v for k, v in expected.items() if v[0] in statuses}
    assert sql_answers(engine, book, as_of, statuses=statuses) == wanted


@st.composite
def date_leaf_scenario(draw):
    """One date condition, and residents dated on each side of its edge."""
    as_of = draw(st.one_of(AS_OF, FEBRUARY))
    if draw(st.booleans()):  # D - n years falls in a leap year, where 29 Feb lives
        n = as_of.year % 4 + 4 * draw(st.integers(0, 27))
    else:
        n = draw(st.integers(0, 110))
    unit = draw(st.sampled_from(["years", "months"]))
    cond = draw(
        st.sampled_from(
            [
                {"age_at_least": n},
                {"age_below": n},
                {"within_last": {"fact": "birth_date", unit: n}},
                {"at_least_before": {"fact": "birth_date", unit: n}},
            ]
        )
    )
    version = {"version": 1, "effective_from": "1900-01-01", "condition": cond}
    rules = parse_rule_file({"policy": "edge", "versions": [version]})
    anchor = as_of - relativedelta(**{"years" if "age" in next(iter(cond)) else unit: n})
    people = [{"birth_date": anchor + timedelta(days=d)} for d in range(-2, 3)]
    return as_of, RuleBook(rules), people


@settings(max_examples=300, deadline=None)
@given(date_leaf_scenario())
def test_python_and_sql_agree_on_date_edges(engine: Engine, case):
    as_of, book, people = case
    load(engine, people)
    assert sql_answers(engine, book, as_of, statuses=ALL_STATUSES) == python_answers(
        book, as_of, people
    )
