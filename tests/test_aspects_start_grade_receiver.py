"""The aspect asked (issue 14), session 11 round 2: too early or no longer valid asks the
time limit, where to start and an app channel the process, grading the amount, an exam's
price the fee, who receives it who qualifies, and a short question closed by a dialect
particle still asks. On the real catalogue and vocabulary."""

from __future__ import annotations

import pytest

from huimin.catalogue import aspect_of


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # too early, or whether a thing done by a date still counts
        ("还差半年退休现在去办退休早不早", "deadline"),
        ("退休手续提前去办是不是太早", "deadline"),
        ("养老金认证过几天补上还作数吗", "deadline"),
        ("技能提升补贴下个月拿到证算不算数", "deadline"),
        ("工伤认定现在去还来得赢不", "deadline"),
        # where to start
        ("工伤认定从哪头弄起", "process"),
        ("失业金头回领不知道从何下手", "process"),
        ("欠薪投诉从哪里开始", "process"),
        # an app channel, named with 里面 / 上面
        ("高龄津贴在电子社保卡里面能不能申请", "process"),
        ("社保卡补办在app上面可以弄吗", "process"),
        # how it is graded or computed
        ("高龄津贴是按岁数分档发的吗", "amount"),
        ("学徒补贴是按人算还是按企业算", "amount"),
        # a fee word before a place: the fee first
        ("职业技能等级认定考试多少钱在哪考", "fee"),
        # who receives it
        ("吸纳就业补贴是给谁的", "eligibility"),
        ("学徒补贴企业领还是徒弟领", "eligibility"),
        ("一次性创业补贴摆地摊的报得成不", "eligibility"),
    ],
)
def test_colloquial_ways_of_asking(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("职业培训补贴我个人能去报不嘛", "eligibility"),
        ("社保卡能补办不噻", "eligibility"),
        ("失业登记能不能办不嘞", "eligibility"),
        ("一次性创业补贴我报得成不嘛", "eligibility"),  # not a step skipped
        ("仲裁要钱不咧", "fee"),
        ("高龄津贴在哪儿领撒", "where"),
        ("失业登记要带啥子嘛", "materials"),
        ("社保卡补办要等好久哦", "deadline"),
    ],
)
def test_a_closing_dialect_particle_keeps_the_question(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("养老金认证能不能不刷脸", "process"),  # a step skipped, as before
        ("家里老人去世了单位那边有什么钱可以领", None),  # 单位那 is no 单位拿
        ("超过六十岁了失业金还能领吗", "eligibility"),
    ],
)
def test_neighbours_keep_their_reading(names, text: str, aspect: str | None) -> None:
    assert aspect_of(text, ignore=names) == aspect
