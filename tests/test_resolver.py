"""The policy resolver and aspect detection on the real catalogue and referrals (issue 14)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from huimin.catalogue import aspect_of, retrieval
from huimin.catalogue.answers import reply_to_question
from huimin.catalogue.dialect import plain
from huimin.catalogue.long_questions import long_question
from huimin.catalogue.misheard import fuzzy_names
from huimin.catalogue.resolver import resolve, resolve_words, with_named
from huimin.catalogue.retrieval import THRESHOLDS, Thresholds
from huimin.catalogue.vocabulary import load_aspects

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 6, 1)




def keys(resolution) -> list[str]:
    return [p.key for p in resolution.policies]


def by_retrieval(catalogue, text: str):
    """Retrieval's decision over the whole question, as the resolver reads it."""
    return retrieval.by_retrieval(catalogue, plain(text), THRESHOLDS)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("失业金去哪里办", "unemployment_insurance"),
        ("我被公司辞退了能领失业金不", "unemployment_insurance"),
        ("补办社保卡收费不", "social_security_card"),
        ("上班摔伤了工伤认定要在多少天内申请", "work_injury_recognition"),
        ("我妈85了高龄补贴去哪申请", "elderly_allowance"),
        # everyday names (aliases)
        ("农保每年交多少", "residents_basic_pension"),
        ("保洁岗一个月多少钱", "public_welfare_post"),
        ("师傅带徒弟企业能领多少", "apprenticeship_subsidy"),
        ("社保交了几年在哪看", "contribution_record"),
    ],
)
def test_a_clear_question_is_answered(catalogue, referrals, text: str, key: str) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == [key]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("失叶金怎么领", "unemployment_insurance"),  # homophone 叶/业
        ("社宝卡在哪办", "social_security_card"),  # homophone 宝/保
        ("工商认定要什么材料", "work_injury_recognition"),  # 商/伤, same sound
        ("高林津贴多少钱", "elderly_allowance"),  # lin/ling, front and back nasal
        ("劳动冲裁在哪里", "labor_arbitration"),  # one character mistyped
        ("创业单保贷款利息多少", "startup_guarantee_loan"),
    ],
)
def test_typos_and_homophones_find_the_policy(catalogue, referrals, text: str, key: str) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == [key], found
    # The misheard name alone finds it ("创业单保贷款" is also a situation told: 创业 + 贷).
    assert [p.key for p in fuzzy_names(catalogue, text)] == [key]


def test_fuzzy_names_need_the_specific_part_not_only_a_shared_ending(catalogue) -> None:
    """"人的补贴" sounds one character away from 人才补贴; only "补贴" agrees, so no match."""
    assert fuzzy_names(catalogue, "八十多岁老人的补贴要什么材料") == []
    assert fuzzy_names(catalogue, "今天天气怎么样") == []


def test_a_name_with_a_negation_is_matched_verbatim_only(catalogue) -> None:
    """不发工资 (an alias) one character off is 工资谁发, which asks something else."""
    assert fuzzy_names(catalogue, "工伤住院期间工资谁发") == []
    assert [p.key for p in fuzzy_names(catalogue, "工地上拖着工资不给")] == [
        "wage_arrears_complaint"
    ]


def test_a_name_misheard_in_full_beats_the_situation_words_it_shares(
    catalogue, referrals
) -> None:
    """创业 … 补贴 tells 一次性创业补贴, but 创业场低补贴 is 创业场地补贴 heard wrongly: the
    more specific name wins over the story."""
    for text in ("创业场低补贴有多少", "创业场地租经补贴怎么申请", "创业场补贴有多少"):
        found = resolve(catalogue, referrals, text)
        assert found.decision == "answer" and keys(found) == ["startup_venue_subsidy"], text


