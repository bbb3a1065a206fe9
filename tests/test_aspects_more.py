"""Everyday wordings of four aspects (issue 14, session 10g): who qualifies, how much is paid,
what it costs me and how long / by when, read from policies/_aspects.yml (`phrases`) on the real
catalogue and vocabulary (huimin.catalogue.vocabulary.aspect_of).

The wordings come from the development set's misses: a citizen asks "有他的没" or "管不管用"
rather than "符合条件吗", "多上时间" (a typo of 多长时间), "一年弄一回"; a contribution asked as
"得交多少" is the fee, whose reply points to and carries the policy's figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.catalogue import aspect_of
from huimin.catalogue.answers import reply_to_question

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # who qualifies, said the everyday way
        ("俺这个情况申请那个创业贷管不管用", "eligibility"),
        ("我是外地户口办就业困难认定管用不", "eligibility"),
        ("我儿子去年毕业的求职补贴有他的没", "eligibility"),
        ("培训补贴我这种自己报的班也给不给", "eligibility"),
        ("人才住房补贴外地毕业的也给吗", "eligibility"),
        ("就业见习补贴我这个大专的也整得上不", "eligibility"),
        ("我是在私人小作坊干活的没签合同这样认不认", "eligibility"),
        # how much is paid: tiers and shares
        ("城乡居民养老保险一年能交几档", "amount"),
        ("场地租金补贴是全补还是补一半", "amount"),
        ("4050补贴能补得了几成社保费", "amount"),
        ("高龄津贴一个月发得到几个钱嘛", "amount"),
        # what I pay: a contribution asked is the fee (its reply carries the figures)
        ("灵活就业参保的话每个月大概得交多少", "fee"),
        ("城乡居民养老保险一年要交多少钱", "fee"),
        # how long / how often / within how many years
        ("退休手续交上去以后多上时间能批下来", "deadline"),
        ("社保卡办下来要多成时间", "deadline"),
        ("养老金认证是一年弄一回还是半年弄一回", "deadline"),
        ("住房补贴得毕业以后几年里头去申请过了就不给了是几年", "deadline"),
        ("就业登记办完了有没有有效期要不要每年重新弄", "deadline"),
        ("劳动仲裁从申请到开庭大概要拖多久", "deadline"),
    ],
)
def test_everyday_wording_asks_the_aspect(names, text, aspect):
    assert aspect_of(text, ignore=names) == aspect


def test_asking_whether_help_exists_is_not_who_qualifies(names):
    # "政府给不给出学费" asks whether there is such help (the overview), so 给不给 alone is no
    # eligibility phrase; "也给不给" (me too?) is.
    assert aspect_of("想学门手艺政府给不给出学费", ignore=names) != "eligibility"


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("城乡居民养老保险一年要交多少钱", "每年缴费200元到5000元"),
        ("灵活就业参保的话每个月大概得交多少", "缴费比例20%"),
    ],
)
def test_contribution_asked_gets_the_fee_with_its_figures(catalogue, text, figure):
    outcome = reply_to_question(catalogue, TODAY, text=text)
    assert outcome.aspect == "fee"
    assert figure in outcome.reply.text
