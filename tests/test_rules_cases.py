"""Rule test cases kept beside the rules (``rules/tests/<policy>.yml``), one pytest module.

In the style of OpenFisca's YAML tests: the staff who edit ``rules/*.yml`` add a case
without writing Python. A case names the day the rule is applied (``as_of``), the facts
(added to the file's common ``facts``), the expected ``status`` and, where given, the
``missing`` facts, ``amount``, ``duration`` (by reference to the rule: ``value`` or
``{band: N}``, so each figure is stated once, in the rule), ``reasons`` (all of them, in order),
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
from huimin.rules import Rule, RuleBook, evaluate, load_rules

CASES_DIR = ROOT / "rules" / "tests"
_CHECKED = ("amount", "amount_unit", "duration", "duration_unit")
_CASE_KEYS = {"name", "as_of", "facts", "status", "missing", "reasons", "reasons_include",
              "reasons_exclude", *_CHECKED}
_STATUSES = {"eligible", "not_eligible", "unknown"}


def _check_case(path: Path, case: dict[str, Any]) -> None:
    """The case file's schema: a misspelt key would silently check nothing, so it fails."""
    where = f"{path.name}: case {case.get('name')!r}"
    unknown = set(case) - _CASE_KEYS
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}; expected {sorted(_CASE_KEYS)}"
    assert isinstance(case.get("as_of"), date), f"{where}: as_of must be a date (YYYY-MM-DD)"
    assert case.get("status") in _STATUSES, f"{where}: status must be one of {sorted(_STATUSES)}"


def _stated(rule: Rule, key: str, expected: Any) -> Any:
    """An amount or duration is stated once, in the rule: a case names the rule's fixed
    ``value`` or a row of its table (``{band: N}``, counted from 1 in file order)."""
    quantity = getattr(rule, key.removesuffix("_unit"), None)
    if expected == "value":
        assert quantity is not None and quantity.value is not None, f"{key}: the rule has no value"
        return quantity.value
    if isinstance(expected, dict):
        assert set(expected) == {"band"}, f"{key}: expected {{band: N}}, got {expected}"
        assert quantity is not None and quantity.bands, f"{key}: the rule has no bands"
        return quantity.bands[expected["band"] - 1].value
    return expected


def _plain(facts: dict[str, Any]) -> dict[str, Any]:
    """YAML reads 2024-06-01 as a date; profiles take ISO text, as residents' records do."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in facts.items()}


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            _check_case(path, case)
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
            assert getattr(r, key) == _stated(rule, key, expected[key]), key
    if "reasons" in case:
        assert list(r.reasons) == case["reasons"]
    for reason in case.get("reasons_include", ()):
        assert reason in r.reasons
    for text in case.get("reasons_exclude", ()):
        assert text not in "".join(r.reasons)
