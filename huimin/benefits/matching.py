"""Batch matching: turn the rules' SQL matches into notices, exactly once per resident, policy
and rule version.

For each rule in force, eligible residents stream from a server-side cursor
(`huimin.rules.match_all`) and are written in chunks, each chunk in its own transaction, with
an insert that skips existing (resident, policy, version) rows on both databases. So a run
can stop anywhere and be repeated: nothing is duplicated and nothing is lost. Memory stays
flat however many residents there are.

Alongside the new notices:
- a resident who already confirmed (or was granted) the policy is not asked again when the
  rule gets a new version;
- a new version's notice supersedes an unanswered notice of an older version;
- an unanswered notice whose resident is now definitely not eligible expires (an unknown
  answer never withdraws anything), and comes back if they qualify again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Connection, exists, not_, select, update
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
from huimin.rules import Match, Rule, RuleBook, compile_condition, match_all
from huimin.rules.sql import RESIDENTS

NOTICES = BenefitNotice.__table__
CHUNK = 2000


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


def _chunks(matches: Iterable[Match], size: int) -> Iterator[list[Match]]:
    it = iter(matches)
    while chunk := list(islice(it, size)):
        yield chunk


def _insert(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert notices, skipping existing (resident, policy, version); the new residents' ids."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(NOTICES)
        .on_conflict_do_nothing(index_elements=["resident_id", "policy", "rule_version"])
        .returning(NOTICES.c.resident_id)
    )
    return [row[0] for row in connection.execute(stmt, rows)]


def _values(rule: Rule, m: Match, as_of: date, now: datetime, expires: datetime) -> dict:
    return {
        "resident_id": m.resident_id,
        "policy": rule.policy,
        "rule_version": rule.version,
        "as_of": as_of,
        "amount": m.amount,
        "amount_unit": rule.amount.unit if rule.amount and m.amount is not None else None,
        "duration": m.duration,
        "duration_unit": rule.duration.unit if rule.duration and m.duration is not None else None,
        "status": MATCHED,
        "delivery": PENDING,
        "matched_at": now,
        "expires_at": expires,
        "updated_at": now,
    }


def _store_chunk(
    connection: Connection, rule: Rule, chunk: list[Match], as_of: date, valid: timedelta,
    count: PolicyCount,
) -> None:
    n = NOTICES.c
    now = utcnow()
    expires = now + valid
    ids = [m.resident_id for m in chunk]
    kept = set(connection.scalars(select(n.resident_id).where(
        n.policy == rule.policy, n.status.in_((CONFIRMED, GRANTED)), n.resident_id.in_(ids),
    )))
    fresh = [m for m in chunk if m.resident_id not in kept]
    count.eligible += len(chunk)
    count.kept += len(kept)
    if not fresh:
        return
    created = _insert(connection, [_values(rule, m, as_of, now, expires) for m in fresh])
    count.created += len(created)

    # Withdrawn earlier but eligible again: the same notice comes back (one per version).
    same = (n.policy == rule.policy) & (n.rule_version == rule.version)
    back = set(connection.scalars(select(n.resident_id).where(
        same, n.status == EXPIRED, n.expire_reason == NO_LONGER_ELIGIBLE,
        n.resident_id.in_([m.resident_id for m in fresh]),
    )))
    for m in fresh:
        if m.resident_id in back:
            values = _values(rule, m, as_of, now, expires)
            values |= {"expired_at": None, "expire_reason": None, "push_note": None,
                       "notified_at": None}
            connection.execute(update(NOTICES).where(same, n.resident_id == m.resident_id)
                               .values(values))
    count.reopened += len(back)

    renewed = created + sorted(back)
    if renewed:
        result = connection.execute(
            update(NOTICES)
            .where(n.policy == rule.policy, n.rule_version != rule.version,
                   n.status.in_(OPEN), n.resident_id.in_(renewed))
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
    chunk_size: int = CHUNK,
) -> MatchReport:
    """Match the rules in force on `as_of` (one policy, or all) against all residents or the
    given ones, and record notices. Safe to repeat and to run concurrently with itself."""
    report = MatchReport(as_of)
    valid = timedelta(days=valid_days)
    for rule in book.in_force(as_of, policy):
        count = PolicyCount(rule.policy, rule.version)
        with db.engine.connect() as reader:
            matches = match_all(reader, RuleBook([rule]), as_of, resident_ids=resident_ids,
                                chunk_size=chunk_size)
            for chunk in _chunks(matches, chunk_size):
                with db.engine.begin() as writer:
                    _store_chunk(writer, rule, chunk, as_of, valid, count)
        with db.engine.begin() as writer:
            count.withdrawn = _withdraw_ineligible(writer, rule, as_of, resident_ids)
        report.policies.append(count)
    return report
