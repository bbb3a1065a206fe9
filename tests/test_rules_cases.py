"""Rule test cases kept beside the rules (``rules/tests/<policy>.yml``), one pytest module.

In the style of OpenFisca's YAML tests: the staff who edit ``rules/*.yml`` add a case
without writing Python. A case names the day the rule is applied (``as_of``), the facts
(added to the file's common ``facts``), the expected ``status`` and, where given, the
``missing`` facts, ``amount``, ``duration``, ``reasons`` (all of them, in order),
``reasons_include`` and ``reasons_exclude`` (text no reason may contain); the file's
``eligible`` mapping must hold for every eligible case. A fact given as null is unknown.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from huimin.platform.settings import ROOT
from huimin.residents import parse_profile
from huimin.rules import RuleBook, evaluate, load_rules

CASES_DIR = ROOT / "rules" / "tests"
_CHECKED = ("amount", "amount_unit", "duration", "duration_unit")


def _plain(facts: dict[str, Any]) -> dict[str, Any]:
    """YAML reads 2024-06-01 as a date; profiles take ISO text, as residents' records do."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in facts.items()}


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            facts = _plain({**doc.get("facts", {}), **case.get("facts", {})})
            params.append(pytest.param(path, facts, case, doc.get("eligible", {}),
                                       id=f"{path.stem}: {case['name']}"))
    return params


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules()


def test_every_case_file_names_a_rule(book: RuleBook) -> None:
    files = sorted(CASES_DIR.glob("*.yml"))
    assert files, "no rule test cases found"
    assert {p.stem for p in files} <= set(book.policies)


@pytest.mark.parametrize(("path", "facts", "case", "eligible"), _cases())
def test_rule_case(
    book: RuleBook, path: Path, facts: dict[str, Any], case: dict[str, Any],
    eligible: dict[str, Any],
) -> None:
    as_of = case["as_of"]
    rule = book.get(path.stem, as_of)
    assert rule is not None, f"{path.stem} not in force on {as_of}"
    r = evaluate(rule, parse_profile(facts), as_of)
    assert r.status == case["status"]
    if "missing" in case:
        assert list(r.missing) == case["missing"]
    expected = {**(eligible if r.status == "eligible" else {}), **case}
    for key in _CHECKED:
        if key in expected:
            assert getattr(r, key) == expected[key], key
    if "reasons" in case:
        assert list(r.reasons) == case["reasons"]
    for reason in case.get("reasons_include", ()):
        assert reason in r.reasons
    for text in case.get("reasons_exclude", ()):
        assert text not in "".join(r.reasons)
