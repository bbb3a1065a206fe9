"""Which aspect a long or regional question asks (issue 14), on the real catalogue and the real
vocabulary (policies/_aspects.yml, policies/_dialect.yml).

Older citizens tell their story first, and the story holds words that read as aspects (材料厂,
身份证, 申请条件, 好几个月); the aspect asked is the word a question word stands in or next to,
or the one that closes the question (huimin.catalogue.vocabulary.aspect_of)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.catalogue import aspect_of
from huimin.catalogue.answers import reply_to_question
from huimin.catalogue.referrals import load_referrals
from huimin.catalogue.vocabulary import load_aspects

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # a longer aspect word in the story loses to the one asked
        ("我老伴的身份证户口本都在我这丧葬费在哪领", "where"),
        ("我身份证丢了社保卡去哪补", "where"),
        ("申请条件我都符合了创业补贴多久能到账", "deadline"),
        ("我失业好几个月了失业金在哪领", "where"),
        ("我在材料厂干了二十年去年被辞退了失业金到哪里去领", "where"),
        # the question first, the story after it
        ("想问一下要到哪里申请我是说那个创业担保贷款我儿子想回老家开个养鸡场需要十几万本钱",
         "where"),
        # "条件不好" is no question: 不 asks only where a clause ends
        ("家里条件不好职业培训补贴到哪报名", "where"),
    ],
)
def test_the_aspect_asked_wins_over_aspect_words_in_the_story(
    names, text: str, aspect: str
) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("高龄津贴材料有哪些", "materials"),  # the question word next to the aspect word
        ("报名费多少", "fee"),  # 多少 asks about the fee before it
        ("被辞退了每个月能领的失业保险金有多少", "amount"),
        ("失业金收不收费", "fee"),  # A不A asks
        ("够不够条件领失业金", "eligibility"),
        ("喂那个失业金嗯现在网上能不能办就是在手机上办", "process"),  # the closing words
        ("这种情况可以领失业金不", "eligibility"),  # the name taken out: 可以领不
        ("能领多少钱", "amount"),  # overlapping words: the longest stands
    ],
)
def test_question_words_mark_the_aspect_asked(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("工伤认定要跑几趟要得好多天", "deadline"),  # 好多天 is 多少天, not 好多 (amount)
        ("恁说这高龄补贴一个月给几个钱", "amount"),  # 给几个钱 is the amount, 要几个钱 the fee
        ("社保缴费记录么样查", "process"),  # Hubei
        ("退休手续要哪能办", "process"),  # Shanghai
        ("那个欠薪了投诉电话是多少我要投诉老板", "where"),
        ("俺家老爷子能整上高龄补贴不", "eligibility"),  # northeastern
        ("我家老头子交了十五年城乡居民养老保险现在可以领了吧要怎么去领", "process"),
    ],
)
def test_regional_and_spoken_ways_of_asking(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("技能提升补贴要交什么", "materials"),  # what to hand in
        ("社保转移要交什么手续费吗", "fee"),  # ... unless a fee is named
        ("这个要交什么费用", "fee"),
        ("养老服务券怎么申领", "process"),
    ],
)
def test_handing_in_and_claiming(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_a_long_question_is_answered_with_the_aspect_asked(catalogue) -> None:
    text = "我老伴的身份证户口本都在我这他上个月走了单位说可以领丧葬费在哪领"
    out = reply_to_question(catalogue, TODAY, text, referrals=load_referrals(ROOT / "referrals"))
    policy = catalogue["survivor_benefits"]
    assert out.policy == policy and out.aspect == "where"
    assert policy.where.address in out.reply.text


def test_the_question_words_are_data(tmp_path) -> None:
    words = load_aspects().question
    assert "吗" in words.anywhere and "不" in words.closing and "好几" in words.not_asking
    good = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    bad = tmp_path / "_aspects.yml"
    start = good.index("closing_particles:")
    bad.write_text(good[:start] + good[good.index("not_asking:"):], encoding="utf-8")
    with pytest.raises(ValueError, match="field 'closing_particles'"):
        load_aspects(bad)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # 怎么算 / 按什么算 ask the amount, though 怎么 alone asks the process
        ("居民养老保险一年怎么算的", "amount"),
        ("工伤待遇咋个算法我不懂", "amount"),
        # 轮得到 / 都有份 / 能享受 / 还能再领 ask who qualifies
        ("公益性岗位我这岁数轮得到不", "eligibility"),
        ("失业金领完了第二回还能再领吗", "eligibility"),
        # 几回 / 几次 / 要多长 ask how long or how often
        ("养老金认证一年要做几次", "deadline"),
        ("补社保卡办下来要多长", "deadline"),
        # 准备点啥 is what to bring
        ("办退休之前要准备点啥", "materials"),
        # 网上能弄 is how to do it
        ("失业登记在网上能弄不", "process"),
        # a place asked as an alternative
        ("社保卡能在银行补吗还是得上街道", "where"),
    ],
)
def test_colloquial_ways_of_asking_one_aspect(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # the story asks a question of its own (不知道…多少钱); what follows 想问问 is the question
        ("我都不知道要花多少钱才能办下来我就想问问到底在哪里办", "where"),
        ("听说要交好几千我也不知道多少钱反正就是想问问去哪领", "where"),
        # no asked word after the marker: the marker changes nothing
        ("请问去哪里领我家老头子交了十五年", "where"),
    ],
)
def test_the_question_after_asking_starts_outweighs_the_story(
    names, text: str, aspect: str
) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_asking_starts_are_data() -> None:
    assert "想问" in load_aspects().question.starts


def test_what_there_is_must_not_be_an_aspect_word_too(tmp_path) -> None:
    source = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    bad = tmp_path / "_aspects.yml"
    bad.write_text(source.replace("能领什么 能领点什么", "能领什么 门槛", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="门槛"):
        load_aspects(bad)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # where: 往哪 / 搁哪 / 归谁管 / a place asked as "在社区办" or "跑到区里"
        ("补办社保卡往哪儿去", "where"),
        ("欠薪投诉这事归谁管", "where"),
        ("档案现在搁哪儿存", "where"),
        ("退休能在社区办吗", "where"),
        ("失业登记得跑到县里去吗", "where"),
        # process: trips, errands done by someone else, whether it is a bother
        ("办退休前后要跑几趟", "process"),
        ("我腿脚不好高龄津贴能让人代办吗", "process"),
        ("养老金认证要本人到场吗", "process"),
        ("社保转移麻不麻烦", "process"),
        # materials: whether to bring a document, the evidence to have in hand
        ("办失业登记用不用带户口本", "materials"),
        ("劳动仲裁手上得有什么凭据", "materials"),
        # fee: paying out of one's own pocket
        ("职业技能等级认定要自费吗", "fee"),
        ("办社保卡要给人家钱不", "fee"),
        # deadline: northern 多会儿, weeks, how fast
        ("创业补贴多会儿能下来", "deadline"),
        ("社保转移要等几个星期", "deadline"),
        ("工伤认定批得快不快", "deadline"),
        # 等多少日子 asks how long, not an amount (多少)
        ("失业金批下来要等多少日子", "deadline"),
        # eligibility: 得行 / 也行吗 / 有份 / 沾边 / 能不能申 / age asked
        ("我是个体户就业登记得行不", "eligibility"),
        ("外地户口的创业贷款也行吗", "eligibility"),
        ("求职创业补贴专科生有份不", "eligibility"),
        ("我们小公司稳岗返还沾得上边不", "eligibility"),
        ("吸纳就业补贴私人小厂能不能申", "eligibility"),
        ("高龄津贴多大岁数能领", "eligibility"),
        # amount: 几个钱 of a benefit is how much it pays, of a service what it costs
        ("失业金一个月能有几个钱", "amount"),
        ("工伤赔偿少了根手指能赔几个钱", "amount"),
        ("补办社保卡要花几个钱", "fee"),
        ("培训生活费一天补几块钱", "amount"),
        # an appointment, a form or a stamp is how it is done; a counter, where
        ("办社保卡要不要预约", "process"),
        ("退休要单位盖章吗", "process"),
        ("失业登记是哪个服务中心办", "where"),
        # 要交多少钱 for a service is its fee; 花多少天 / 多少时间 how long
        ("职称评审要交好多钱", "fee"),
        ("办退休得花多少天", "deadline"),
        ("社保转移要花多少时间", "deadline"),
        # 行吗 after a person: may they
        ("灵活就业社保补贴外地人行吗", "eligibility"),
    ],
)
def test_everyday_ways_of_asking_one_aspect(names, text: str, aspect: str) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # 什么政(策) sounds like 什么证 but asks no document
        ("我们厂让老师傅带徒弟这种政府补钱的是个什么政策", None),
        # 行不行 of a choice loses to the place asked after it
        ("那先调解行不行去哪调解", "where"),
        # the story's 要等三个月 / 免费 / 身份证 are not what is asked
        ("老板说要等三个月才发工资欠薪投诉在哪投", "where"),
        ("我在电话里问过说免费技能鉴定怎么报名", "process"),
    ],
)
def test_everyday_words_in_the_story_or_sounding_alike_ask_nothing(
    names, text: str, aspect: str | None
) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # 能 / 可以 … 吗, … 不 closing the clause, or 能不能: may it be done, who qualifies
        ("我毕业三年了就业见习还能去吗", "eligibility"),
        ("开个早餐店房租能补点不", "eligibility"),
        ("我能不能去公益性岗位", "eligibility"),
        ("外地交的养老保险可以转过来吗", "eligibility"),
        # an aspect word asked still wins over 能…吗
        ("失业金能领多少", "amount"),
        ("社保卡能在银行补吗", "where"),
        ("养老金认证在家里手机上可以弄不", "process"),
        # 能在…吗 asks a place
        ("失业登记能在街道办吗", "where"),
        # a request, a way of getting help or an order of steps asks no eligibility
        ("能帮我查一下社保缴费记录吗", None),
        ("和老板闹翻了能不能先调解", None),
        ("想开店缺钱能找政府借点吗", None),
        # 能 far from the 吗 / 不, or 不 inside a clause, asks nothing
        ("能干活的时候都在厂里", None),
        # 有没有钱发 asks what there is, no aspect
        ("我妈八十九了政府有没有钱发", None),
    ],
)
def test_a_question_whether_it_may_be_done_asks_who_qualifies(
    names, text: str, aspect: str | None
) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_may_words_are_data(tmp_path) -> None:
    source = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    assert load_aspects().question.may == ("能", "可以", "可不可以", "受理")
    bad = tmp_path / "_aspects.yml"
    bad.write_text(source.replace("may: >-", "may: [", 1), encoding="utf-8")
    with pytest.raises(ValueError):
        load_aspects(bad)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # a way of doing it without going in, right before 能 / 可以 or after it, asks how
        ("失业金网上能申请吗", "process"),
        ("社保卡在手机上能不能补办", "process"),
        ("养老金认证可不可以用微信弄", "process"),
        ("失业登记能在网上办吗", "process"),
        # farther off, the channel is the story; 能在 a place still asks where
        ("我在网上看到说高龄津贴能领吗", "eligibility"),
        ("我不会弄手机失业登记能在社区办吗", "where"),
        # whether a step may be skipped asks how it is done
        ("养老金认证能不能不去现场", "process"),
        ("社保卡补办可以不本人去吗", "process"),
        ("失业金能不能领", "eligibility"),
    ],
)
def test_a_way_of_doing_it_or_a_step_skipped_asks_how(
    names, text: str, aspect: str | None
) -> None:
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        # who does it, in person or not, which step first (process phrases)
        ("退休手续是单位帮着办还是自己报", "process"),
        ("工伤认定要我本人跑一趟吗", "process"),
        ("劳动仲裁从哪一步弄起", "process"),
        ("档案咋调到人才中心去", "process"),
        ("高龄津贴停发了还要重新申请吗", "process"),
        # every year: how often, which the time limit says ("每年需做一次资格确认")
        ("高龄津贴每年都要重新申请吗", "deadline"),
        # where, said by distance or by a choice of places
        ("职业技能等级认定离我家近的考场有吗", "where"),
        ("失业金是在社区领还是到区里", "where"),
        # a document named and asked about is the materials
        ("工伤认定病历复印件要带吗", "materials"),
        ("退休要交哪几样", "materials"),
        ("职称评审要提交些什么论文", "materials"),
    ],
)
def test_everyday_process_where_and_materials_wording(
    names, text: str, aspect: str | None
) -> None:
    assert aspect_of(text, ignore=names) == aspect


def test_channels_are_data(tmp_path) -> None:
    source = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    assert "微信" in load_aspects().question.channels
    bad = tmp_path / "_aspects.yml"
    bad.write_text(source.replace("channels: >-", "channels: [", 1), encoding="utf-8")
    with pytest.raises(ValueError):
        load_aspects(bad)
