"""The eight rules of issue 6, as shipped in rules/*.yml, at their boundaries (Python side).

Every case (facts -> status, missing facts, reasons, amount) is YAML beside the rules, in
rules/tests/, run by test_rules_cases.py; what stays here is about the rule book as a whole
(which rules ship, when they are in force) and the engine's quick mode on a shipped rule.

The SQL side is checked against these same answers in test_rules_sql.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from huimin.platform.settings import ROOT
from huimin.residents import parse_profile
from huimin.rules import RuleBook, evaluate, evaluate_all, load_rules


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules()


def test_all_eight_rules_load(book: RuleBook):
    assert book.policies == sorted(
        [
            "elderly_allowance",
            "flexible_employment_subsidy",
            "unemployment_insurance",
            "startup_subsidy",
            "graduate_job_search_subsidy",
            "residents_basic_pension",
            "vocational_training_subsidy",
            "skill_upgrade_subsidy",
        ]
    )
    assert all(r.version == 1 and r.effective_from == date(2024, 1, 1) for r in book.rules)


def test_every_rule_belongs_to_a_catalogue_policy(book: RuleBook):
    for policy in book.policies:
        assert (ROOT / "policies" / f"{policy}.yml").is_file(), policy


def test_not_in_force_before_effective_date(book: RuleBook):
    assert evaluate_all(book, parse_profile({}), date(2023, 12, 31)) == []
    assert len(evaluate_all(book, parse_profile({}), date(2024, 1, 1))) == 8


def test_explain_false_gives_same_answer_without_reasons(book):
    rule = book.get("elderly_allowance", date(2024, 6, 15))
    facts = parse_profile({"local_hukou": True, "birth_date": "1930-01-01"})
    full = evaluate(rule, facts, date(2024, 6, 15))
    quick = evaluate(rule, facts, date(2024, 6, 15), explain=False)
    assert quick.reasons == () and full.reasons
    assert (quick.status, quick.amount, quick.missing) == (full.status, full.amount, full.missing)
