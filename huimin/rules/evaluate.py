"""Evaluate a rule for one resident in Python, with three-valued (Kleene) logic.

Each condition is True, False or None (unknown: it depends on missing facts). `all` is
False as soon as one part is False, `any` is True as soon as one part is True, whatever
else is missing. This is the reference semantics; the SQL compiler must agree with it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from typing import Literal

from huimin.residents.facts import FACT_NAMES, Facts
from huimin.rules.dates import age_on, back
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
from huimin.rules.text import VERDICT, describe

Status = Literal["eligible", "not_eligible", "unknown"]
Tri = bool | None
_STATUS: dict[Tri, Status] = {True: "eligible", False: "not_eligible", None: "unknown"}
_ORDER = {"eq": operator.eq, "ne": operator.ne, "gte": operator.ge, "gt": operator.gt}
_ORDER |= {"lte": operator.le, "lt": operator.lt}


@dataclass(frozen=True)
class Result:
    """One policy's answer for one resident.

    `missing`: when unknown, the facts the answer depends on; when eligible, the facts
    still needed to work out the amount or duration; otherwise empty.
    """

    policy: str
    version: int
    status: Status
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    amount: int | None = None
    amount_unit: str | None = None
    duration: int | None = None
    duration_unit: str | None = None


@dataclass(frozen=True, slots=True)
class _Node:
    """A condition prepared for one evaluation date: a fast test plus its structure."""

    test: Callable[[Facts], Tri]
    cond: Condition
    children: tuple[_Node, ...]
    fact: str | None  # the fact a leaf reads


def _prepare(cond: Condition, as_of: date) -> _Node:
    if isinstance(cond, AllOf):
        children = tuple(_prepare(c, as_of) for c in cond.all)
        return _Node(_kleene(tuple(c.test for c in children), False), cond, children, None)
    if isinstance(cond, AnyOf):
        children = tuple(_prepare(c, as_of) for c in cond.any)
        return _Node(_kleene(tuple(c.test for c in children), True), cond, children, None)
    if isinstance(cond, Not):
        inner = _prepare(cond.not_, as_of)
        return _Node(_not(inner.test), cond, (inner,), None)
    fact, check = _leaf(cond, as_of)
    get = attrgetter(fact)

    def test(facts: Facts) -> Tri:
        value = get(facts)
        return None if value is None else check(value)

    return _Node(test, cond, (), fact)


def _kleene(tests: tuple[Callable[[Facts], Tri], ...], decisive: bool) -> Callable[[Facts], Tri]:
    """`all` (decisive False) or `any` (decisive True): the decisive value as soon as one part
    has it, else unknown if any part is unknown, else the other value."""

    def test(facts: Facts) -> Tri:
        unknown = False
        for t in tests:
            v = t(facts)
            if v is decisive:
                return decisive
            if v is None:
                unknown = True
        return None if unknown else not decisive

    return test


def _not(inner: Callable[[Facts], Tri]) -> Callable[[Facts], Tri]:
    def test(facts: Facts) -> Tri:
        v = inner(facts)
        return None if v is None else not v

    return test


def _leaf(cond: Condition, as_of: date) -> tuple[str, Callable[[object], bool]]:
    """The fact a leaf reads and its test on a known value, straight from the definitions."""
    if isinstance(cond, AgeAtLeast):
        n = cond.age_at_least
        return "birth_date", lambda b: age_on(b, as_of) >= n
    if isinstance(cond, AgeBelow):
        n = cond.age_below
        return "birth_date", lambda b: age_on(b, as_of) < n
    if isinstance(cond, WithinLast):
        span = cond.within_last
        lo = back(as_of, years=span.years or 0, months=span.months or 0)
        return span.fact, lambda d: lo <= d <= as_of
    if isinstance(cond, AtLeastBefore):
        span = cond.at_least_before
        hi = back(as_of, years=span.years or 0, months=span.months or 0)
        return span.fact, lambda d: d <= hi
    assert isinstance(cond, Compare)
    want = cond.value
    if cond.op == "is":
        return cond.fact, lambda v: v is want
    if cond.op == "in":
        return cond.fact, frozenset(want).__contains__
    op = _ORDER[cond.op]
    return cond.fact, lambda v: op(v, want)


def _missing(node: _Node, facts: Facts, out: set[str]) -> None:
    """Collect the missing facts under an unknown node (only its unknown parts count)."""
    if node.fact is not None:
        out.add(node.fact)
        return
    for child in node.children:
        if child.test(facts) is None:
            _missing(child, facts, out)


@dataclass(frozen=True, slots=True)
class _Prepared:
    root: _Node
    parts: tuple[tuple[_Node, str], ...]  # the top-level conditions and their wording
    amount: Callable[[Facts], tuple[int | None, str | None]] | None
    duration: Callable[[Facts], tuple[int | None, str | None]] | None


def _prepared(rule: Rule, as_of: date) -> _Prepared:
    found = rule.prepared.get(as_of)
    if found is None:
        if len(rule.prepared) > 16:  # a long-running process sees many dates; keep few
            rule.prepared.clear()
        root = _prepare(rule.condition, as_of)
        parts = root.children if isinstance(rule.condition, AllOf) else (root,)
        found = _Prepared(
            root,
            tuple((p, describe(p.cond)) for p in parts),
            _quantity(rule.amount, as_of) if rule.amount else None,
            _quantity(rule.duration, as_of) if rule.duration else None,
        )
        rule.prepared[as_of] = found
    return found


def _quantity(q: Quantity, as_of: date) -> Callable[[Facts], tuple[int | None, str | None]]:
    """value(facts) -> (value, missing fact or None)."""
    if q.value is not None:
        fixed = q.value
        return lambda facts: (fixed, None)
    bands = [(b.min, b.max, b.value) for b in q.bands or ()]
    fact = "birth_date" if q.by == "age" else str(q.by)
    get = attrgetter(fact)

    def value(facts: Facts) -> tuple[int | None, str | None]:
        raw = get(facts)
        if raw is None:
            return None, fact
        key = age_on(raw, as_of) if q.by == "age" else raw
        for lo, hi, v in bands:
            if lo <= key and (hi is None or key <= hi):
                return v, None
        return None, None

    return value


def evaluate(rule: Rule, facts: Facts, as_of: date, *, explain: bool = True) -> Result:
    """Evaluate one rule for one resident on `as_of`.

    With `explain=False` the reasons are left out (batch use); status, missing facts and
    amounts are the same.
    """
    p = _prepared(rule, as_of)
    verdict = p.root.test(facts)
    status = _STATUS[verdict]
    missing: set[str] = set()
    if verdict is None:
        _missing(p.root, facts, missing)
    reasons: list[str] = []
    if explain:
        reasons = [f"{text}：{VERDICT[node.test(facts)]}" for node, text in p.parts]
    amount = duration = None
    if verdict is True:
        shown = reasons if explain else None
        amount = _quantity_value(p.amount, rule.amount, "补贴金额", facts, missing, shown)
        duration = _quantity_value(p.duration, rule.duration, "享受期限", facts, missing, shown)
    return Result(
        policy=rule.policy,
        version=rule.version,
        status=status,
        missing=tuple(f for f in FACT_NAMES if f in missing),
        reasons=tuple(reasons),
        amount=amount,
        amount_unit=rule.amount.unit if rule.amount and amount is not None else None,
        duration=duration,
        duration_unit=rule.duration.unit if rule.duration and duration is not None else None,
    )


def _quantity_value(
    fn: Callable[[Facts], tuple[int | None, str | None]] | None,
    q: Quantity | None,
    title: str,
    facts: Facts,
    missing: set[str],
    reasons: list[str] | None,
) -> int | None:
    if fn is None or q is None:
        return None
    value, lacking = fn(facts)
    if lacking:
        missing.add(lacking)
    if reasons is not None:
        reasons.append(f"{title}：{value}{q.unit}" if value is not None else f"{title}：待确定")
    return value


def evaluate_all(
    rules: RuleBook | Iterable[Rule], facts: Facts, as_of: date, *, explain: bool = True
) -> list[Result]:
    """Every policy's answer for one resident: the rules in force on `as_of`, by policy."""
    chosen = rules.in_force(as_of) if isinstance(rules, RuleBook) else list(rules)
    return [evaluate(r, facts, as_of, explain=explain) for r in chosen]
