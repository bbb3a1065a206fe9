"""Everyday situations told instead of a policy's name (policies/_situations.yml,
huimin/catalogue/situations.py), resolved with the real catalogue and referrals, alone and as a
follow-up that switches topic."""

from __future__ import annotations

from datetime import date

import pytest

from huimin.catalogue.answers import reply_to_question
from huimin.catalogue.follow_ups import asked_of_previous
from huimin.catalogue.resolver import resolve, switched_to
from huimin.catalogue.situations import SITUATIONS_FILE, Situations, load_situations, said

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("干活的时候手被机器压了单位不管", "work_injury_recognition"),
        ("被裁员了有补偿吗", "labor_arbitration"),
        ("没工作了能领钱吗", "unemployment_insurance"),
        ("家里老人走了有什么钱可以领", "survivor_benefits"),
        ("到了六十岁怎么开始领养老金", "retirement_application"),
        ("开饭店有什么补贴怎么申请", "startup_subsidy"),
        ("老人一个人在家没人做饭政府管不管", "home_care_subsidy"),
        ("老头子八十六了瘫在床上我伺候不动了政府补贴能派人来不", "home_care_subsidy"),
        ("我哥在车间被机器轧了手工伤也是认定了的厂里不管这个能赔多少钱", "work_injury_insurance"),
        ("社保交的年限不够退不了休咋办", "retirement_application"),
        ("我哥在矿上工亡了家里能领多少", "work_injury_insurance"),  # not the funeral grant
        ("老板不给结加班费想找人调解一下", "labor_dispute_mediation"),  # before the wages
        ("厂子倒了社保断了两年想接上自己交去哪办", "flexible_worker_enrollment"),
    ],
)
def test_a_situation_told_is_answered(catalogue, referrals, text: str, key: str) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and found.evidence == "situation"
    assert [p.key for p in found.policies] == [key]
    out = reply_to_question(catalogue, TODAY, text, referrals=referrals)
    assert out.policy is not None and out.policy.key == key


def test_the_first_situation_that_holds_decides() -> None:
    """Narrower situations come first: dismissed without compensation is arbitration, though
    "被辞退" alone with money asked is the unemployment benefit."""
    rules = load_situations()
    assert rules.policy_for("被公司辞退了一分钱补偿没给想告他") == "labor_arbitration"
    assert rules.policy_for("被辞退了能领什么") == "unemployment_insurance"
    # every group must hold: money alone is no situation
    assert rules.policy_for("能领钱吗") is None


def test_a_policy_named_or_another_department_wins(catalogue, referrals) -> None:
    """A name in the text comes first; a named department's matter too ("火化" is 民政's
    though someone died); only the 12345 catch-all yields to a situation."""
    assert resolve(catalogue, referrals, "干活受伤了工伤认定去哪办").evidence == "name"
    found = resolve(catalogue, referrals, "家里老人去世了火化要花多少钱")
    assert found.decision == "refer" and found.referral.department.key == "civil_affairs"
    text = "我在小区门口干保洁老板拖了我四个月工资"  # 小区门口 is a 12345 word
    assert referrals.match(text).department.key == "hotline_12345"
    found = resolve(catalogue, referrals, text)
    assert found.evidence == "situation"
    assert [p.key for p in found.policies] == ["wage_arrears_complaint"]


def test_a_follow_up_telling_a_new_situation_switches(catalogue, referrals) -> None:
    """"厂里拖了我三个月工资怎么办" after 工伤认定 asks "how" but tells a new matter: never
    the previous policy's process as the answer."""
    injury = catalogue["work_injury_recognition"]
    text = "厂里拖了我三个月工资怎么办"
    assert switched_to(catalogue, referrals, text, injury) is not None
    assert asked_of_previous(catalogue, referrals, text, injury.key) is None
    out = reply_to_question(catalogue, TODAY, text, previous=injury.key,
                            previous_aspect="materials", referrals=referrals)
    assert out.policy is not None and out.policy.key == "wage_arrears_complaint"
    # an aspect alone still asks about the policy being discussed
    assert asked_of_previous(catalogue, referrals, "要带什么", injury.key) == (injury, "materials")


