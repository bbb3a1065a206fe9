"""Compile rules to SQL (SQLAlchemy Core) and match every resident in batch.

SQL's NULL already behaves as Kleene's unknown: `NULL AND FALSE` is FALSE, `NULL OR TRUE`
is TRUE, `NOT NULL` is NULL, and a comparison with a NULL (missing) fact is NULL. So a
condition compiles to an ordinary boolean expression whose NULL means "unknown"; one CASE
turns it into a status. Date arithmetic is never done in SQL: every threshold is computed
in Python for the evaluation date with dateutil and compared as a constant, so SQLite
and PostgreSQL give exactly the Python answer (29 Feb, month ends included).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    literal,
    not_,
    null,
    or_,
    select,
)

from huimin.residents.models import Resident
from huimin.rules.dates import back, latest_birth_date
from huimin.rules.evaluate import Status
from huimin.rules.schema import (
    AgeAtLeast,
    AgeBelow,
    AllOf,
    AnyOf,
    AtLeastBefore,
    Compare,
    Condition,
    Not,
    Quantity,
    Rule,
    RuleBook,
    WithinLast,
)

RESIDENTS: Table = Resident.__table__  # type: ignore[assignment]
ALL_STATUSES: tuple[Status, ...] = ("eligible", "not_eligible", "unknown")


class Match(NamedTuple):
    resident_id: int
    policy: str
    version: int
    status: Status
    amount: int | None
    duration: int | None


def compile_condition(
    cond: Condition, as_of: date, table: Table = RESIDENTS
) -> ColumnElement[bool]:
    """A boolean SQL expression that is TRUE, FALSE or NULL (unknown) like the Python rule."""
    c = table.c
    if isinstance(cond, AllOf):
        return and_(*(compile_condition(x, as_of, table) for x in cond.all))
    if isinstance(cond, AnyOf):
        return or_(*(compile_condition(x, as_of, table) for x in cond.any))
    if isinstance(cond, Not):
        return not_(compile_condition(cond.not_, as_of, table))
    if isinstance(cond, AgeAtLeast):
        return c.birth_date <= latest_birth_date(as_of, cond.age_at_least)
    if isinstance(cond, AgeBelow):
        return c.birth_date > latest_birth_date(as_of, cond.age_below)
    if isinstance(cond, WithinLast):
        span = cond.within_last
        lo = back(as_of, years=span.years or 0, months=span.months or 0)
        col = c[span.fact]
        return and_(col >= lo, col <= as_of)
    if isinstance(cond, AtLeastBefore):
        span = cond.at_least_before
        return c[span.fact] <= back(as_of, years=span.years or 0, months=span.months or 0)
    assert isinstance(cond, Compare)
    col = c[cond.fact]
    # `is` compiles to "= true/false" (NULL when missing), never to "IS", which is 2-valued.
    if cond.op in ("is", "eq"):
        return col == literal(cond.value, col.type)
    if cond.op == "in":
        return col.in_(cond.value)
    if cond.op == "ne":
        return col != cond.value
    if cond.op == "gte":
        return col >= cond.value
    if cond.op == "gt":
        return col > cond.value
    if cond.op == "lte":
        return col <= cond.value
    return col < cond.value


def compile_status(cond: Condition, as_of: date, table: Table = RESIDENTS) -> ColumnElement[str]:
    """'eligible' / 'not_eligible' / 'unknown', evaluating the condition once per row."""
    return case(
        {True: "eligible", False: "not_eligible"},
        value=compile_condition(cond, as_of, table).self_group(),
        else_="unknown",
    )


def compile_quantity(
    q: Quantity | None, as_of: date, table: Table = RESIDENTS
) -> ColumnElement[int]:
    """The amount/duration as SQL; NULL when the key fact is missing or in no band."""
    if q is None:
        return null()
    if q.value is not None:
        return literal(q.value)
    whens = []
    for band in q.bands or ():
        if q.by == "age":
            key = table.c.birth_date
            cond = key <= latest_birth_date(as_of, band.min)
            if band.max is not None:
                cond = and_(cond, key > latest_birth_date(as_of, band.max + 1))
        else:
            key = table.c[str(q.by)]
            cond = key >= band.min if band.max is None else key.between(band.min, band.max)
        whens.append((cond, band.value))
    return case(*whens, else_=null())


def status_query(
    rule: Rule,
    as_of: date,
    statuses: Collection[Status] = ("eligible",),
    resident_ids: Collection[int] | None = None,
    table: Table = RESIDENTS,
) -> Select:
    """SELECT id, status, amount, duration for the residents whose status is wanted.

    Asking for eligible residents only filters with the condition itself, which the
    planner can serve from indexes (e.g. birth_date <= threshold).
    """
    cond = compile_condition(rule.condition, as_of, table)
    stmt = select(
        table.c.id,
        compile_status(rule.condition, as_of, table).label("status"),
        compile_quantity(rule.amount, as_of, table).label("amount"),
        compile_quantity(rule.duration, as_of, table).label("duration"),
    )
    wanted = set(statuses)
    if unknown := wanted - set(ALL_STATUSES):
        raise ValueError(f"unknown status {sorted(unknown)}; use {', '.join(ALL_STATUSES)}")
    if wanted != set(ALL_STATUSES):
        filters = {"eligible": cond, "not_eligible": not_(cond), "unknown": cond.is_(None)}
        stmt = stmt.where(or_(*(filters[s] for s in ALL_STATUSES if s in wanted)))
    if resident_ids is not None:
        stmt = stmt.where(table.c.id.in_(list(resident_ids)))
    return stmt


def match_all(
    connection: Connection,
    rules: RuleBook,
    as_of: date,
    policy: str | None = None,
    *,
    statuses: Collection[Status] = ("eligible",),
    resident_ids: Collection[int] | None = None,
    chunk_size: int = 10_000,
) -> Iterator[Match]:
    """Stream (resident, policy, version, status, amount, duration) for the rules in force.

    Rows come from a server-side cursor in chunks, so memory does not grow with the
    number of residents. Amount and duration are given for eligible residents only.
    """
    for rule in rules.in_force(as_of, policy):
        stmt = status_query(rule, as_of, statuses, resident_ids)
        result = connection.execution_options(yield_per=chunk_size).execute(stmt)
        with result:
            for rid, status, amount, duration in result:
                if status == "eligible":
                    yield Match(rid, rule.policy, rule.version, status, amount, duration)
                else:
                    yield Match(rid, rule.policy, rule.version, status, None, None)
