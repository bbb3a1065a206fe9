"""Plain-Chinese wording of conditions and amounts, for reasons shown to citizens."""

from __future__ import annotations

from datetime import date

from huimin.residents.facts import FACTS, choice_label
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
    Span,
    WithinLast,
)

_INT_OPS = {"eq": "为", "ne": "不为", "gte": "不少于", "gt": "多于", "lte": "不超过", "lt": "少于"}
_DATE_OPS = {"eq": "为", "ne": "不为", "gte": "不早于", "gt": "晚于", "lte": "不晚于", "lt": "早于"}
VERDICT = {True: "是", False: "否", None: "未知"}


def describe(cond: Condition) -> str:
    """A short Chinese statement of the condition, e.g. "年龄满80周岁"."""
    if cond.label:
        return cond.label
    if isinstance(cond, AllOf):
        return "且".join(_part(c) for c in cond.all)
    if isinstance(cond, AnyOf):
        parts = [_part(c) for c in cond.any]
        return parts[0] if len(parts) == 1 else "、".join(parts[:-1]) + "或" + parts[-1]
    if isinstance(cond, Not):
        return f"不满足“{describe(cond.not_)}”"
    if isinstance(cond, AgeAtLeast):
        return f"年龄满{cond.age_at_least}周岁"
    if isinstance(cond, AgeBelow):
        return f"年龄未满{cond.age_below}周岁"
    if isinstance(cond, WithinLast):
        return f"{FACTS[cond.within_last.fact].label}在近{_period(cond.within_last)}内"
    if isinstance(cond, AtLeastBefore):
        return f"{FACTS[cond.at_least_before.fact].label}距今已满{_period(cond.at_least_before)}"
    return _compare(cond)


def _part(cond: Condition) -> str:
    text = describe(cond)
    return f"（{text}）" if isinstance(cond, AllOf | AnyOf) and not cond.label else text


def _period(span: Span) -> str:
    return f"{span.years}年" if span.years is not None else f"{span.months}个月"


def _compare(cond: Compare) -> str:
    spec = FACTS[cond.fact]
    if spec.kind == "bool":
        return spec.yes if cond.value else spec.no
    if spec.kind == "enum":
        words = {"eq": "为", "ne": "不为", "in": "为"}
    elif spec.kind == "int":
        words = {**_INT_OPS, "in": "为"}
    else:
        words = {**_DATE_OPS, "in": "为"}
    values = cond.value if cond.op == "in" else (cond.value,)
    shown = [_value(cond.fact, v) for v in values]
    joined = shown[0] if len(shown) == 1 else "、".join(shown[:-1]) + "或" + shown[-1]
    return f"{spec.label}{words[cond.op]}{joined}"


def _value(fact: str, value: object) -> str:
    spec = FACTS[fact]
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    if spec.kind == "enum":
        return choice_label(fact, str(value))
    return f"{value}{spec.unit}"


def quantity_text(q: Quantity, value: int) -> str:
    """E.g. "100元/月", "12个月"."""
    return f"{value}{q.unit}"
