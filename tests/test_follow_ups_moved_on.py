"""Issue 14, session 12e: two-turn follow-ups that move on from the discussed policy while
naming only its matter: the next step when it failed ("调解不成呢" after 劳动争议调解), the
subsidy of the same matter ("那交社保的补贴多少" after 灵活就业人员参保登记), the one policy
its own text hands the aspect over to; and the words of the second turn that ask an aspect or
ask the same again of a case told. Real catalogue and referrals."""

from __future__ import annotations

import pytest

from huimin.catalogue.conversation import asks_of_another, context_aspect, tells_what_happened
from huimin.catalogue.follow_ups import (
    asked_of_previous,
    still_about_previous,
    subsidy_of_matter,
    taken_further,
)
from huimin.catalogue.vocabulary import aspect_of


@pytest.mark.parametrize("text", ["调解不成呢", "调解没谈拢的话下一步找谁", "谈不拢怎么办"])
def test_a_failed_mediation_goes_on_to_arbitration(catalogue, referrals, text: str) -> None:
    """劳动争议调解's time limit reads "调解不成的可以申请仲裁"."""
    asked = asked_of_previous(catalogue, referrals, text, "labor_dispute_mediation")
    kept = still_about_previous(catalogue, referrals, text, "labor_dispute_mediation")
    moved = asked[0] if asked is not None else kept
    assert moved is not None and moved.key == "labor_arbitration"


def test_a_failure_the_policy_text_does_not_hand_over_stays(catalogue) -> None:
    """劳动仲裁 says "调解不成的开庭审理", which sends nowhere."""
    assert taken_further(catalogue, catalogue["labor_arbitration"], "调解不成呢") is None
    assert taken_further(catalogue, catalogue["labor_dispute_mediation"], "去哪调解") is None


@pytest.mark.parametrize(("text", "aspect"), [
    ("那交社保的补贴多少", "amount"),
    ("那给灵活就业交保险的有没有补助", None),
    ("那有没有补贴", None),
])
def test_the_subsidy_of_the_same_matter(catalogue, referrals, text: str, aspect) -> None:
    asked = asked_of_previous(catalogue, referrals, text, "flexible_worker_enrollment")
    if aspect is None:
        assert asked is None
        kept = still_about_previous(catalogue, referrals, text, "flexible_worker_enrollment")
        assert kept is not None and kept.key == "flexible_employment_subsidy"
    else:
        assert asked is not None and (asked[0].key, asked[1]) == (
            "flexible_employment_subsidy", aspect)


def test_no_subsidy_of_a_matter_too_loosely_shared(catalogue) -> None:
    """城乡居民基本养老保险 says its own 政府补贴; 创业担保贷款 shares only 创业 with three
    subsidies; another subsidy named loosely is not the discussed matter's."""
    for key in ("residents_basic_pension", "startup_guarantee_loan", "work_injury_recognition"):
        assert subsidy_of_matter(catalogue, catalogue[key], "有没有补贴") is None


def test_another_subsidy_named_loosely_is_not_the_matters(catalogue, referrals) -> None:
    text, previous = "那招人有没有补贴", "flexible_worker_enrollment"
    kept = still_about_previous(catalogue, referrals, text, previous)
    asked = asked_of_previous(catalogue, referrals, text, previous)
    assert (kept is None or kept.key != "flexible_employment_subsidy") and (
        asked is None or asked[0].key != "flexible_employment_subsidy")


def test_the_one_policy_handed_over_to_need_not_be_named(catalogue, referrals) -> None:
    """工伤认定's amount hands over to 工伤保险待遇 only: "认下来以后一次性能拿多少钱" finds
    other subsidies weakly, yet means the benefits (before: 工伤认定's "不收费")."""
    asked = asked_of_previous(catalogue, referrals, "认下来以后一次性能拿多少钱",
                              "work_injury_recognition")
    assert asked is not None and (asked[0].key, asked[1]) == ("work_injury_insurance", "amount")


@pytest.mark.parametrize(("text", "aspect"), [
    ("那个时间有限制吗", "deadline"),
    ("申请有没有时间限制", "deadline"),
    ("最长能干几年", "deadline"),
    ("能领几年", "amount"),
    ("是每个月发还是一年发一次", "amount"),
    ("档次怎么选", "amount"),
])
def test_aspects_asked_in_words_of_the_second_turn(text: str, aspect: str) -> None:
    assert aspect_of(text) == aspect


def test_how_long_a_post_lasts_is_its_time_limit(catalogue, referrals) -> None:
    """"能干几年" after 公益性岗位: before session 12e its overview (no aspect word)."""
    asked = asked_of_previous(catalogue, referrals, "能干几年", "public_welfare_post")
    assert asked is not None and (asked[0].key, asked[1]) == ("public_welfare_post", "deadline")


def test_a_company_closed_is_no_office_hour() -> None:
    """"公司都关门了" tells a story; "几点关门" asks the office hours."""
    assert context_aspect("公司都关门了老板找不到呢") is None
    assert context_aspect("几点关门") == "where"
    assert context_aspect("周六开门吗") == "where"


@pytest.mark.parametrize(("text", "again"), [
    ("公司都关门了老板找不到呢", True),
    ("单位倒闭了呢", True),
    ("那个呢", False),
    ("公司倒闭了", False),
])
def test_a_case_told_as_happened_asks_again(text: str, again: bool) -> None:
    assert tells_what_happened(text) is again
    assert asks_of_another(text) is again