def test_a_loose_likeness_does_not_beat_a_situation(catalogue, referrals) -> None:
    """保洁干 sounds like 保洁岗 (公益性岗位) in three characters only; the story of unpaid
    wages stays the situation it tells."""
    text = "我在小区门口干保洁，老板拖了我四个月工资，这种事投诉收不收钱"
    assert keys(resolve(catalogue, referrals, text)) == ["wage_arrears_complaint"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("技能提补贴怎么申请", "skill_upgrade_subsidy"),
        ("职业培补贴多少", "vocational_training_subsidy"),
        ("就业困认定在哪办", "employment_hardship_recognition"),
        ("社保缴记录在哪查", "contribution_record"),
    ],
)
def test_a_long_name_missing_one_character_is_found(catalogue, text: str, key: str) -> None:
    assert [p.key for p in fuzzy_names(catalogue, text)] == [key]


def test_a_dropped_character_must_leave_enough_of_the_name(catalogue) -> None:
    """What is left must hold three policy-specific characters, not mostly a shared ending."""
    assert fuzzy_names(catalogue, "失业登在哪") == []
    assert fuzzy_names(catalogue, "人的补贴要什么") == []


def test_a_particle_in_the_story_is_no_mistyped_name(catalogue) -> None:
    """"的人交社保" differs from 个人交社保 (灵活就业人员参保登记) by 的 only: the citizen's
    sentence, not the name mistyped."""
    assert fuzzy_names(catalogue, "听说四零五零的人交社保政府能补一部分") == []
    assert fuzzy_names(catalogue, "工地上拖着工资不给") != []  # 着 for 欠 is the name said loosely


def test_a_long_questions_doubt_is_settled_by_the_part_that_asks(catalogue, referrals) -> None:
    """The story (广东交过社保, 浙江也交过) reads 缴费记录 as much as 转移; the part that asks
    (社保能转回来…这个手续要办多久) reads 转移 clearly: answered, not a menu."""
    text = (
        "我年轻时在外地打了十几年工广东交过社保浙江也交过后来回了老家"
        "听我外甥说社保能转回来我不懂这个手续要办多久"
    )
    whole = by_retrieval(catalogue, text)  # (everyday situations aside: retrieval's rule)
    assert whole.decision == "ask" and keys(whole)[0] == "pension_transfer"
    found = long_question(catalogue, text, whole, THRESHOLDS)
    assert found.decision == "answer" and keys(found) == ["pension_transfer"]


def test_a_name_in_the_part_that_asks_is_not_doubted_for_the_story(catalogue, referrals) -> None:
    """The story (档案…人才中心) makes 流动人员人事档案管理 score as high as 退休办理, whose name
    the question says (办退休…要准备哪些材料): the name is answered, not doubted."""
    text = (
        "我今年五十九了厂子改制以后档案一直在人才中心放着中间断过几年社保"
        "想先问清楚办退休要准备哪些材料"
    )
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["retirement_application"]
    whole = resolve(catalogue, referrals, text, thresholds=Thresholds(long_question=10_000))
    assert whole.evidence == "doubt"


def test_the_part_that_asks_answers_only_a_candidate_it_sets_well_apart(
    catalogue, referrals
) -> None:
    """"…失业了每个月能领点生活费…要带什么东西": the part reads 培训期间生活费补贴 only 0.69
    ahead of 失业保险金, no clearer than the whole: still a menu, not a guess."""
    text = (
        "我女儿在超市干了五年上个月超市裁员把她裁了她说交过保险"
        "失业了每个月能领点生活费我想问问要带什么东西"
    )
    whole = by_retrieval(catalogue, text)
    assert long_question(catalogue, text, whole, THRESHOLDS).decision == "ask"
    looser = Thresholds(part_clear_ratio=0.7)
    assert long_question(catalogue, text, whole, looser).decision == "answer"