def test_a_new_policy_asked_with_ne_keeps_the_aspect(catalogue, referrals) -> None:
    """"那老人在家请人上门做饭的补贴呢" after "高龄津贴在哪办": 呢 asks the same (where) of
    the policy it tells in words of its own."""
    out = reply_to_question(catalogue, TODAY, "那老人在家请人上门做饭的补贴呢",
                            previous="elderly_allowance", previous_aspect="where",
                            referrals=referrals)
    assert out.policy is not None and out.policy.key == "home_care_subsidy"
    assert out.aspect == "where"
    out = reply_to_question(catalogue, TODAY, "那老人在家请人上门做饭的补贴",
                            previous="elderly_allowance", previous_aspect="where",
                            referrals=referrals)
    assert out.policy is not None and out.policy.key == "home_care_subsidy"
    assert out.aspect is None


def test_the_situations_file_is_checked(tmp_path) -> None:
    good = SITUATIONS_FILE.read_text(encoding="utf-8")
    bad = tmp_path / "_situations.yml"
    bad.write_text(good.replace("    all:\n", "    any:\n", 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"_situations.yml: field 'situations.0.(all|any)'"):
        load_situations(bad)
    with pytest.raises(ValueError):
        Situations.model_validate({"situations": [{"policy": "x", "all": [[]]}]})


def test_a_near_word_holds_only_when_its_parts_are_close() -> None:
    """"老伴…走了" is a death told around the time it happened; "小刘调走了" is a colleague
    moved away, no death, so a pensioner's certification question stays that."""
    assert said("老伴…走了", "我老伴上个月走了")
    assert not said("老伴…走了", "我老伴领养老金每年都要认证去年是社区的小刘帮弄的今年小刘调走了")
    rules = load_situations()
    assert rules.policy_for("我老伴上个月走了能领什么钱") == "survivor_benefits"
    assert rules.policy_for("今年小刘调走了我不知道找谁这个认证怎么弄") is None
    with pytest.raises(ValueError):
        Situations.model_validate({"situations": [{"policy": "x", "all": [["老伴…"]]}]})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # a complaint about wages owed, though 告 is said
        ("去告老板欠薪得带些啥证据", "wage_arrears_complaint"),
        # dismissed without a cent: arbitration, though money is not given
        ("老板说不要她就不要了一分钱都不赔我们想去告他", "labor_arbitration"),
        # wanting someone to settle it, not a court
        ("厂里不让干了也不给钱我们不想打官司就想有人出面说说", "labor_dispute_mediation"),
        # the unemployment money asked plainly, an age near retirement in the story
        ("我五十五了还有几年才到退休年龄能不能领失业的钱", "unemployment_insurance"),
        # the record asked, odd jobs in the story
        ("一直在外面打零工自己也交着社保我想查一下交了多少个月", "contribution_record"),
    ],
)
def test_narrower_situations_come_before_story_words(text: str, key: str) -> None:
    assert load_situations().policy_for(text) == key


def test_a_situation_that_reads_the_name_as_its_story_wins(catalogue, referrals) -> None:
    """自己交社保 names 参保登记, but asking for help with paying it is the 4050 subsidy, whose
    situation looks for 自己交; a situation looking only for short words does not outweigh
    a name ("养老金认证" stays named)."""
    found = resolve(catalogue, referrals, "我五十二了没单位自己交社保太贵了政府能补一点吗")
    assert [p.key for p in found.policies] == ["flexible_employment_subsidy"]
    assert found.evidence == "situation"
    found = resolve(catalogue, referrals, "我自己交社保要去哪里办")
    assert [p.key for p in found.policies] == ["flexible_worker_enrollment"]


