"""The aspect asked (issue 14), session 12g: short single-turn questions. Someone sent in one's
place or a single trip asks how it is done; 能放在 a place asks where; a choice of when it is
paid asks the time limit and one of who pays asks who it is for; paid by area or by month is
the amount; "好久了…还可以申请不" says time has gone by; "几个月内", "个把月" ask the time
limit; "是个啥东西" asks what the policy is. On the real catalogue and vocabulary."""

from __future__ import annotations

import pytest

from huimin.catalogue import aspect_of


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # someone sent in one's place, one trip, a call, no application at all: how it is done
        ("失业登记能叫我女儿替我去办吗", "process"),
        ("社保卡补办能一次就办完吗", "process"),
        ("养老保险转移要不要本人回来一趟", "process"),
        ("欠薪投诉打个电话可以吗", "process"),
        ("稳岗返还不用申请吗", "process"),
        # a place the application may be left at
        ("失业登记能放在社区吗", "where"),
        # when it is paid, who pays, how it is reckoned
        ("培训补贴是考完马上发还是拿证以后发", "deadline"),
        ("就业见习补贴是政府给还是单位给", "eligibility"),
        ("高龄津贴谁来出这个钱", "eligibility"),
        ("场地补贴按平方米给还是按年给", "amount"),
        # the fee, in the few hundreds asked
        ("灵活就业社保一年最少交几千", "fee"),
        ("档案放人才中心要交保管的钱吗", "fee"),
        # the time limit, said in months or 个把月
        ("工伤认定要出事几个月之内去报", "deadline"),
        ("职称评审要等个把月吗", "deadline"),
        # time gone by, said without a number
        ("失业证办了很久了现在还可以领不", "deadline"),
    ],
)
def test_single_turn_wordings(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_what_the_policy_is_asks_no_one_aspect(names) -> None:
    assert aspect_of("就业困难人员认定是个什么东西", ignore=names) is None
    assert aspect_of("就业困难人员认定要准备什么东西", ignore=names) == "materials"


def test_a_fee_paid_by_whom_stays_the_fee(names) -> None:
    assert aspect_of("技能鉴定的考试费用是单位出还是自己出", ignore=names) == "fee"


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("失业登记能在街道交材料吗", "where"),
        ("社保卡补办可不可以在银行那边办手续", "where"),
        ("失业登记能在网上交材料吗", "process"),
        ("失业金能在社区领吗要带什么材料", "materials"),
    ],
)
def test_what_is_handed_in_at_a_place_asks_where(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect
