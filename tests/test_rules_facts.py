"""The resident facts contract: names, types, labels, and the validated parser."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pytest

from huimin.residents import FACT_NAMES, FACTS, LABELS, Facts, ProfileError, parse_profile

CONTRACT = [
    "birth_date",
    "gender",
    "local_hukou",
    "employment_status",
    "registered_unemployed",
    "involuntary_separation",
    "unemployment_insurance_months",
    "hard_to_employ",
    "flexible_employment_registered",
    "paying_pension_insurance",
    "receiving_pension",
    "resident_pension_insured",
    "pension_contribution_years",
    "graduation_date",
    "final_year_student",
    "low_income_household",
    "disabled",
    "business_registered_date",
    "startup_subsidy_received",
    "returned_migrant_worker",
    "certificate_level",
    "certificate_date",
]


def problems(data: dict, **kw) -> dict[str, tuple[str, str]]:
    with pytest.raises(ProfileError) as exc:
        parse_profile(data, **kw)
    return {p.field: (p.message, p.message_zh) for p in exc.value.problems}


def test_contract_names_are_exactly_the_published_ones():
    assert list(FACT_NAMES) == CONTRACT
    assert [f.name for f in fields(Facts)] == CONTRACT
    assert set(LABELS) == set(CONTRACT) and all(LABELS.values())
    assert LABELS["birth_date"] == "出生日期"
    assert LABELS["local_hukou"] == "是否本市户籍"
    for spec in FACTS.values():
        if spec.kind == "bool":
            assert spec.yes and spec.no, spec.name


def test_parse_full_profile_types():
    facts = parse_profile(
        {
            "birth_date": "1960-02-29",
            "gender": "female",
            "local_hukou": True,
            "employment_status": "flexible",
            "unemployment_insurance_months": 0,
            "certificate_level": 5,
            "certificate_date": "2024-08-31",
            "disabled": None,
        }
    )
    assert facts.birth_date == date(1960, 2, 29)
    assert facts.local_hukou is True
    assert facts.certificate_level == 5
    assert facts.disabled is None and facts.receiving_pension is None
    assert facts.known()["gender"] == "female"
    assert facts.to_json()["certificate_date"] == "2024-08-31"


def test_empty_profile_is_all_unknown():
    assert parse_profile({}) == Facts()


def test_unknown_fact_is_named():
    found = problems({"hukou": True})
    assert found["hukou"][0] == "unknown fact 'hukou'"
    assert "hukou" in found["hukou"][1]


def test_impossible_date_is_named_in_both_languages():
    found = problems({"birth_date": "2023-02-30"})
    en, zh = found["birth_date"]
    assert en == "birth_date: 2023-02-30 is not a real date"
    assert zh == "“出生日期”不是有效日期：2023-02-30"


@pytest.mark.parametrize(
    ("field", "value", "english"),
    [
        ("birth_date", "1960/01/01", "birth_date must be a date written YYYY-MM-DD"),
        ("birth_date", 19600101, "birth_date must be a date written YYYY-MM-DD"),
        ("local_hukou", "yes", "local_hukou must be true or false"),
        ("local_hukou", 1, "local_hukou must be true or false"),
        ("unemployment_insurance_months", "12", "must be a whole number"),
        ("unemployment_insurance_months", 12.5, "must be a whole number"),
        ("unemployment_insurance_months", True, "must be a whole number"),
        ("unemployment_insurance_months", -1, "must be between 0 and 1200"),
        ("certificate_level", 0, "certificate_level must be between 1 and 5, got 0"),
        ("certificate_level", 6, "certificate_level must be between 1 and 5, got 6"),
        ("gender", "other", "gender must be one of: male, female"),
        ("employment_status", "working", "employment_status must be one of"),
    ],
)
def test_wrong_values_are_named(field, value, english):
    found = problems({field: value})
    assert list(found) == [field]
    assert english in found[field][0]
    assert FACTS[field].label in found[field][1]  # the citizen sees the Chinese name


def test_all_problems_reported_at_once():
    found = problems({"birth_date": "2023-13-01", "certificate_level": 9, "foo": 1})
    assert set(found) == {"birth_date", "certificate_level", "foo"}
    assert found["certificate_level"][1] == "“职业技能等级证书等级”应在1至5级之间"


def test_text_mode_for_csv_values():
    facts = parse_profile(
        {
            "local_hukou": "是",
            "disabled": "false",
            "gender": "女",
            "certificate_level": " 3 ",
            "graduation_date": "",
            "birth_date": "1990-01-31",
        },
        text=True,
    )
    assert facts.local_hukou is True and facts.disabled is False
    assert facts.gender == "female" and facts.certificate_level == 3
    assert facts.graduation_date is None
    assert set(problems({"local_hukou": "maybe"}, text=True)) == {"local_hukou"}
