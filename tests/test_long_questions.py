"""The part of a question that asks (`vocabulary.asking_part`), one reading for long questions
(huimin/catalogue/long_questions.py) and hand-overs (huimin/catalogue/handovers.py)."""

from __future__ import annotations

import pytest

from huimin.catalogue.dialect import plain
from huimin.catalogue.long_questions import heard_where_asked
from huimin.catalogue.misheard import fuzzy_names
from huimin.catalogue.resolver import resolve
from huimin.catalogue.retrieval import THRESHOLDS, by_retrieval
from huimin.catalogue.text import normalise
from huimin.catalogue.vocabulary import QUESTION_SPAN, asking_part


def test_the_part_starts_a_little_before_the_aspect_asked() -> None:
    text = (
        "我年轻时在外地打了十几年工广东交过社保浙江也交过后来回了老家"
        "听我外甥说社保能转回来我不懂这个手续要办多久"
    )
    assert asking_part(text) == "听我外甥说社保能转回来我不懂这个手续要办多久"


def test_with_nothing_asked_the_message_closes_with_the_question() -> None:
    text = "我在材料厂干了二十年后来厂子黄了就是说我那个住房公积金退休以后全部取出来"
    assert asking_part(text) == text[-QUESTION_SPAN:]


def test_the_part_after_a_name_ends_with_the_clause_that_asks(catalogue) -> None:
    names = [normalise(n) for n in catalogue["work_injury_recognition"].names]
    assert asking_part("想拿赔偿 工伤认定下来了 要多久 以后再说", after=names) == "下来了要多久"
    assert asking_part("赔偿多少钱", after=names) == ""  # no name said: nothing after it


def test_a_long_questions_menu_puts_first_what_the_part_that_asks_ranks_first(
    catalogue, referrals
) -> None:
    text = (
        "我侄子在物流公司干了五年上个月被老板辞退了"
        "交了好几年保险失业了政府每个月会给发点钱能发几个月"
    )
    whole = by_retrieval(catalogue, plain(text), THRESHOLDS)
    assert whole.policies[0].key == "skill_upgrade_subsidy"  # the story's words lead
    found = resolve(catalogue, referrals, text)
    assert found.decision == "ask"  # still offered, never answered on the part alone
    first_two = [p.key for p in found.policies][:2]
    assert first_two == ["unemployment_insurance", "skill_upgrade_subsidy"]


def test_a_name_in_the_story_stands_when_the_part_that_asks_finds_nothing(
    catalogue, referrals
) -> None:
    # 发工资 in the story reads 欠薪投诉 as a look-alike; the question ("卡里的钱去哪里取")
    # finds no policy of its own, so the name said (社保卡) decides.
    text = (
        "以前厂里工资都发现金后来说要用社保卡发工资"
        "我都七十了那个卡放抽屉里从来没动过卡里的钱去哪里取"
    )
    found = resolve(catalogue, referrals, text)
    assert (found.decision, [p.key for p in found.policies]) == ("answer", ["social_security_card"])


def test_a_look_alike_the_part_that_asks_finds_keeps_the_menu(catalogue, referrals) -> None:
    text = (
        "我老伴在工地上干活好几年了一直都是拿现金今年老板说以后要用社保卡发工资"
        "结果到现在三个月了一分钱都没发下来拖欠的工资去哪里投诉"
    )
    found = resolve(catalogue, referrals, text)
    assert found.policies[0].key == "wage_arrears_complaint"


def test_another_departments_matter_told_as_a_condition_of_the_policy_is_no_referral(
    catalogue, referrals
) -> None:
    # 低保 is 民政's; a 低保 family is also who may have the job-search subsidy.
    text = (
        "我外孙女今年刚毕业正在找工作听人说毕业那年找工作有个求职的补助"
        "我们家里是吃低保的她这个情况能申请吗"
    )
    found = resolve(catalogue, referrals, text)
    assert found.decision in {"answer", "ask"}
    assert found.policies[0].key == "graduate_job_search_subsidy"


