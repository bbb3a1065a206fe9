"""Rule files are validated at load: every problem names the file and the field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.residents import Facts
from huimin.rules import (
    RuleFileError,
    describe,
    evaluate,
    load_rules,
    parse_condition,
    parse_rule_file,
)

GOOD = """\
policy: demo
versions:
  - version: 1
    effective_from: 2024-01-01
    effective_to: 2024-12-31
    condition: {age_at_least: 80}
  - version: 2
    effective_from: 2025-01-01
    condition:
      all:
        - {fact: local_hukou, is: true}
        - {age_at_least: 75}
    amount: {unit: 元, value: 50}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def load_error(tmp_path: Path, text: str, name: str = "demo.yml") -> str:
    with pytest.raises(RuleFileError) as exc:
        load_rules(write(tmp_path, name, text))
    return str(exc.value)


def test_versions_in_force_by_date(tmp_path):
    book = load_rules(write(tmp_path, "demo.yml", GOOD))
    assert book.get("demo", date(2023, 12, 31)) is None
    assert book.get("demo", date(2024, 12, 31)).version == 1
    v2 = book.get("demo", date(2025, 1, 1))
    assert v2.version == 2
    facts = Facts(local_hukou=True, birth_date=date(1949, 1, 1))
    assert evaluate(v2, facts, date(2025, 1, 1)).amount == 50
    assert evaluate(book.get("demo", date(2024, 6, 1)), facts, date(2024, 6, 1)).status == (
        "not_eligible"
    )


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (
            GOOD.replace("fact: local_hukou", "fact: hukou"),
            "rules/demo.yml: versions[1].condition.all[0]: unknown fact 'hukou'",
        ),
        (
            GOOD.replace("is: true", "eq: true"),
            "rules/demo.yml: versions[1].condition.all[0]: 'local_hukou' is a yes/no fact",
        ),
        (
            GOOD.replace("{age_at_least: 75}", "{age_over: 75}"),
            "rules/demo.yml: versions[1].condition.all[1]: a condition needs one of: all, any",
        ),
        (
            GOOD.replace("{age_at_least: 75}", "{age_at_least: -1}"),
            "rules/demo.yml: versions[1].condition.all[1].age_at_least: Input should be greater",
        ),
        (
            GOOD.replace("value: 50", "value: fifty"),
            "rules/demo.yml: versions[1].amount.value: Input should be a valid integer",
        ),
        (
            GOOD.replace("effective_from: 2025-01-01", "effective_from: 2024-06-01"),
            "rules/demo.yml: versions: versions 1 and 2 are both in force on 2024-06-01",
        ),
        (
            GOOD.replace("effective_to: 2024-12-31", "effective_to: 2024-02-30"),
            "rules/demo.yml: versions[0].effective_to: Input should be a valid date",
        ),
        (
            GOOD.replace("version: 2", "version: 1"),
            "rules/demo.yml: versions: version numbers must be unique",
        ),
        (
            GOOD.replace("    condition: {age_at_least: 80}\n", ""),
            "rules/demo.yml: versions[0].condition: required field is missing",
        ),
        (
            GOOD.replace("amount: {unit: 元, value: 50}", "amount: {unit: 元, value: 5, x: 1}"),
            "rules/demo.yml: versions[1].amount.x: unexpected key",
        ),
        ("policy: demo\nversions: [", "rules/demo.yml: not valid YAML"),
    ],
)
def test_bad_rule_file_names_file_and_field(tmp_path, bad, expected):
    assert expected in load_error(tmp_path, bad)


