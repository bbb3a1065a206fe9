"""Issue 14, session 12: two-turn follow-ups. A question about the policy being discussed in
words the aspect vocabulary does not know keeps it (its overview), rather than a weak
retrieval guess or "not found"; a turn naming another policy loosely by a word of its title
leaves it; and the discussed policy's own text for the aspect asked may send the citizen to
another policy that the turn offers too. Real catalogue and referrals."""

from __future__ import annotations

import pytest

from huimin.catalogue.follow_ups import (
    asked_of_previous,
    is_a_question,
    still_about_previous,
    title_head,
)
from huimin.catalogue.resolver import resolve, says_a_name_word
from huimin.catalogue.vocabulary import asks_something, aspect_of


@pytest.mark.parametrize(("previous", "text"), [
    ("startup_guarantee_loan", "贷下来能用几年"),
    ("labor_arbitration", "请律师是必须的吗"),
    ("minimum_wage", "包不包括社保"),
    ("skill_upgrade_subsidy", "社保交了不到一年行吗"),
])
def test_a_question_in_words_of_its_own_stays_on_the_policy(
    catalogue, referrals, previous: str, text: str
) -> None:
    """Before session 12 these got "没找到" or a weak guess (几年 echoes 社保缴费记录)."""
    kept = still_about_previous(catalogue, referrals, text, previous)
    assert kept is not None and kept.key == previous


@pytest.mark.parametrize(("previous", "text"), [
    ("startup_subsidy", "那有没有房租方面的补贴"),  # 房租 of 房租补贴, an alias
    ("labor_arbitration", "那有没有不用打官司的调解"),  # 调解 of 劳动争议调解
    ("unemployment_insurance", "好的"),  # asks nothing
    ("unemployment_insurance", "还有个事我想问问几年"),  # a new matter
    ("unemployment_insurance", "那我老婆呢"),  # the same again, of someone else
    ("unemployment_insurance", "要带啥"),  # an aspect: asked_of_previous answers it
    ("unemployment_insurance", "那创业补贴呢"),  # a policy named
])
def test_no_overview_when_the_turn_asks_otherwise(
    catalogue, referrals, previous: str, text: str
) -> None:
    assert still_about_previous(catalogue, referrals, text, previous) is None
    assert still_about_previous(catalogue, referrals, "能干几年", None) is None


def test_asks_something() -> None:
    assert asks_something("请律师是必须的吗") and asks_something("贷下来能用几年")
    assert asks_something("包不包括社保")
    assert not asks_something("好的谢谢") and not asks_something("我是去年毕业的")


@pytest.mark.parametrize(("previous", "text", "policy"), [
    ("wage_arrears_complaint", "那投诉没用的话能去仲裁吗", "labor_arbitration"),
    ("unemployment_insurance", "那失业了还能去参加免费培训吗", "vocational_training_subsidy"),
])
def test_a_word_of_another_title_leaves_the_policy(
    catalogue, referrals, previous: str, text: str, policy: str
) -> None:
    """仲裁, 培训: words of another policy's title that the discussed one's names lack."""
    assert asked_of_previous(catalogue, referrals, text, previous) is None
    found = resolve(catalogue, referrals, text)
    assert found.policies[0].key == policy


@pytest.mark.parametrize(("previous", "text"), [
    ("unemployment_insurance", "那审批下来得等多久"),  # 审批 of an alias (退休审批) only
    ("wage_arrears_complaint", "老板跑路了还能要回来吗"),
    ("vocational_training_subsidy", "培训完多久能拿到钱"),  # the discussed title's own word
    ("public_welfare_post", "一个月工资大概多少"),  # 工资 is in 公益性岗位's own text
    ("flexible_worker_enrollment", "一个月最低交多少"),  # 最低 is no head of 最低工资标准
    ("unemployment_insurance", "要是我后面自己去创业了还能领不"),  # a condition told
    ("internship_subsidy", "单位怎么申请"),
])
def test_an_everyday_word_stays_a_follow_up(
    catalogue, referrals, previous: str, text: str
) -> None:
    asked = asked_of_previous(catalogue, referrals, text, previous)
    assert asked is not None and asked[0].key == previous


def test_a_count_names_no_topic(catalogue) -> None:
    """几年 is a word of 社保交了几年 (社保缴费记录查询's alias), 一次 of 一次性创业补贴."""
    loan = catalogue["startup_guarantee_loan"]
    assert not says_a_name_word(catalogue, "贷下来能用几年", catalogue["contribution_record"], loan)
    assert not says_a_name_word(catalogue, "是一次性给吗", catalogue["startup_subsidy"], loan)
    assert says_a_name_word(catalogue, "能去仲裁吗", catalogue["labor_arbitration"], loan,
                            title_only=True)


def test_the_policy_text_points_to_another_the_turn_offers(catalogue, referrals) -> None:
    """工伤认定's amount reads "认定为工伤后，可申请工伤保险待遇": asked the amount after it, the
    citizen means the benefits (before session 12: 工伤认定's "不收费", a wrong answer)."""
    asked = asked_of_previous(catalogue, referrals, "那工伤能赔多少钱", "work_injury_recognition")
    assert asked is not None and (asked[0].key, asked[1]) == ("work_injury_insurance", "amount")
    asked = asked_of_previous(catalogue, referrals, "要带啥", "work_injury_recognition")
    assert asked is not None and asked[0].key == "work_injury_recognition"


def test_the_head_of_a_title(catalogue) -> None:
    keys = ("labor_arbitration", "minimum_wage", "vocational_training_subsidy",
            "labor_dispute_mediation")
    heads = {key: title_head(catalogue, catalogue[key]) for key in keys}
    assert heads == {"labor_arbitration": "仲裁", "minimum_wage": "工资",
                     "vocational_training_subsidy": "培训", "labor_dispute_mediation": "调解"}


@pytest.mark.parametrize(("text", "aspect"), [
    ("钱打到哪张卡上", "process"),  # where the money goes is how it is paid, not an office
    ("钱返到哪个账户", "process"),
    ("是一次性给吗", "amount"),
    ("抚恤金是一次性的吗", "amount"),
])
def test_words_of_how_it_is_paid(text: str, aspect: str) -> None:
    assert aspect_of(text) == aspect


def test_a_phone_call_asks_how_after_an_answer(catalogue, referrals) -> None:
    """"打电话能挂失吗" after 社保卡: the way of doing it, not whether the citizen may."""
    asked = asked_of_previous(catalogue, referrals, "打电话能挂失吗", "social_security_card")
    assert asked is not None and asked[1] == "process"


def test_a_choice_is_a_question(catalogue, referrals) -> None:
    """"是男的领还是女的领" holds no question word; before session 12 it was "没找到". One
    whose alternatives say how it is paid out asks the process (session 12d)."""
    assert is_a_question("是男的领还是女的领") and not asks_something("是男的领还是女的领")
    kept = still_about_previous(catalogue, referrals, "是男的领还是女的领", "elderly_allowance")
    assert kept is not None and kept.key == "elderly_allowance"
    asked = asked_of_previous(catalogue, referrals, "是打到卡上还是去领现金", "elderly_allowance")
    assert asked is not None and asked[1] == "process"