def test_a_department_word_the_situation_reads_as_its_own_does_not_refer(
    catalogue, referrals
) -> None:
    """丧事 is 民政's (funeral services), but "家属能领一笔办丧事的钱" is the funeral grant: the
    survivors' situation looks for 办丧事, which holds the department's word. A department word
    outside the situation's words still refers ("去世了火化要花多少钱")."""
    text = "我们家那口子前些天在医院没了听说家属能领一笔办丧事的钱这个要拿哪些东西去办"
    assert referrals.match(text).department.key == "civil_affairs"
    found = resolve(catalogue, referrals, text)
    assert [p.key for p in found.policies] == ["survivor_benefits"]
    assert resolve(catalogue, referrals, "家里老人去世了火化要花多少钱").decision == "refer"



def test_a_work_injury_s_medical_bills_are_no_medical_insurance_matter(
    catalogue, referrals
) -> None:
    """住院 is 医保's word, but a work injury's hospital bills are paid by work-injury
    insurance; 住院 without 工伤 still refers."""
    found = resolve(catalogue, referrals, "工伤住院的医药费去哪报")
    assert [p.key for p in found.policies] == ["work_injury_insurance"]
    assert resolve(catalogue, referrals, "住院的医药费去哪报").decision == "refer"

@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("那老板给的比这个少我去哪里投诉", "wage_arrears_complaint"),
        ("考了个叉车证能补钱吗", "skill_upgrade_subsidy"),
        ("想考个证书以后好找工作考证要去哪里报名", "skill_level_certification"),
        ("我爸在单位交了二十年社保人突然没了家里能拿到多少", "survivor_benefits"),
        # recognised already: the benefits, not the recognition again
        ("已经认定是工伤了现在出院了能赔多少钱", "work_injury_insurance"),
    ],
)
def test_complaints_certificates_and_sudden_deaths_are_told(text: str, key: str) -> None:
    assert load_situations().policy_for(text) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # 买断了工龄 is no broken bone: not a work injury; 4050 with help for the contributions
        ("原来在国企上班后来单位改制买断了工龄现在社保是我自己一个人交的听说4050的可以补社保",
         "flexible_employment_subsidy"),
        # a courier hurt on his round, asking whether it counts
        ("送快递的路上自己摔了一跤把胳膊摔断了老板说不管他这种情况能不能算工伤",
         "work_injury_recognition"),
        # ride-hailing without an employer: insuring oneself, not the farmers' pension
        ("一直在外面开网约车没有单位也没交过社保听说自己也可以交职工养老保险",
         "flexible_worker_enrollment"),
        # apprentices a firm trains are the apprentice subsidy, though they learn a trade
        ("厂里招了新工人跟着老师傅带着学手艺听说有个学徒制的补贴", "apprenticeship_subsidy"),
        # a mother-in-law at home needing meals is home care, though she is over eighty
        ("我婆婆八十六了一个人在家想让社区派人上门送饭听说政府给补贴", "home_care_subsidy"),
        # proving one is alive, told without 养老金
        ("每年都要弄那个认证证明我还活着今年没人帮我", "pension_certification"),
        # a student in the final year looking for work
        ("我儿子在技校读最后一年了马上要出去找工作政府会给一笔钱", "graduate_job_search_subsidy"),
        # contributions paid in another province, to be brought over ("湖北那边的厂里")
        ("以前在湖北那边的厂里交了社保后来来这边了听说可以把湖北交的弄过来合到一起",
         "pension_transfer"),
        # help at home told by the old person herself, no 老人 said
        ("我都八十好几了一个人在家政府能不能派人上门给我洗澡", "home_care_subsidy"),
        # the disability grade assessed, asking what it pays
        ("我弟弟在厂里伤了手伤残鉴定是八级一次性能拿多少钱", "work_injury_insurance"),
        # a death told as 走的 / 生前
        ("我老头去年冬天走的他生前单位说家里人能领抚恤", "survivor_benefits"),
        # laid off, told to register
        ("公司裁员把他裁了社区的人说要先去登记一下失业", "unemployment_registration"),
    ],
)
def test_older_citizens_stories_are_told(text: str, key: str) -> None:
    assert load_situations().policy_for(text) == key