def test_the_part_that_asks_puts_its_candidate_first_but_does_not_answer_it(
    catalogue, referrals
) -> None:
    """The story (退休的退休金领了…) makes 退休办理 the whole question's best; the part that
    asks (人走了…办后事…能领多少, read 去世/丧葬) finds 丧葬补助金和抚恤金, the menu's second:
    it is offered first, and still offered, not answered."""
    text = (
        "我家老爷子上个月走了他是从化肥厂退休的退休金领了快二十年"
        "单位的人说人走了家里能领一笔钱办后事我也不懂能领多少"
    )
    whole = by_retrieval(catalogue, text)
    assert whole.decision == "ask" and keys(whole)[0] == "retirement_application"
    found = long_question(catalogue, text, whole, THRESHOLDS)
    assert found.decision == "ask" and keys(found)[:2] == [
        "survivor_benefits", "retirement_application"
    ]


def test_another_departments_matter_only_in_the_story_is_not_referred(
    catalogue, referrals
) -> None:
    """低保 (民政) is the family's story; the question (毕业那年找工作政府给的钱) is 人社's."""
    text = (
        "我外孙女今年大学毕业家里是低保户听说这种家庭的孩子毕业那年找工作"
        "政府会给一笔钱这个钱什么时候去申请"
    )
    assert resolve(catalogue, referrals, text).decision in {"answer", "ask"}
    assert resolve(catalogue, referrals, "家里是低保户低保每个月能领多少").decision == "refer"


def test_a_name_said_inside_a_look_alikes_name_is_the_look_alike(catalogue, referrals) -> None:
    """失业保险 is part of 失业保险稳岗返还, which the rest of the question is about."""
    text = "我外甥的小厂一个工人都没裁过听说这种不裁员的企业政府会把交的失业保险退一部分怎么申请"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["job_stabilization_refund"]


def test_two_close_candidates_make_a_menu_best_first(catalogue, referrals) -> None:
    """"养老金" alone could be the yearly certification, retiring or the residents' pension."""
    text = "养老金的事找谁"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "ask" and len(found.policies) >= 2
    ranked = [h.key for h in catalogue.search(text, k=len(found.policies))]
    assert keys(found) == ranked
    assert {"pension_certification", "retirement_application"} <= set(keys(found))


def test_a_colloquial_name_is_answered_not_offered(catalogue, referrals) -> None:
    """"不发工资" is how people name a wage-arrears complaint (an alias): no menu."""
    found = resolve(catalogue, referrals, "老板三个月不发工资怎么办")
    assert found.decision == "answer" and keys(found) == ["wage_arrears_complaint"]


def test_a_summary_only_match_is_never_answered(catalogue, referrals) -> None:
    """"被裁员" matches 稳岗返还's summary ("不裁员…的企业") but names nothing: retrieval does
    not answer it (the situations table does: dismissed + compensation is 劳动仲裁)."""
    found = resolve(catalogue, referrals, "被裁员了有补偿吗")
    assert found.evidence != "search"
    assert keys(found) == ["labor_arbitration"]