def test_policy_must_match_file_name(tmp_path):
    message = load_error(tmp_path, GOOD, name="other.yml")
    assert "rules/other.yml: policy: 'demo' does not match the file name 'other'" in message


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            {"within_last": {"fact": "gender", "years": 1}},
            "within_last.fact: 'gender' is not a date",
        ),
        ({"within_last": {"fact": "graduation_date"}}, "give exactly one of years or months"),
        ({"fact": "certificate_level", "gte": "a"}, "'certificate_level' is a whole number"),
        ({"fact": "gender", "gte": "male"}, "'gender' is a choice; use eq, ne or in"),
        ({"fact": "gender", "eq": "other"}, "'gender' must be one of: male, female"),
        ({"fact": "gender", "in": []}, "'in' needs a non-empty list"),
        ({"fact": "local_hukou", "is": True, "eq": 1}, "exactly one of: is, eq"),
        ({"fact": "local_hukou", "equals": True}, "unexpected key 'equals'"),
        ({"any": []}, "any: List should have at least 1 item"),
        ({"not": {"not": {"foo": 1}}}, "condition.not.not: a condition needs one of"),
    ],
)
def test_bad_conditions(condition, expected):
    with pytest.raises(RuleFileError) as exc:
        parse_rule_file(
            {
                "policy": "x",
                "versions": [
                    {"version": 1, "effective_from": "2024-01-01", "condition": condition}
                ],
            },
            "rules/x.yml",
        )
    assert expected in str(exc.value)
    assert str(exc.value).startswith("rules/x.yml: versions[0].condition")


@pytest.mark.parametrize(
    ("band_spec", "expected"),
    [
        (
            {"by": "age", "bands": [{"min": 80, "max": 90, "value": 1}, {"min": 90, "value": 2}]},
            "bands overlap at 90",
        ),
        ({"by": "gender", "bands": [{"min": 1, "value": 1}]}, "by must be 'age' or a whole-number"),
        ({"by": "age"}, "give either value, or by and bands"),
        ({"value": 1, "by": "age", "bands": [{"min": 1, "value": 1}]}, "not both"),
        ({"by": "age", "bands": [{"min": 9, "max": 8, "value": 1}]}, "max (8) is below min (9)"),
    ],
)
def test_bad_amount_tables(band_spec, expected):
    with pytest.raises(RuleFileError) as exc:
        parse_rule_file(
            {
                "policy": "x",
                "versions": [
                    {
                        "version": 1,
                        "effective_from": "2024-01-01",
                        "condition": {"age_at_least": 1},
                        "amount": {"unit": "元", **band_spec},
                    }
                ],
            },
            "rules/x.yml",
        )
    assert str(exc.value).startswith("rules/x.yml: versions[0].amount")
    assert expected in str(exc.value)


def test_no_code_in_data_only_values():
    """A would-be expression is just an unknown operator or a wrong-typed value."""
    with pytest.raises(RuleFileError):
        parse_condition({"eval": "__import__('os').system('true')"})
    with pytest.raises(RuleFileError):
        parse_condition({"fact": "certificate_level", "gte": "__import__('os')"})


def test_generated_wording():
    cases = {
        "年龄满80周岁": {"age_at_least": 80},
        "年龄未满16周岁": {"age_below": 16},
        "本市户籍": {"fact": "local_hukou", "is": True},
        "未领取养老金": {"fact": "receiving_pension", "is": False},
        "就业状态为灵活就业或单位就业": {
            "fact": "employment_status",
            "in": ["flexible", "employed"],
        },
        "失业保险累计缴费月数不少于12个月": {"fact": "unemployment_insurance_months", "gte": 12},
        "毕业日期在近2年内": {"within_last": {"fact": "graduation_date", "years": 2}},
        "营业执照登记日期距今已满6个月": {
            "at_least_before": {"fact": "business_registered_date", "months": 6}
        },
        "出生日期早于1960年1月1日": {"fact": "birth_date", "lt": "1960-01-01"},
        "（性别为女且年龄满40周岁）或属于就业困难人员": {
            "any": [
                {"all": [{"fact": "gender", "eq": "female"}, {"age_at_least": 40}]},
                {"fact": "hard_to_employ", "is": True},
            ]
        },
        "不满足“属于残疾人”": {"not": {"fact": "disabled", "is": True}},
        "自定义说明": {"label": "自定义说明", "age_at_least": 1},
    }
    for text, cond in cases.items():
        assert describe(parse_condition(cond)) == text
