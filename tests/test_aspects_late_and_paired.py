"""The aspect asked (issue 14), session 11: being late asks the time limit, the order of
steps the process, an online channel how it is done, "按什么算" the amount, and a question
asking two aspects gets both in one answer. On the real catalogue and vocabulary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.catalogue import aspect_of
from huimin.catalogue.answers import aspect_answer, reply_to_question
from huimin.catalogue.vocabulary import also_asked, load_aspects

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # a word of being late before "还能…吗" asks whether it is too late
        ("养老金认证错过了还能补做吗", "deadline"),
        ("离职半年才想起来失业金太晚了还能领吗", "deadline"),
        ("失业金现在去领来不来得及", "deadline"),
        ("职业培训补贴还赶趟吗", "deadline"),
        ("工伤认定是不是晚了", "deadline"),
        ("失业登记现在才去办会不会太迟", "deadline"),
        # farther off in one clause, or a deadline said to be past
        ("养老金认证错过了上个月那次提醒还能做吗", "deadline"),
        ("职称评审已经过了截止的日子还能报吗", "deadline"),
        # no such word: whether one may still do it is who qualifies
        ("超过六十岁了失业金还能领吗", "eligibility"),
        ("我身份证过期了还能办社保卡吗", "eligibility"),
        ("我错过了好几次招聘会现在失业了还能领失业金吗", "eligibility"),
    ],
)
def test_being_late_asks_the_time_limit(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    "text",
    [
        "退休手续头一件事干什么",
        "失业登记一开始要弄啥",
        "劳动仲裁交了申请书下一步呢",
        "社保卡申请完了然后还要干嘛",
        "创业担保贷款接下来该怎么走",
        "工伤认定要过几道手续",
        "失业金最开始要做什么",
        "社保卡交了照片还要做些什么",
    ],
)
def test_the_order_of_steps_asks_the_process(names, text: str) -> None:
    assert aspect_of(text, ignore=names) == "process"


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("高龄津贴支付宝上能申请吗", "process"),
        ("社保卡补办在小程序里能不能弄", "process"),
        ("求职创业补贴公众号里能报吗", "process"),
        ("职业技能等级认定报名入口在哪里", "process"),
        # a place named after 能在 still asks where
        ("失业登记能在街道办吗", "where"),
    ],
)
def test_an_online_channel_asks_how(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    "text", ["稳岗返还按什么比例返", "吸纳就业补贴是按人头算的吗", "公益性岗位补贴折算到每个月多少"]
)
def test_how_it_is_computed_asks_the_amount(names, text: str) -> None:
    assert aspect_of(text, ignore=names) == "amount"


def test_homophones_of_short_order_words_ask_nothing(names) -> None:
    # 想找 sounds like 先找, 完了 like 晚了: short phrases read by sound would misread stories.
    assert aspect_of("和老板吵架了想找个人说和说和", ignore=names) is None
    assert aspect_of("包工头的活干完了人找不到了", ignore=names) is None


def test_late_words_are_data(tmp_path) -> None:
    source = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    assert "错过" in load_aspects().question.late
    bad = tmp_path / "_aspects.yml"
    bad.write_text(source.replace("late: >-", "late: [", 1), encoding="utf-8")
    with pytest.raises(ValueError):
        load_aspects(bad)


@pytest.mark.parametrize(
    ("text", "both"),
    [
        ("办社保卡要带什么，在哪办", {"materials", "where"}),
        ("工伤认定要多少天，要不要钱", {"deadline", "fee"}),
        ("失业金一个月多少钱怎么领", {"process", "amount"}),
    ],
)
def test_a_question_of_two_aspects_asks_both(names, text: str, both: set[str]) -> None:
    assert {aspect_of(text, ignore=names), also_asked(text, ignore=names)} == both


@pytest.mark.parametrize(
    "text",
    [
        "失业金去哪个窗口交材料",  # 材料 only closes the question: what is taken there
        "失业金要带什么材料",  # one aspect
        # the story's 几天 is far from the question
        "前几天我的社保卡在公交车上被人偷了现在补办一张要去哪里办",
        "老伴走了家里能领什么",  # what there is
    ],
)
def test_one_aspect_or_a_story_asks_no_second(names, text: str) -> None:
    assert also_asked(text, ignore=names) is None


def test_two_aspects_asked_are_answered_together(catalogue) -> None:
    outcome = reply_to_question(catalogue, TODAY, text="失业登记要带什么，去哪里办")
    policy = catalogue.get("unemployment_registration")
    assert outcome.policy == policy and outcome.aspect == "materials"
    assert policy.materials[0] in outcome.reply.text
    assert policy.where.address in outcome.reply.text
    titles = [c.title for c in outcome.reply.choices]
    assert "所需材料" not in titles and "在哪办理" not in titles


def test_one_aspect_asked_gets_one(catalogue) -> None:
    policy = catalogue.get("unemployment_registration")
    text = aspect_answer(policy, "materials", TODAY).text
    assert policy.where.address not in text
    assert aspect_answer(policy, "materials", TODAY, also="materials").text == text
