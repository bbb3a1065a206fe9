"""The eight rules of issue 6, as shipped in rules/*.yml, at their boundaries (Python side).

The tabular cases (age bands, durations, amounts by level, date edges) are YAML beside the
rules, in rules/tests/, run by test_rules_cases.py; what stays here needs more than a table
(reasons in order, three-valued logic, several calls per case).

The SQL side is checked against these same answers in test_rules_sql.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from huimin.platform.settings import ROOT
from huimin.residents import parse_profile
from huimin.rules import Result, RuleBook, evaluate, evaluate_all, load_rules


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules()


def check(book: RuleBook, policy: str, on: str, **facts) -> Result:
    as_of = date.fromisoformat(on)
    rule = book.get(policy, as_of)
    assert rule is not None, f"{policy} not in force on {on}"
    return evaluate(rule, parse_profile(facts), as_of)


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


# --- elderly_allowance -------------------------------------------------------------------


def test_elderly_allowance_reasons(book):
    r = check(book, "elderly_allowance", "2024-06-15", local_hukou=True, birth_date="1944-06-15")
    assert r.reasons == ("本市户籍：是", "年龄满80周岁：是", "补贴金额：100元/月")
    assert r.missing == ()


def test_elderly_allowance_three_valued(book):
    r = check(book, "elderly_allowance", "2024-06-15", birth_date="1930-01-01")
    assert r.status == "unknown" and r.missing == ("local_hukou",)
    assert r.reasons == ("本市户籍：未知", "年龄满80周岁：是")
    assert r.amount is None  # no amount unless eligible
    # a false part decides, whatever is missing
    r = check(book, "elderly_allowance", "2024-06-15", local_hukou=False)
    assert (r.status, r.missing) == ("not_eligible", ())
    assert r.reasons == ("本市户籍：否", "年龄满80周岁：未知")
    r = check(book, "elderly_allowance", "2024-06-15", birth_date="1990-01-01")
    assert (r.status, r.missing) == ("not_eligible", ())
    r = check(book, "elderly_allowance", "2024-06-15")
    assert r.status == "unknown" and r.missing == ("birth_date", "local_hukou")


# --- flexible_employment_subsidy ---------------------------------------------------------

FLEX = {
    "local_hukou": True,
    "employment_status": "flexible",
    "flexible_employment_registered": True,
    "paying_pension_insurance": True,
    "receiving_pension": False,
    "hard_to_employ": False,
    "graduation_date": "2000-07-01",
}


def test_flexible_employment_recent_graduate_edges(book):
    base = {**FLEX, "gender": "male", "birth_date": "2000-01-01"}
    on = "2024-08-31"
    r = check(book, "flexible_employment_subsidy", on, **{**base, "graduation_date": "2022-08-31"})
    assert r.status == "eligible"
    r = check(book, "flexible_employment_subsidy", on, **{**base, "graduation_date": "2022-08-30"})
    assert r.status == "not_eligible"
    r = check(book, "flexible_employment_subsidy", on, **{**base, "graduation_date": "2024-09-01"})
    assert r.status == "not_eligible"  # a future date is not "within the last 2 years"


def test_flexible_employment_or_with_true_part_is_true(book):
    facts = {**FLEX, "hard_to_employ": True, "graduation_date": None}
    r = check(book, "flexible_employment_subsidy", "2024-06-01", **facts)  # no age, no gender
    assert r.status == "eligible" and r.missing == ()


def test_flexible_employment_unknown_lists_exactly_the_missing_facts(book):
    facts = {**FLEX, "gender": "female", "birth_date": "1990-01-01", "graduation_date": None}
    r = check(book, "flexible_employment_subsidy", "2024-06-01", **facts)
    assert r.status == "unknown" and r.missing == ("graduation_date",)
    assert r.reasons[-1] == "属于4050人员、就业困难人员或近2年内毕业的高校毕业生：未知"
    # Gender unknown too: at 34 both the woman-40 and man-50 branches are false by age
    # alone, so gender is not listed; only the graduation date still matters.
    r = check(book, "flexible_employment_subsidy", "2024-06-01", **{**facts, "gender": None})
    assert (r.status, r.missing) == ("unknown", ("graduation_date",))


def test_flexible_employment_pensioner_excluded(book):
    facts = {**FLEX, "receiving_pension": True, "hard_to_employ": True}
    r = check(book, "flexible_employment_subsidy", "2024-06-01", **facts)
    assert r.status == "not_eligible"
    assert "正在领取养老金" not in "".join(r.reasons)
    assert "未领取养老金：否" in r.reasons


# --- unemployment_insurance --------------------------------------------------------------

UI = {"involuntary_separation": True, "registered_unemployed": True, "receiving_pension": False}


def test_unemployment_insurance_unknown_and_false(book):
    r = check(
        book,
        "unemployment_insurance",
        "2024-06-01",
        **{**UI, "receiving_pension": None},
        unemployment_insurance_months=24,
    )
    assert (r.status, r.missing) == ("unknown", ("receiving_pension",))
    r = check(book, "unemployment_insurance", "2024-06-01", involuntary_separation=False)
    assert r.status == "not_eligible"


# --- startup_subsidy ---------------------------------------------------------------------

START = {"startup_subsidy_received": False, "registered_unemployed": True}


def test_startup_subsidy_month_end_in_common_year(book):
    # 2025-08-31 - 6 months = 2025-02-28
    on = "2025-08-31"
    ok = check(book, "startup_subsidy", on, **START, business_registered_date="2025-02-28")
    late = check(book, "startup_subsidy", on, **START, business_registered_date="2025-03-01")
    assert (ok.status, late.status) == ("eligible", "not_eligible")


def test_startup_subsidy_target_groups(book):
    base = {"startup_subsidy_received": False, "business_registered_date": "2023-01-10"}
    on = "2024-08-31"
    assert check(book, "startup_subsidy", on, **base, graduation_date="2019-08-31").status == (
        "eligible"
    )
    none = {
        "graduation_date": "2019-08-30",
        "registered_unemployed": False,
        "hard_to_employ": False,
        "returned_migrant_worker": False,
    }
    assert check(book, "startup_subsidy", on, **base, **none).status == "not_eligible"
    r = check(book, "startup_subsidy", on, **base, **{**none, "returned_migrant_worker": None})
    assert (r.status, r.missing) == ("unknown", ("returned_migrant_worker",))
    r = check(book, "startup_subsidy", on, **{**base, "startup_subsidy_received": True})
    assert r.status == "not_eligible"


# --- graduate_job_search_subsidy ---------------------------------------------------------


def test_graduate_job_search_subsidy(book):
    on = "2024-05-01"
    r = check(
        book, "graduate_job_search_subsidy", on, final_year_student=True, low_income_household=True
    )
    assert (r.status, r.amount) == ("eligible", 3000)
    r = check(book, "graduate_job_search_subsidy", on, final_year_student=True, disabled=True)
    assert r.status == "eligible"  # or with a true part, the other part missing
    r = check(book, "graduate_job_search_subsidy", on, final_year_student=True, disabled=False)
    assert (r.status, r.missing) == ("unknown", ("low_income_household",))
    r = check(book, "graduate_job_search_subsidy", on, final_year_student=False)
    assert (r.status, r.missing) == ("not_eligible", ())
    assert r.reasons == ("属于高校毕业年度学生：否", "属于低保或低收入家庭，或属于残疾人：未知")


# --- vocational_training_subsidy and skill_upgrade_subsidy -------------------------------

TRAIN = {"birth_date": "1990-05-05", "receiving_pension": False, "registered_unemployed": True}


def test_training_certificate_within_last_12_months_edges(book):
    on = "2025-02-28"  # 12 months back: 2024-02-28
    for cert, status in (
        ("2024-02-28", "eligible"),
        ("2024-02-27", "not_eligible"),
        ("2025-02-28", "eligible"),
        ("2025-03-01", "not_eligible"),
    ):
        r = check(
            book,
            "vocational_training_subsidy",
            on,
            **TRAIN,
            certificate_date=cert,
            certificate_level=4,
        )
        assert r.status == status, cert


def test_training_eligible_with_unknown_level_asks_for_it(book):
    r = check(
        book, "vocational_training_subsidy", "2024-06-01", **TRAIN, certificate_date="2024-01-15"
    )
    assert (r.status, r.amount) == ("eligible", None)
    assert r.missing == ("certificate_level",)
    assert r.reasons[-1] == "补贴金额：待确定"


def test_training_minimum_age(book):
    for born, status in (("2008-06-01", "eligible"), ("2008-06-02", "not_eligible")):
        r = check(
            book,
            "vocational_training_subsidy",
            "2024-06-01",
            **{**TRAIN, "birth_date": born},
            certificate_date="2024-01-15",
            certificate_level=5,
        )
        assert r.status == status


def test_skill_upgrade_requires_employment_and_12_months(book):
    facts = {
        "employment_status": "employed",
        "unemployment_insurance_months": 12,
        "certificate_date": "2024-01-15",
        "certificate_level": 4,
        "receiving_pension": False,
    }
    on = "2024-06-01"
    assert check(book, "skill_upgrade_subsidy", on, **facts).status == "eligible"
    assert (
        check(
            book, "skill_upgrade_subsidy", on, **{**facts, "employment_status": "flexible"}
        ).status
        == "not_eligible"
    )
    assert (
        check(
            book, "skill_upgrade_subsidy", on, **{**facts, "unemployment_insurance_months": 11}
        ).status
        == "not_eligible"
    )
    r = check(book, "skill_upgrade_subsidy", on, **{**facts, "employment_status": None})
    assert (r.status, r.missing) == ("unknown", ("employment_status",))
    assert r.reasons[0] == "就业状态为单位就业：未知"


def test_explain_false_gives_same_answer_without_reasons(book):
    rule = book.get("elderly_allowance", date(2024, 6, 15))
    facts = parse_profile({"local_hukou": True, "birth_date": "1930-01-01"})
    full = evaluate(rule, facts, date(2024, 6, 15))
    quick = evaluate(rule, facts, date(2024, 6, 15), explain=False)
    assert quick.reasons == () and full.reasons
    assert (quick.status, quick.amount, quick.missing) == (full.status, full.amount, full.missing)