@pytest.mark.parametrize(
    "text",
    [
        # the matter itself asked, after an asking start
        "我孙子今年大学毕业我们家是低保户听说毕业生求职有补贴我想问一下低保户的证明去哪里开",
        # no policy of which it is a condition
        "我老伴走了以后我一个人过日子每个月就几百块钱听说我这种情况可以吃低保我想问问低保去哪里申请",
    ],
)
def test_another_departments_matter_asked_is_still_referred(catalogue, referrals, text) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer" and found.referral.department.key == "civil_affairs"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "我老伴去年领了失业金领完了还是没找到工作现在五十三了"
            "听人说可以去认定一个就业困难人员认定了能有什么照顾要带什么",
            "employment_hardship_recognition",
        ),
        (
            "我女婿以前去办过失业登记后来找到了工作现在又被公司辞退了"
            "他以前从来没领过失业保险金这次能不能领",
            "unemployment_insurance",
        ),
    ],
)
def test_of_two_names_a_long_question_answers_the_one_in_the_part_that_asks(
    catalogue, referrals, text: str, key: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert (found.decision, [p.key for p in found.policies]) == ("answer", [key])


@pytest.mark.parametrize(
    "text",
    [
        "失业登记和失业金有什么区别",  # short: compared side by side
        # the name in the part only describes what is asked (自己交社保的 退休)
        "我在饭店干了十几年老板一直不给交社保我今年到六十了想去办退休手续"
        "可是我后来都是自己交社保的像我这种自己交社保的退休去哪里办",
    ],
)
def test_two_names_stay_side_by_side_when_the_part_does_not_pick_one(
    catalogue, referrals, text: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and len(found.policies) == 2


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # the death situation's 养老金 lies inside 养老金认证, but 认证 is the name's own
        (
            "我八十了老头子去年走了孩子们都在外地打工我一个人过那个养老金认证今年还没做"
            "我眼神也不好使就是说我得去哪儿认证",
            "pension_certification",
        ),
        # 自己交 and 交社保 cover 自己交社保 whole: the name is the 4050 subsidy's story
        (
            "我今年四十八了在外面跑运输没有单位一直是自己交社保的听说像我们这种"
            "岁数的自己交社保政府能补一点要啥条件",
            "flexible_employment_subsidy",
        ),
    ],
)
def test_a_situation_takes_a_name_as_its_story_only_when_its_words_cover_it(
    catalogue, referrals, text: str, key: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert (found.decision, [p.key for p in found.policies]) == ("answer", [key])


def test_a_loose_likeness_in_the_story_of_a_long_question_is_no_name(catalogue) -> None:
    """自己去社保 is one character of another sound from 自己交社保: heard in a short question,
    where it can only be the name, not in the story of a long one."""
    story = (
        "我今年六十一了前几年自己去社保局问过说我交的不够"
        "就是说我这种情况到底还能不能退休"
    )
    assert len(story) >= THRESHOLDS.long_question
    enrollment = catalogue["flexible_worker_enrollment"]
    assert enrollment in fuzzy_names(catalogue, "自己去社保")
    assert enrollment in fuzzy_names(catalogue, story)
    assert enrollment not in heard_where_asked(catalogue, story, THRESHOLDS)
    assert enrollment in heard_where_asked(catalogue, "自己去社保", THRESHOLDS)


def test_a_weak_menu_does_not_outweigh_a_departments_matter_told_in_the_story(
    catalogue, referrals
) -> None:
    """The part that asks holds no department's word, but reads as nothing of 人社's either:
    the matter told (慢性病, 医保's) is what is asked about."""
    text = (
        "我老伴六十八了有糖尿病好多年每个月都要去拿药听说慢性病能办个门诊的"
        "那种待遇报得多就是说这个怎么弄"
    )
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer"
    assert found.referral.department.key == "medical_insurance"


def test_a_weak_menu_on_a_word_of_a_name_still_outweighs_the_story(catalogue, referrals) -> None:
    """医保卡 is the story; 退休金, asked, is a word of 退休办理's names: no referral."""
    text = (
        "我六十七了去年心脏上放了两个支架医保卡里那点钱早用光了我跟你讲"
        "我想问的是我们这个退休金每年涨的时候大概能涨多少"
    )
    found = resolve(catalogue, referrals, text)
    assert found.decision in {"answer", "ask"}
    assert "retirement_application" in [p.key for p in found.policies]


def test_a_story_opener_after_the_question_ends_the_part_that_asks() -> None:
    text = "社保卡补办要多久我跟你讲我在纱厂干了二十年老伴的失业金也领完了"
    assert asking_part(text) == "社保卡补办要多久"


def test_a_story_opener_before_the_question_starts_the_part_that_asks() -> None:
    text = "老伴要去做养老金认证驾驶证也过期了你听我说驾照换证去哪里"
    assert asking_part(text) == "驾照换证去哪里"


def test_a_name_said_only_in_the_story_after_the_question_does_not_decide(
    catalogue, referrals
) -> None:
    """The question comes first; 失业金 is what happened, told after 我跟你讲."""
    text = "我一共交了多少年社保到底去哪能查我跟你讲我失业金早就领完了"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer"
    assert [p.key for p in found.policies] == ["contribution_record"]
    text = "住院医保能报多少我跟你说我们俩的养老金认证今年还没做"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer"
    assert found.referral is not None
    assert found.referral.department.key == "medical_insurance"


def test_a_name_said_in_the_question_before_the_story_stands(catalogue, referrals) -> None:
    text = "失业金在哪里办怎么讲呢厂里说我的档案放到人才中心去了"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer"
    assert [p.key for p in found.policies] == ["unemployment_insurance"]


def test_another_departments_matter_asked_after_a_story_opener_is_referred(
    catalogue, referrals
) -> None:
    """Shorter than a long question, but the opener sets the story (养老金认证) apart."""
    text = "我要做养老金认证可身份证找不到了你听我说身份证补办去哪里"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer"
    assert found.referral is not None
    assert found.referral.department.key == "public_security"


def test_the_citizen_speaking_of_themselves_after_the_question_starts_a_story(
    catalogue, referrals
) -> None:
    """No opener: 我们俩… right after the words asked is the story, not the question."""
    text = "住院的钱医保能报多少我们老两口的养老金认证今年都还没弄"
    assert asking_part(text).endswith("医保能报多少")
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer"
    assert found.referral is not None
    assert found.referral.department.key == "medical_insurance"


def test_a_matter_asked_before_a_situation_told_after_it_is_referred(
    catalogue, referrals
) -> None:
    """怎么取 right after 公积金 asks about the fund; the pension insurance moved home is the
    story told after the question, not what is asked."""
    text = "我在南方打工那些年攒了些公积金如今回老家养老了公积金怎么取我的社保前阵子也转回来了"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer"
    assert found.referral is not None
    assert found.referral.department.key == "housing_fund"


def test_the_part_that_asks_goes_on_to_the_name_said_after_the_first(
    catalogue, referrals
) -> None:
    """退休 is what the file is needed for; the part ends asking about 档案."""
    text = "我以前那个厂子早就关门了我的人事档案也不知去向过两年办退休得用上档案档案丢了怎么补"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer"
    assert [p.key for p in found.policies] == ["personnel_archive"]
