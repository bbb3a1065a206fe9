"""The aspect asked (issue 14), session 12: time said to have gone by before "还…得了吗" asks
whether it is too late (the time limit, the conditions beside); a verb that says whether it
can be done ("领得到", "领不成了", "还批不批") asks as 能…吗 does; a place before 能 asks
where; and everyday words of how it is paid, where it is handed in, what it costs. On the real
catalogue and vocabulary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.catalogue import aspect_of
from huimin.catalogue.answers import reply_to_question
from huimin.catalogue.vocabulary import also_asked, load_aspects

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    "text",
    [
        "辞职都五个多月了失业金是不是领不成了",
        "失业金离职两个多月咯还领得到不",
        "技能提升补贴证书拿了一年多了现在还报得了不",
        "工伤认定出事都过去大半年了还搞得成不",
        "创业补贴营业执照才办了三个月现在能不能报",
        "丧葬费人走了半年了还给不给办",
        "职业培训补贴拖到现在还能申请吗",
        "劳动仲裁隔了很久才想起来还能告不",
        "我妈满八十岁都一年了高龄津贴现在还补不补",
    ],
)
def test_time_gone_by_asks_the_time_limit_and_the_conditions(names, text: str) -> None:
    assert aspect_of(text, ignore=names) == "deadline"
    assert also_asked(text, ignore=names) == "eligibility"


@pytest.mark.parametrize(
    "text", ["大专毕业四年了住房补贴现在还能申请吗", "我家孩子离校都快两年了见习补贴还申得了不"]
)
def test_time_since_graduating_asks_the_conditions_first(names, text: str) -> None:
    # "毕业5年内" is a condition: it comes first, the time limit beside.
    assert aspect_of(text, ignore=names) == "eligibility"
    assert also_asked(text, ignore=names) == "deadline"


@pytest.mark.parametrize(
    "text",
    [
        "社保交了十五年了还能领养老金吗",  # how long one paid: the conditions
        "我在厂里扫了三年了公益性岗位还能不能接着干",  # how long one worked
        "我五十三了下岗好几年了公益性岗位还能上吗",  # an age stated
        "失业金两个月能领完吗",  # no time gone by, nothing asked of now
    ],
)
def test_time_spent_or_an_age_asks_who_qualifies(names, text: str) -> None:
    assert aspect_of(text, ignore=names) == "eligibility"
    assert also_asked(text, ignore=names) is None


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("失业金我这情况领得到不", "eligibility"),
        ("失业金小程序上领得到不", "process"),  # a channel before it: how it is done
        ("缴费记录电子社保卡上面查得到吗", "process"),
        ("我觉得了解清楚了", None),  # 觉得 is no "can"
    ],
)
def test_a_verb_of_can_asks_as_may_does(names, text: str, aspect: str | None) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("失业登记社区能办不", "where"),
        ("社保卡补办老家可以办吗", "where"),
        # a place after 在 is where someone is: who qualifies
        ("住房补贴我户口还在老家能不能申请", "eligibility"),
    ],
)
def test_a_place_before_may_asks_where(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("高龄津贴打到哪张卡", "process"),
        ("办社保卡要来回跑吗", "process"),
        ("职称评审从哪着手", "process"),
        ("创业担保贷款钱怎么放下来", "process"),
        ("失业登记的表交给谁", "where"),
        ("退休是找单位还是找社保局", "where"),
        ("养老金认证要贴钱不", "fee"),
        ("劳动仲裁要给好处费吗", "fee"),
        ("劳动仲裁要出多少钱", "fee"),
        ("公益性岗位一天给几块", "amount"),
        ("工伤认定手头要备好啥", "materials"),
        ("灵活就业社保补贴我够得上吗", "eligibility"),
        ("社保卡要等好些天吗", "deadline"),
        ("培训补贴是不是过了时候了", "deadline"),
        ("失业金要等好久才有得领", "deadline"),
        ("工伤认定一个多月才去报晚了没有", "deadline"),
        ("劳动仲裁过了两年是不是就不受理了", "deadline"),
        ("补办社保卡要拿钱吗", "fee"),
        ("社保卡补办要铜钿伐", "fee"),  # Shanghai: 铜钿 is 钱
        ("职业技能等级证书么样考", "process"),
        ("失业登记要先去哪儿后去哪儿", "process"),  # the order of the steps, not one place
        ("技能提升补贴是直接打给我还是打给厂里", "process"),  # how it is paid out
    ],
)
def test_everyday_words_of_an_aspect(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_too_late_is_answered_with_the_time_limit_and_the_conditions(catalogue) -> None:
    outcome = reply_to_question(catalogue, TODAY, text="辞职都四个多月了失业金还领得到不")
    policy = catalogue.get("unemployment_insurance")
    assert outcome.policy == policy and outcome.aspect == "deadline"
    assert policy.time_limit in outcome.reply.text
    assert policy.eligibility[0] in outcome.reply.text


def test_time_gone_by_words_are_data(tmp_path) -> None:
    question = load_aspects().question
    assert "拖到现在" in question.elapsed.since and "交" in question.elapsed.spent
    assert "毕业" in question.elapsed.window_events
    assert "街道" in question.may_places
    source = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    bad = tmp_path / "_aspects.yml"
    bad.write_text(source.replace("still: >-", "still: [", 1), encoding="utf-8")
    with pytest.raises(ValueError):
        load_aspects(bad)
