"""Issue 14, session 11: two-turn follow-ups. Someone else doing it for the citizen asks how it
is done; "我这情况呢" and "办完以后呢" ask the previous question again; "还有什么补贴我能领"
after an answer is the benefits check's, never the policy just answered. Real catalogue."""

from __future__ import annotations

from datetime import date

import pytest

from huimin.catalogue.answers import Outcome, answer, reply_to_question
from huimin.catalogue.conversation import asks_on_behalf, asks_what_else
from huimin.catalogue.follow_ups import asked_of_previous, asks_benefits_check


def converse(catalogue, referrals, turns: list[str]) -> Outcome:
    """The outcome of the last turn, the policy slot carried as the bot does."""
    previous = aspect = None
    outcome = None
    for turn in turns:
        asked = asked_of_previous(catalogue, referrals, turn, previous)
        outcome = Outcome(answer(asked[0], asked[1], date.today()), *asked) if asked else (
            reply_to_question(catalogue, date.today(), text=turn, previous=previous,
                              previous_aspect=aspect, referrals=referrals))
        previous = outcome.policy.key if outcome.policy else None
        aspect = outcome.aspect
    assert outcome is not None
    return outcome


@pytest.mark.parametrize("text", [
    "能托人办吗", "单位的人能帮我跑吗", "我走不动了让我闺女去给我办中不中",
    "我自己没空叫我老公去可以不", "俺儿子在外地他能替俺弄吗", "我孙子能替我在手机上办不",
])
def test_someone_else_doing_it_asks_how(text: str) -> None:
    assert asks_on_behalf(text) == "process"


@pytest.mark.parametrize("text", [
    "我儿子去年失业了能领吗", "我是替我妈问的她能领吗", "那我老伴呢", "我闺女也能领吗",
])
def test_a_relative_named_without_acting_is_not_on_behalf(text: str) -> None:
    assert asks_on_behalf(text) is None


@pytest.mark.parametrize(("previous", "text"), [
    ("elderly_allowance", "我走不动了让我闺女去给我办中不中"),
    ("social_security_card", "我自己没空叫我老公去可以不"),
    ("retirement_application", "单位的人能帮我跑吗"),
    ("residents_basic_pension", "能托人办吗"),
])
def test_an_on_behalf_follow_up_keeps_the_policy_and_asks_how(
    catalogue, referrals, previous: str, text: str
) -> None:
    """Before session 11 these got the conditions (能…吗 read as "may I") or "没找到"."""
    asked = asked_of_previous(catalogue, referrals, text, previous)
    assert asked is not None and (asked[0].key, asked[1]) == (previous, "process")


def test_an_aspect_asked_beside_someone_else_wins(catalogue, referrals) -> None:
    asked = asked_of_previous(catalogue, referrals, "我女婿去帮我办要拿些什么", "survivor_benefits")
    assert asked is not None and asked[1] == "materials"


@pytest.mark.parametrize(("turns", "policy", "aspect"), [
    (["失业金能领多少", "我这种情况呢我干了八年"], "unemployment_insurance", "amount"),
    (["高龄津贴在哪申请", "那我这情况呢"], "elderly_allowance", "where"),
    (["退休要办啥手续", "办完以后呢"], "retirement_application", "process"),
])
def test_a_short_follow_up_asks_the_previous_question_again(
    catalogue, referrals, turns: list[str], policy: str, aspect: str
) -> None:
    outcome = converse(catalogue, referrals, turns)
    assert outcome.policy is not None and (outcome.policy.key, outcome.aspect) == (policy, aspect)


@pytest.mark.parametrize("text", [
    "还有什么补贴我能领", "别的还有啥", "那其他的呢", "除了这个还有别的补助没有", "还能领点啥呀",
])
def test_which_other_benefits_is_the_benefits_checks(catalogue, referrals, text: str) -> None:
    assert asks_what_else(text)
    assert asks_benefits_check(catalogue, text)
    assert asked_of_previous(catalogue, referrals, text, "unemployment_insurance") is None


@pytest.mark.parametrize(("text", "aspect"), [
    ("还有啥材料要带", "materials"),
    ("还有别的材料吗", "materials"),
    ("这个政策还有什么要注意的", None),
])
def test_an_other_aspect_with_still_is_a_follow_up(catalogue, referrals, text, aspect) -> None:
    """还有 asking another aspect, or said after the benefit word, is no benefits question."""
    assert not asks_benefits_check(catalogue, text)
    asked = asked_of_previous(catalogue, referrals, text, "unemployment_insurance")
    assert (asked[1] if asked else None) == aspect


def test_a_benefits_question_naming_a_policy_is_not_handed_over(catalogue) -> None:
    assert not asks_benefits_check(catalogue, "除了失业金还有什么补贴")


def test_the_citizen_acting_after_a_relative_is_named_is_not_on_behalf(
    catalogue, referrals
) -> None:
    """"我妈走了我能去领不" after 丧葬补助金: the citizen goes, whether they qualify."""
    assert asks_on_behalf("我妈走了我能去领不") is None
    asked = asked_of_previous(catalogue, referrals, "我妈走了我能去领不", "survivor_benefits")
    assert asked is not None and asked[1] == "eligibility"


@pytest.mark.parametrize("text", ["我这个情况行不行我是农村来的", "那我这种能行不我是外地的"])
def test_the_citizens_own_case_asked_before_the_story_asks_the_conditions(
    catalogue, referrals, text: str
) -> None:
    asked = asked_of_previous(catalogue, referrals, text, "training_living_allowance")
    assert asked is not None and asked == (catalogue["training_living_allowance"], "eligibility")


def test_a_question_whose_words_settle_one_policy_is_not_handed_over(catalogue) -> None:
    """The story says 还有补贴, but the words tell 职业培训补贴 (a situation) and ask whether
    the citizen may take part: that policy's question, not which other benefits there are
    (it went to the benefits questionnaire)."""
    text = ("我六十了刚退休身体还好闲不住想去学个手艺听说政府组织的职业培训是免费的还有补贴"
            "我这个岁数的还能不能参加")
    assert asks_what_else(text)
    assert not asks_benefits_check(catalogue, text)
    assert asks_benefits_check(catalogue, "那还有没有别的补贴")
