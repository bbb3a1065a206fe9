"""One resident's answer for every policy with a rule: the calculator, /me/benefits and chat
all give exactly this, so they never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from huimin.residents.facts import FACT_NAMES, LABELS, Facts
from huimin.rules import RuleBook, evaluate


@dataclass(frozen=True)
class Quantity:
    value: int
    unit: str

    @property
    def text(self) -> str:
        return f"{self.value}{self.unit}"

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "text": self.text}


@dataclass(frozen=True)
class PolicyAnswer:
    policy: str
    title: str
    rule_version: int
    status: str  # eligible | not_eligible | unknown
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    amount: Quantity | None
    duration: Quantity | None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "title": self.title,
            "rule_version": self.rule_version,
            "status": self.status,
            "missing": list(self.missing),
            "missing_labels": [LABELS[f] for f in self.missing],
            "reasons": list(self.reasons),
            "amount": self.amount.to_json() if self.amount else None,
            "duration": self.duration.to_json() if self.duration else None,
        }


def check(
    book: RuleBook, titles: Mapping[str, str], facts: Facts, as_of: date
) -> list[PolicyAnswer]:
    """Every rule in force on `as_of`, evaluated for these facts, in policy-key order."""
    answers = []
    for rule in book.in_force(as_of):
        result = evaluate(rule, facts, as_of)
        answers.append(PolicyAnswer(
            policy=rule.policy,
            title=titles.get(rule.policy, rule.policy),
            rule_version=rule.version,
            status=result.status,
            missing=result.missing,
            reasons=result.reasons,
            amount=Quantity(result.amount, result.amount_unit or "")
            if result.amount is not None else None,
            duration=Quantity(result.duration, result.duration_unit or "")
            if result.duration is not None else None,
        ))
    return answers


def resident_facts(resident: object) -> Facts:
    """The stored profile of a resident row (columns are named like the facts)."""
    return Facts.from_mapping({name: getattr(resident, name) for name in FACT_NAMES})