def test_two_named_policies_are_both_answered_in_text_order(catalogue, referrals) -> None:
    found = resolve(catalogue, referrals, "创业补贴跟创业担保贷款都要什么材料")
    assert found.decision == "answer"
    assert keys(found) == ["startup_subsidy", "startup_guarantee_loan"]


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("低保怎么申请", "civil_affairs"),
        ("想把老人送养老院有补贴吗找哪个部门", "civil_affairs"),  # named beats 12345
        ("住院费用医保怎么报销", "medical_insurance"),
        ("公积金怎么提取出来", "housing_fund"),
        ("个人所得税怎么退税", "tax"),
        ("身份证丢了怎么补办", "public_security"),
        ("残疾证怎么办理", "disabled_federation"),
        ("打新冠疫苗在哪打", "health"),
        ("小孩上小学怎么报名", "education"),
        ("营业执照怎么办", "market_regulation"),
        ("公租房怎么申请", "housing"),
        ("小区停水了找谁", "hotline_12345"),
        ("看病医保能报多少", "medical_insurance"),  # 医保 beats 看病 (卫健)
        ("门诊慢性病怎么办理", "medical_insurance"),
        ("残疾人轮椅辅具怎么申请", "disabled_federation"),
        ("饭店卫生太差吃坏肚子了去哪投诉", "market_regulation"),  # not 欠薪投诉
        ("房子漏水开发商不管找谁", "housing"),
        ("家里老人走了户口注销去哪办", "public_security"),
        # Each shares a word with a 人社 policy (手续, 报销, 投诉, 补贴, 申请), so retrieval
        # would offer one; the matter's own words refer it first.
        ("离婚要带什么证件", "civil_affairs"),
        ("我爸在外省住院的钱回来能报吗", "medical_insurance"),
        ("饭馆的菜里吃出头发去哪投诉", "market_regulation"),
        ("老楼装电梯有补贴吗", "housing"),
        ("长护险怎么申请", "medical_insurance"),
        ("办的健身卡老板跑路了", "market_regulation"),
    ],
)
def test_other_departments_matters_are_referred(
    catalogue, referrals, text: str, department: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer" and found.referral is not None
    assert found.referral.department.key == department
    out = reply_to_question(catalogue, TODAY, text, referrals=referrals)
    assert out.decision == "refer" and out.referral == department and out.policy is None
    assert not [p.title for p in catalogue if p.title in out.reply.text]
    assert found.referral.department.department in out.reply.text
    assert found.referral.department.contact in out.reply.text


def test_a_named_policy_wins_over_a_referral_word(catalogue, referrals) -> None:
    found = resolve(catalogue, referrals, "外地户口能领失业金吗")
    assert found.decision == "answer" and keys(found) == ["unemployment_insurance"]


def test_nothing_close_is_said_plainly_not_guessed(catalogue, referrals) -> None:
    out = reply_to_question(catalogue, TODAY, "手机内存满了怎么清理", referrals=referrals)
    assert out.decision == "none" and out.policy is None
    assert "12345" in out.reply.text
    assert not [p for p in catalogue if p.title in out.reply.text]
    assert all(not c.payload.startswith("/ask_policy{") for c in out.reply.choices)


def test_words_alone_settle_only_names_and_referrals(catalogue, referrals) -> None:
    """For a message the NLU could not place, retrieval alone is not enough to answer."""
    assert resolve_words(catalogue, referrals, "失叶金怎么领") is not None
    assert resolve_words(catalogue, referrals, "低保怎么申请") is not None
    assert resolve_words(catalogue, referrals, "我想问问那个4050的补贴") is None
    assert resolve_words(catalogue, referrals, "/ask_policy") is None


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("失业金在哪办", "where"),
        ("失业金去哪里", "where"),
        ("社保卡在哪个窗口办", "where"),
        ("领失业金要交钱吗", "fee"),
        ("补办社保卡收费不", "fee"),
        ("劳动仲裁花钱不", "fee"),
        ("失业保险金多久能到账", "deadline"),
        ("办社保卡几天能拿到", "deadline"),
        ("失业金啥时候到账", "deadline"),
        ("申请失业金得带些什么东西", "materials"),
        ("创业贷款要什么材料", "materials"),
        ("我能领失业金吗够不够条件", "eligibility"),
        ("高龄津贴多少钱一个月", "amount"),
        ("养老金认证咋整", "process"),
        # dialect and colloquial wordings (southwest, Hunan, northern)
        ("高龄津贴在哪点办", "where"),
        ("欠薪投诉跑哪里去弄", "where"),
        ("办社保卡收钱不嘛", "fee"),
        ("评职称要交钱撒", "fee"),
        ("退休手续要准备啥子东西", "materials"),
        ("技能提升补贴几时到账", "deadline"),
        ("养老保险转移要得好长时间", "deadline"),
        ("职业培训补贴么子人可以领", "eligibility"),
        ("创业补贴我够格不", "eligibility"),
        ("创业贷款最多能贷好多", "amount"),
        ("新型学徒制补贴是怎么回事", None),
    ],
)
def test_aspects_are_understood_in_many_wordings(catalogue, text: str, aspect) -> None:
    names = tuple(n for p in catalogue for n in p.names)
    assert aspect_of(text, ignore=names) == aspect


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("一次性创业补贴有没有年龄限制", "eligibility"),
        ("创业担保贷款莫得担保人能不能贷", "eligibility"),
        ("养老金认证要不要出钱嘛", "fee"),
        ("欠薪投诉要得钱不", "fee"),
        ("那评审费要交多少", "fee"),
        ("就业见习补贴哪个时候发", "deadline"),
        ("社保卡当场能拿到卡吗", "deadline"),
        ("那个稳岗返还我们小公司怎么才能领到", "process"),
        ("我们两口子想交城乡居民养老保险交一年要多少钱", "amount"),
    ],
)
def test_the_resolver_only_phrases_are_read(catalogue, text: str, aspect) -> None:
    """`phrases` in _aspects.yml count like `words`, but stay out of the NLU training data."""
    names = tuple(n for p in catalogue for n in p.names)
    assert aspect_of(text, ignore=names) == aspect


