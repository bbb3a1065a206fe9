"""The referral data folder (referrals/): schema, messages that name file and field, reload."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from huimin.catalogue import load_catalogue, normalise
from huimin.catalogue.referrals import (
    SHORT_NAMES,
    ReferralError,
    ReferralStore,
    load_referrals,
)
from huimin.catalogue.resolver import resolve

ROOT = Path(__file__).resolve().parent.parent


def test_every_department_of_the_contract_has_a_file() -> None:
    table = load_referrals(ROOT / "referrals")
    assert set(table.departments) == set(SHORT_NAMES)
    for key, department in table.departments.items():
        assert SHORT_NAMES[key] in department.department
        assert department.matters


def test_referral_words_are_no_policy_names() -> None:
    """A policy's name always wins, so a referral word equal to one would be dead data."""
    names = {normalise(n) for p in load_catalogue(ROOT / "policies") for n in p.names}
    assert [w for w in load_referrals(ROOT / "referrals").words() if w in names] == []


def test_the_reply_names_the_department_and_how_to_reach_it() -> None:
    found = load_referrals(ROOT / "referrals").match("医保卡里的钱怎么查")
    assert found is not None and found.department.key == "medical_insurance"
    assert "医保" in found.reply and found.department.contact in found.reply
    assert "不属于人社部门的业务" in found.reply


def test_equally_long_words_go_to_the_department_the_text_says_more_about() -> None:
    """看病 (卫健) and 医保 are both two characters; 垫付 tips it to 医保. Without it the first
    file wins, and a catch-all word never beats a named department."""
    table = load_referrals(ROOT / "referrals")
    found = table.match("看病押金太贵了医保能先垫付吗")
    assert found is not None and found.department.key == "medical_insurance"
    found = table.match("看病要带什么")
    assert found is not None and found.department.key == "health"
    found = table.match("小区门口的养老院找哪个部门")
    assert found is not None and found.department.key == "civil_affairs"


def test_equally_long_words_said_as_much_go_to_the_part_that_asks() -> None:
    """看病 (卫健) and 慢病 (医保) tie; 看病 is the story, 慢病 in the question."""
    table = load_referrals(ROOT / "referrals")
    found = table.match("我天天要去门诊看病开药太贵了听人说办个慢病的卡能多报点这个要怎么弄")
    assert found is not None and found.department.key == "medical_insurance"


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("二手房过户要交哪些税", "tax"),  # not housing's 二手房
        ("买的新房一直不交房找谁", "housing"),
        ("超市卖过期面包", "market_regulation"),
        ("户口从农村迁到城里找哪个部门", "public_security"),  # not the 12345 catch-all
        ("退休以后看病住院能报多少", "medical_insurance"),  # 看病住院: not 卫健's 看病
        ("家里有个残疾的弟弟能申请什么补贴", "disabled_federation"),
        ("开饭店要办什么证", "market_regulation"),
        ("想领养个孩子去哪办手续", "civil_affairs"),
        ("卖房子要交多少税", "tax"),  # 交多少税 outweighs housing's words
        ("医宝卡怎么激活", "medical_insurance"),  # a mistyped 医保卡
        ("用公基金贷款买房", "housing_fund"),  # a mistyped 公积金
        ("学历认证去哪做", "education"),
        ("电瓶车被偷了找谁", "public_security"),
        ("楼上半夜施工吵得睡不着", "hotline_12345"),
        ("户口想迁到老家去", "public_security"),  # 户口迁 read without 想
        ("流产后能领什么", "medical_insurance"),
        ("身份证还有一个月到期提前能换吗", "public_security"),  # 身份证…到期, split by the story
        ("身份证上的照片太丑了能重新拍吗", "public_security"),
        ("身份证也丢了咋办", "public_security"),
        ("我是二级残疾坐公交免费吗", "disabled_federation"),  # not the 12345 catch-all's 公交
        ("去年在外地做的手术回来报销要带啥", "medical_insurance"),
        ("药店卖的药是假的", "market_regulation"),  # not 医保's 药店
        ("老伴去医院看病花的那些钱能不能报销", "medical_insurance"),  # 看病…报销: not 卫健's
        ("媳妇生了老二那笔生育的钱单位说找别人", "medical_insurance"),  # not 卫健's 老二/二胎
    ],
)
def test_matters_citizens_word_their_own_way(text: str, department: str) -> None:
    found = load_referrals(ROOT / "referrals").match(text)
    assert found is not None and found.department.key == department


