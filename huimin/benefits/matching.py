"""Batch matching: turn the rules' SQL matches into notices, exactly once per resident, policy
and rule version.

Set-based: for each rule in force, the database does the work in a few statements whatever
the number of residents (INSERT ... SELECT of the eligible residents with ON CONFLICT DO
NOTHING on (resident, policy, version), one UPDATE to reopen, one to supersede, one to
withdraw), so no resident row travels to Python and memory stays flat. Each rule's notices
are written in one transaction, so a run can stop anywhere and be repeated: nothing is
duplicated and nothing is lost; concurrent runs wait on each other's new rows and skip them.

Alongside the new notices:
- a resident who already confirmed (or was granted) the policy is not asked again when the
  rule gets a new version;
- a new version's notice supersedes an unanswered notice of an older version;
- an unanswered notice whose resident is now definitely not eligible expires (an unknown
  answer never withdraws anything), and comes back if they qualify again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from huimin.benefits.models import (
    CONFIRMED,
    EXPIRED,
    GRANTED,
    MATCHED,
    OPEN,
    PENDING,
    BenefitNotice,
)
from huimin.benefits.notices import NO_LONGER_ELIGIBLE, SUPERSEDED
from huimin.platform.db import Database, utcnow
from huimin.rules import Rule, RuleBook, compile_condition
from huimin.rules.sql import RESIDENTS, compile_quantity

NOTICES = BenefitNotice.__table__


@dataclass
class PolicyCount:
    policy: str
    version: int
    eligible: int = 0  # residents the rule matched
    created: int = 0  # new notices
    reopened: int = 0  # withdrawn notices whose resident qualifies again
    kept: int = 0  # already confirmed or granted: not asked again
    superseded: int = 0  # older-version notices replaced
    withdrawn: int = 0  # unanswered notices of residents no longer eligible


@dataclass
class MatchReport:
    as_of: date
    policies: list[PolicyCount] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(p.created + p.reopened for p in self.policies)

    def lines(self) -> list[str]:
        """Plain-English summary for operators, one line per policy."""
        return [
            f"{p.policy} v{p.version}: {p.eligible} eligible, {p.created} new notices, "
            f"{p.reopened} reopened, {p.kept} already confirmed, {p.superseded} superseded, "
            f"{p.withdrawn} withdrawn"
            for p in self.policies
        ]


def _kept(rule: Rule) -> ColumnElement[bool]:
    """The resident already confirmed (or was granted) this policy: not asked again."""
    k = NOTICES.alias("kept")
    return exists().where(
        k.c.resident_id == RESIDENTS.c.id, k.c.policy == rule.policy,
        k.c.status.in_((CONFIRMED, GRANTED)),
    )


def _eligible(rule: Rule, as_of: date, resident_ids: Collection[int] | None):
    """WHERE clause: eligible under the rule (TRUE, not unknown), optionally these residents."""
    where = [compile_condition(rule.condition, as_of)]
    if resident_ids is not None:
        where.append(RESIDENTS.c.id.in_(list(resident_ids)))
    return and_(*where)


def _unit(quantity: Any, value: ColumnElement[Any]) -> ColumnElement[Any]:
    if quantity is None:
        return null()
    return case((value.is_not(None), literal(quantity.unit, String())), else_=null())


def _insert_counting_pg(
    connection: Connection, values: dict[str, ColumnElement[Any]], eligible: ColumnElement[bool],
    kept: ColumnElement[bool], count: PolicyCount,
) -> None:
    """PostgreSQL: the eligible residents are read once for both the counts and the insert
    (a data-modifying WITH), not in one scan each."""
    names = list(values)
    now_eligible = (
        select(*(cast(v, NOTICES.c[k].type).label(k) for k, v in values.items()),
               kept.label("is_kept"))
        .where(eligible).cte("now_eligible")
    )
    created = (
        postgresql.insert(NOTICES)
        .from_select(names, select(*(now_eligible.c[k] for k in names))
                     .where(not_(now_eligible.c.is_kept)))
        .on_conflict_do_nothing(index_elements=["resident_id", "policy", "rule_version"])
        .returning(NOTICES.c.id)
        .cte("created")
    )
    totals = connection.execute(select(
        select(func.count()).select_from(now_eligible).scalar_subquery(),
        select(func.count()).select_from(now_eligible).where(now_eligible.c.is_kept)
        .scalar_subquery(),
        select(func.count()).select_from(created).scalar_subquery(),
    )).one()
    count.eligible += int(totals[0])
    count.kept += int(totals[1])
    count.created += int(totals[2])


def _store(
    connection: Connection, rule: Rule, as_of: date, valid: timedelta,
    resident_ids: Collection[int] | None, count: PolicyCount,
) -> None:
    """New notices for the eligible residents, withdrawn ones reopened and older versions'
    unanswered notices superseded: three statements, whatever the number of residents."""
    n, r = NOTICES.c, RESIDENTS.c
    now = utcnow()
    expires = now + valid
    eligible = _eligible(rule, as_of, resident_ids)
    kept = _kept(rule)
    amount = compile_quantity(rule.amount, as_of)
    duration = compile_quantity(rule.duration, as_of)
    fresh = and_(eligible, not_(kept))
    values = {
        "resident_id": r.id,
        "policy": literal(rule.policy, String()),
        "rule_version": literal(rule.version, Integer()),
        "as_of": literal(as_of, Date()),
        "amount": amount,
        "amount_unit": _unit(rule.amount, amount),
        "duration": duration,
        "duration_unit": _unit(rule.duration, duration),
        "status": literal(MATCHED, String()),
        "delivery": literal(PENDING, String()),
        "matched_at": literal(now, DateTime()),
        "expires_at": literal(expires, DateTime()),
        "updated_at": literal(now, DateTime()),
    }
    if connection.dialect.name == "postgresql":
        _insert_counting_pg(connection, values, eligible, kept, count)
    else:
        totals = connection.execute(
            select(func.count(), func.coalesce(func.sum(case((kept, 1), else_=0)), 0))
            .select_from(RESIDENTS).where(eligible)
        ).one()
        count.eligible += int(totals[0])
        count.kept += int(totals[1])
        insert = sqlite.insert(NOTICES).from_select(
            list(values), select(*values.values()).where(fresh)
        ).on_conflict_do_nothing(index_elements=["resident_id", "policy", "rule_version"])
        created = connection.execute(insert.execution_options(preserve_rowcount=True))
        count.created += int(created.rowcount or 0)

    # Withdrawn earlier but eligible again: the same notice comes back (one per version).
    same = (n.policy == rule.policy) & (n.rule_version == rule.version)
    reopen = (
        update(NOTICES)
        .where(same, n.resident_id == r.id, n.status == EXPIRED,
               n.expire_reason == NO_LONGER_ELIGIBLE, fresh)
        .values({k: v for k, v in values.items() if k not in ("resident_id",)}
                | {"expired_at": None, "expire_reason": None, "push_note": None,
                   "notified_at": None})
    )
    count.reopened += int(connection.execute(reopen).rowcount or 0)

    # This run's new and reopened notices (matched now) supersede older versions' open ones.
    renewed = NOTICES.alias("renewed")
    result = connection.execute(
        update(NOTICES)
        .where(n.policy == rule.policy, n.rule_version != rule.version, n.status.in_(OPEN),
               exists().where(renewed.c.resident_id == n.resident_id,
                              renewed.c.policy == rule.policy,
                              renewed.c.rule_version == rule.version,
                              renewed.c.status == MATCHED, renewed.c.matched_at == now))
        .values(status=EXPIRED, expired_at=now, expire_reason=SUPERSEDED, updated_at=now)
    )
    count.superseded += int(result.rowcount or 0)


def _withdraw_ineligible(
    connection: Connection, rule: Rule, as_of: date, resident_ids: Collection[int] | None
) -> int:
    """Expire unanswered notices of this policy whose resident is now definitely not eligible
    under the rule in force (NULL, i.e. unknown, never withdraws)."""
    n, r = NOTICES.c, RESIDENTS.c
    now = utcnow()
    ineligible = exists().where(
        r.id == n.resident_id, not_(compile_condition(rule.condition, as_of))
    )
    stmt = update(NOTICES).where(n.policy == rule.policy, n.status.in_(OPEN), ineligible)
    if resident_ids is not None:
        stmt = stmt.where(n.resident_id.in_(list(resident_ids)))
    result = connection.execute(stmt.values(
        status=EXPIRED, expired_at=now, expire_reason=NO_LONGER_ELIGIBLE, updated_at=now,
    ))
    return int(result.rowcount or 0)


def run_matching(
    db: Database,
    book: RuleBook,
    as_of: date,
    *,
    policy: str | None = None,
    resident_ids: Collection[int] | None = None,
    valid_days: int = 90,
) -> MatchReport:
    """Match the rules in force on `as_of` (one policy, or all) against all residents or the
    given ones, and record notices. Safe to repeat and to run concurrently with itself."""
    report = MatchReport(as_of)
    valid = timedelta(days=valid_days)
    for rule in book.in_force(as_of, policy):
        count = PolicyCount(rule.policy, rule.version)
        with db.engine.begin() as writer:
            _store(writer, rule, as_of, valid, resident_ids, count)
        with db.engine.begin() as writer:
            count.withdrawn = _withdraw_ineligible(writer, rule, as_of, resident_ids)
        report.policies.append(count)
    return report