def test_aspect_phrases_are_not_nlu_synonyms(catalogue) -> None:
    from huimin.catalogue.nlu import training_yaml
    from huimin.catalogue.vocabulary import ASPECT_PHRASES

    generated = training_yaml(catalogue)
    phrases = [p for ps in ASPECT_PHRASES.values() for p in ps]
    assert phrases and not any(f"- {p}\n" in generated for p in phrases)


def test_aspect_words_inside_a_policy_name_do_not_count(catalogue) -> None:
    """养老金资格认证 holds 资格 (an eligibility word); the question asks how often."""
    names = tuple(n for p in catalogue for n in p.names)
    assert aspect_of("养老金资格认证多久认证一次", ignore=names) == "deadline"


def test_the_answer_to_an_aspect_leads_with_it_and_the_title(catalogue, referrals) -> None:
    out = reply_to_question(catalogue, TODAY, "社保卡在哪个窗口办", referrals=referrals)
    policy = catalogue["social_security_card"]
    assert out.reply.text.startswith(f"【{policy.title}】在哪办理\n{policy.where.office}")
    assert policy.where.address in out.reply.text
    out = reply_to_question(catalogue, TODAY, "劳动仲裁要不要花钱", referrals=referrals)
    assert out.reply.text.startswith("【劳动人事争议仲裁】收不收费\n")
    assert catalogue["labor_arbitration"].fee in out.reply.text


def test_every_policy_says_whether_it_costs_money(catalogue) -> None:
    for policy in catalogue:
        assert policy.fee and policy.aspect_text("fee").startswith(policy.fee)
        assert "免费" in policy.fee or "收费" in policy.fee, policy.key


def test_follow_ups_keep_the_policy_and_switch_when_a_new_one_is_named(
    catalogue, referrals
) -> None:
    first = reply_to_question(catalogue, TODAY, "失业金在哪办", referrals=referrals)
    assert first.policy.key == "unemployment_insurance" and first.aspect == "where"
    same = reply_to_question(catalogue, TODAY, "那要带什么材料", previous=first.policy.key,
                             previous_aspect=first.aspect, referrals=referrals)
    assert same.policy.key == "unemployment_insurance" and same.aspect == "materials"
    switched = reply_to_question(catalogue, TODAY, "那创业补贴呢", previous=same.policy.key,
                                 previous_aspect=same.aspect, referrals=referrals)
    assert switched.policy.key == "startup_subsidy" and switched.aspect == "materials"
    assert catalogue["startup_subsidy"].materials[0] in switched.reply.text