@pytest.mark.parametrize("text", [
    "我农村的没交过社保老了怎么领养老钱",  # 领 + 养老钱: adoption's words are 领养孩子, 领养个…
    "店家不给交社保怎么办",  # an employer's duty (人社), not a shop's consumer matter
    "我在饭店打工老板娘说给我交了社保是假的吗",
])
def test_a_workers_question_sharing_a_word_is_not_referred(text: str) -> None:
    assert load_referrals(ROOT / "referrals").match(text) is None


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "referrals"
    shutil.copytree(ROOT / "referrals", target)
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("tax.yml", "department: 惠民市税务局", "department: 惠民市局",
         "tax.yml: field 'department': must contain '税务'"),
        ("tax.yml", "key: tax", "key: taxes", "tax.yml: field 'key'"),
        ("tax.yml", "contact:", "contakt:", "tax.yml: field 'contakt'"),
        ("tax.yml", "words: [个人所得税,", "words: [低保, 个人所得税,",
         "tax.yml: field 'words': '低保' is also in referrals/civil_affairs.yml"),
        ("housing.yml", "    answer: 公租房", "    anser: 公租房",
         "housing.yml: field 'matters.0.answer'"),
    ],
)
def test_a_mistake_names_file_and_field(
    folder: Path, file: str, old: str, new: str, message: str
) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ReferralError) as caught:
        load_referrals(folder)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_a_bad_edit_keeps_the_last_good_table_serving(folder: Path) -> None:
    store = ReferralStore(folder)
    assert store.table.match("低保怎么申请") is not None
    path = folder / "civil_affairs.yml"
    path.write_text("key: [", encoding="utf-8")
    os.utime(path, ns=(1, 1))
    problems = store.reload_if_changed()
    assert problems and problems[0].startswith("referrals/civil_affairs.yml: not valid YAML")
    assert store.table.match("低保怎么申请") is not None
    shutil.copy(ROOT / "referrals" / "civil_affairs.yml", path)
    text = path.read_text(encoding="utf-8").replace("[低保,", "[低保, 吃不上饭,")
    path.write_text(text, encoding="utf-8")
    assert store.reload_if_changed() == []
    found = store.table.match("家里吃不上饭了")
    assert found is not None and found.department.key == "civil_affairs"


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("这个事民政管不管", "civil_affairs"),
        ("卫健委的投诉电话是多少", "health"),
        ("市场监管局在哪办公", "market_regulation"),
        ("孩子看病报销是不是要找医保局", "medical_insurance"),
        ("我妈生活困难去民政局能申请点啥", "civil_affairs"),
    ],
)
def test_a_department_named_as_a_word_is_its_matter(text: str, department: str) -> None:
    found = load_referrals(ROOT / "referrals").match(text)
    assert found is not None and found.department.key == department


def test_a_department_named_yields_to_a_situation_told() -> None:
    """A department's bare name says no matter: "我下岗了去民政局还是人社局登记失业" tells
    失业登记, which the resolver answers; 民政's own matters (低保) still refer."""
    catalogue = load_catalogue(ROOT / "policies")
    table = load_referrals(ROOT / "referrals")
    found = resolve(catalogue, table, "我下岗了去民政局还是人社局登记")
    assert found.decision == "answer" and found.policies[0].key == "unemployment_registration"
    found = resolve(catalogue, table, "失业了家里揭不开锅能申请低保吗")
    assert found.decision == "refer" and found.referral is not None
    assert found.referral.department.key == "civil_affairs"


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("上班时手被切伤了在医院缝了针工伤怎么报", "work_injury_recognition"),
        ("在厂里受伤送医院了工伤认定去哪弄", "work_injury_recognition"),
        ("上班从梯子上摔断了胳膊在医院住着工伤认定咋弄", "work_injury_recognition"),
    ],
)
def test_a_work_injury_treated_in_hospital_is_not_referred_to_health(
    text: str, policy: str
) -> None:
    """医院 is 卫健's word, but a work injury treated in hospital is 人社's 工伤 (`unless`)."""
    table = load_referrals(ROOT / "referrals")
    assert table.match(text) is None or table.match(text).department.key != "health"
    found = resolve(load_catalogue(ROOT / "policies"), table, text)
    assert found.decision == "answer" and found.policies[0].key == policy
    assert table.match("去医院看病挂号怎么预约") is not None


def test_a_phrase_word_needs_its_parts_in_order_and_close() -> None:
    table = load_referrals(ROOT / "referrals")
    assert table.match("身份证还有一个月到期") is not None
    assert table.match("到期了带身份证") is None


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("我家狗打疫苗去哪", "hotline_12345"),  # a pet's vaccine is not 卫健's
        ("被狗咬了要打狂犬疫苗吗", "health"),
    ],
)
def test_unless_words_keep_a_matter_to_its_own_people(text: str, department: str) -> None:
    found = load_referrals(ROOT / "referrals").match(text)
    assert found is not None and found.department.key == department


def test_a_story_word_of_the_policy_discussed_is_no_referral() -> None:
    """"那我爸住院了没法刷脸咋办" after 养老金认证: 住院 is the story, 刷脸 the question."""
    assert load_referrals(ROOT / "referrals").match("那我爸住院了没法刷脸咋办") is None