def test_the_aspect_vocabulary_file_is_checked(tmp_path) -> None:
    good = (ROOT / "policies" / "_aspects.yml").read_text(encoding="utf-8")
    bad = tmp_path / "_aspects.yml"
    bad.write_text(good.replace("    label: 收不收费\n", ""), encoding="utf-8")
    with pytest.raises(ValueError, match=r"_aspects.yml: field 'aspects.fee.label'"):
        load_aspects(bad)
    bad.write_text(good.replace("  fee:\n", "  fees:\n"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"aspects.fees"):
        load_aspects(bad)
    bad.write_text(good.replace("要钱吗 收费吗", "要钱吗 在哪 收费吗"), encoding="utf-8")
    with pytest.raises(ValueError, match="'在哪' is listed under both"):
        load_aspects(bad)
    bad.write_text(good.replace("年龄限制 ", "年龄限制 在哪 ", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="'在哪' is listed under both"):
        load_aspects(bad)


def test_starting_a_company_is_no_referral_but_registering_one_is(catalogue, referrals) -> None:
    """开公司 is 创业 (人社's startup policies); the licence is market regulation's."""
    found = resolve(catalogue, referrals, "我在孵化园开公司租金能补吗")
    assert found.decision == "answer" and keys(found) == ["startup_venue_subsidy"]
    found = resolve(catalogue, referrals, "开公司要办营业执照吗")
    assert found.decision == "refer" and found.referral.department.key == "market_regulation"


def test_a_look_alike_is_answered_on_any_name_said_not_only_the_longest(
    catalogue, referrals
) -> None:
    """"交社保有补贴" (灵活就业人员社会保险补贴) is the longest name found, but the question
    also says 社保补贴, part of the employer subsidy's names, which retrieval ranks higher."""
    text = "企业给职工交社保有补贴那个用人单位的社保补贴要什么材料"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["employer_social_insurance_subsidy"]


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("我父亲八十五了一直领着高龄津贴现在我们照顾不过来想把他送到养老院去听说住养老院政府"
         "有补贴这个找哪个部门", "civil_affairs"),
        ("我是退休工人每年都做养老金认证今年社区说六十五岁以上的老人可以免费体检那个那个免费"
         "体检去哪里做", "health"),
        # no aspect word asked: the message's end is the part that asks
        ("我在单位干了二十多年下个月就退休了退休手续已经办好了就是说我那个住房公积金退休以后"
         "能不能全部取出来", "housing_fund"),
    ],
)
def test_another_department_asked_after_a_story_naming_a_policy_is_referred(
    catalogue, referrals, text: str, department: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer" and found.referral.department.key == department


def test_a_department_word_in_a_story_reaching_the_question_keeps_the_name(
    catalogue, referrals
) -> None:
    """The part that asks reaches back into the story (看病, 户口本): it still reads as the
    policy named, so the name stands."""
    for text, key in [
        ("我今年七十三了那个社保卡用了好多年了卡上芯片坏了去医院看病刷不了医生说要去换张新卡"
         "就是说换卡怎么办", "social_security_card"),
        ("我老伴今年满八十了我们是本地户口听楼下的说可以领高龄津贴但要拿户口本身份证什么的去办"
         "具体要带哪些东西", "elderly_allowance"),
    ]:
        found = resolve(catalogue, referrals, text)
        assert found.decision == "answer" and keys(found) == [key]



@pytest.mark.parametrize(
    ("text", "key"),
    [
        # 就业困难人员 is who the citizen is; the living allowance during training is asked
        ("我是就业困难人员街道让我去参加了一个家政培训学一个月听说培训期间每天还给点生活费这个"
         "一天给多少", "training_living_allowance"),
        # 登记失业 is the story; the rent help the situation tells is asked
        ("我在街上租了个门面开理发店一年房租就要三万多我是登记失业的人员听说创业租房子政府能给"
         "补一点房租这个一年能补多少", "startup_venue_subsidy"),
    ],
)
def test_a_look_alike_named_only_in_the_story_yields_to_what_is_asked(
    catalogue, referrals, text: str, key: str
) -> None:
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == [key]
    # the name the NLU would tag (the story's) does not override it
    story = catalogue.mentions(text)
    assert keys(with_named(found, story)) == [key]


def test_a_name_asked_after_a_look_alike_story_stands(catalogue, referrals) -> None:
    """The story tells the living allowance, the part that asks names 就业困难人员认定."""
    text = ("我是就业困难人员街道让我去参加培训听说培训期间每天还给点生活费我想问问就业困难人员"
            "认定要什么条件")
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["employment_hardship_recognition"]


def test_a_referral_past_the_story_name_is_not_overridden_by_the_tagged_name(
    catalogue, referrals
) -> None:
    text = ("我爸八十五了高龄津贴一直在领就是说他腿脚不好又是一个人住家里困难听说还有个临时救助"
            "这个找谁申请")
    found = with_named(resolve(catalogue, referrals, text), [catalogue["elderly_allowance"]])
    assert found.decision == "refer" and found.referral.department.key == "civil_affairs"


def test_a_name_whose_situation_is_told_is_not_doubted(catalogue, referrals) -> None:
    """创业补贴 is also inside 求职创业补贴, which retrieval ties with it; the shop opened on
    returning home is the start-up grant's own story, so the name stands."""
    text = ("我今年四十七了在外面打了二十年工去年回老家开了个小饭馆你看啊像我这样返乡开店的那个"
            "创业补贴能不能领")
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["startup_subsidy"]


def test_a_situation_told_after_a_department_s_matter_is_asked(catalogue, referrals) -> None:
    """营业执照 (市场监管) is the story, the rent subsidy told after it is asked; a
    one-character word after the matter (钱) does not outweigh it."""
    text = ("我闺女毕业以后和同学在写字楼里租了个办公室开了个设计工作室营业执照办了八个月了那个"
            "那个场地租金补贴怎么申请")
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["startup_venue_subsidy"]
    text = "我爸上个月在老家去世了他退休以前在厂里上班我们想问问这个火化要花多少钱"
    found = resolve(catalogue, referrals, text)
    assert found.decision == "refer" and found.referral.department.key == "civil_affairs"


def test_a_situation_told_only_in_the_story_yields_to_a_clear_question(
    catalogue, referrals
) -> None:
    """老人…照顾 in the story tells home care; the post asked for is found clearly over the
    whole and first in the part that asks. Told where it asks, the situation stands."""
    text = ("我今年五十三了以前在粮食局下面的一个粮库上班后来粮库撤了我就一直没有工作家里老人要照顾"
            "也走不远听说社区有那种公益性的岗位离家近又不累就是说我要去哪里报名怎么报名")
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["public_welfare_post"]
    text = "我婆婆八十六了家里是特困户一个人在家我们想让社区派人每天上门给她送饭打扫卫生要怎么申请"
    assert keys(resolve(catalogue, referrals, text)) == ["home_care_subsidy"]


def test_a_look_alike_only_the_short_part_raises_does_not_doubt_the_name(
    catalogue, referrals
) -> None:
    """社保补贴 (the 4050 subsidy) is asked; in the part alone it also reads as inside 单位社保
    补贴, which the whole question ranks well below it: the name said where it asks stands."""
    text = ("我四十五了女的在家附近的饭店打零工没有签合同社保是我自己按灵活就业交的那个那个街道说"
            "我这个年纪可以申请社保补贴这个怎么申请")
    found = resolve(catalogue, referrals, text)
    assert found.decision == "answer" and keys(found) == ["flexible_employment_subsidy"]


def test_a_situation_told_outweighs_the_policy_the_nlu_tagged(catalogue, referrals) -> None:
    """"4050…自己交社保政府给补" tells the flexible-employment subsidy (policies/_situations.yml);
    the NLU tags 自己交社保 as 灵活就业人员参保登记, and that tag answered the wrong policy. The
    situation stands, by either route; a tag still decides when the words settle nothing."""
    text = ("我今年四十九了厂子倒了以后就在家现在自己交社保一年要一万多听说像我这个岁数的政府能"
            "补一点去哪里申请")
    tagged = [catalogue["flexible_worker_enrollment"]]
    words = resolve(catalogue, referrals, text)
    assert words.evidence == "situation" and keys(words) == ["flexible_employment_subsidy"]
    assert keys(with_named(words, tagged)) == ["flexible_employment_subsidy"]
    assert keys(resolve(catalogue, referrals, text, tagged)) == ["flexible_employment_subsidy"]
    vague = "这个我想问一下"
    assert keys(resolve(catalogue, referrals, vague, tagged)) == ["flexible_worker_enrollment"]
