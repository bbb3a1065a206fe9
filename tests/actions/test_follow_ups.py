"""Issue 14: a later turn asking one aspect keeps the policy of the previous answer, whichever
intent the NLU gives it, and a newly named policy (or another department's matter) switches.

The conversation so far is recorded (tests/actions/data/policy_answered.json: "失业金怎么领"
answered by action_answer_policy); each test adds the citizen's next message to it, as the Rasa
server would post it. Real catalogue and referrals; no database is needed for these paths."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import context
from bot.actions.applications import ActionCheckApplication
from bot.actions.benefits import ActionCheckBenefits, asks_one_policy
from bot.actions.fallback import RESOLVED_SLOT, ActionFallback
from bot.actions.guides import ActionStartGuide
from bot.actions.offices import ActionOfficeLookup, ValidateOfficeForm
from bot.actions.policy import (
    ActionAffirmOrDeny,
    ActionAnswerPolicy,
    ActionOutOfScope,
    policy_question_instead,
)
from huimin.catalogue import load_catalogue
from huimin.catalogue.answers import reply_to_question
from huimin.catalogue.conversation import asks_of_another
from huimin.catalogue.follow_ups import (
    GUIDE_ANSWERS,
    asked_of_previous,
    asks_own_benefits,
    asks_which_benefits,
    names_an_office,
)
from huimin.catalogue.referrals import ReferralStore
from huimin.platform.settings import ROOT, load_settings
from tests.actions.recorded import recorded

CATALOGUE = load_catalogue(ROOT / "policies")
UNEMPLOYMENT = CATALOGUE["unemployment_insurance"]


@pytest.fixture(scope="module", autouse=True)
def repository_handles():
    """The action server's catalogue and referrals from the repository's files (the stores are
    cached per folder, so the search index is built once for the module)."""
    here = replace(load_settings(), policies_dir=ROOT / "policies",
                   referrals_dir=ROOT / "referrals")
    with context.serving(here):
        yield


def next_turn(text: str, intent: str = "ask_policy", entities: list[dict] | None = None,
              conversation: str = "policy_answered") -> Tracker:
    """The recorded conversation with the citizen's next message added."""
    parse = {"intent": {"name": intent, "confidence": 0.8}, "entities": entities or [],
             "text": text, "intent_ranking": [{"name": intent, "confidence": 0.8}]}
    tracker = recorded(conversation, latest_message=parse)
    tracker.events.append({"event": "user", "text": text, "parse_data": parse})
    return tracker


def run(action: Action, tracker: Tracker) -> tuple[list[dict], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, {})
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def heading(policy_key: str, aspect_label: str) -> str:
    return f"【{CATALOGUE[policy_key].title}】{aspect_label}"


@pytest.mark.parametrize(("text", "aspect", "label"), [
    ("办这个要去什么地方", "where", "在哪办理"),
    ("那我需要准备哪些东西呢", "materials", "所需材料"),
    ("我被公司辞退的能领吗", "eligibility", "申请条件"),
    ("交上去以后多长时间能到账", "deadline", "办理时限"),
    ("我家老人要怎么申请", "process", "怎么办理"),  # a search would guess 高龄津贴
])
def test_a_follow_up_in_own_words_keeps_the_policy(text: str, aspect: str, label: str) -> None:
    """Words of the citizen's own around the aspect ("办这个", "东西") do not make a new topic;
    before issue 14's dialogue fix these got "没找到" or a menu of unrelated policies."""
    messages, slots = run(ActionAnswerPolicy(), next_turn(text))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", label)), messages
    assert slots == {"policy": "unemployment_insurance", "aspect": aspect}


def test_a_newly_named_policy_switches_and_a_department_matter_is_referred() -> None:
    messages, slots = run(ActionAnswerPolicy(), next_turn("那失业登记在哪办"))
    assert messages[0]["text"].startswith(heading("unemployment_registration", "在哪办理"))
    assert slots == {"policy": "unemployment_registration", "aspect": "where"}
    # Misheard names switch too.
    messages, slots = run(ActionAnswerPolicy(), next_turn("那失业登计要带什么"))
    assert slots["policy"] == "unemployment_registration"
    # Another department's matter is never answered with the policy being discussed.
    messages, slots = run(ActionAnswerPolicy(), next_turn("那医保卡在哪办"))
    assert "医保" in messages[0]["text"] and "【" not in messages[0]["text"]
    assert slots["policy"] is None


def test_no_follow_up_without_an_aspect_or_a_previous_policy() -> None:
    refs = ReferralStore(ROOT / "referrals").table
    assert asked_of_previous(CATALOGUE, refs, "办这个要去什么地方", "unemployment_insurance") \
        == (UNEMPLOYMENT, "where")
    assert asked_of_previous(CATALOGUE, refs, "办这个要去什么地方", None) is None
    assert asked_of_previous(CATALOGUE, refs, "我想想", "unemployment_insurance") is None
    # A button payload carries its own policy.
    assert asked_of_previous(CATALOGUE, refs, '/ask_policy{"aspect":"where"}',
                             "unemployment_insurance") is None
    # The NLU tagged another policy: that one is asked about.
    assert asked_of_previous(CATALOGUE, refs, "那个在哪办", "unemployment_insurance",
                             ["startup_subsidy"]) is None


def test_an_unsure_nlu_still_answers_the_follow_up() -> None:
    """nlu_fallback on a follow-up: answered for the previous policy, not "please rephrase",
    and counted as resolved (no step towards a hand-off)."""
    messages, slots = run(ActionFallback(), next_turn("那我需要准备哪些东西呢", "nlu_fallback"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "所需材料"))
    assert slots[RESOLVED_SLOT] is True and slots["policy"] == "unemployment_insurance"


@pytest.mark.parametrize("text", ["然后呢", "那我媳妇呢她也被裁了"])
def test_an_unsure_nlu_still_answers_the_same_question_again(text: str) -> None:
    """nlu_fallback on "然后呢" or the same question of someone else: the previous policy's
    answer again ("失业金怎么领" was answered), not "please rephrase"."""
    messages, slots = run(ActionFallback(), next_turn(text, "nlu_fallback"))
    assert messages[0]["text"].startswith("【失业保险金】")
    assert slots[RESOLVED_SLOT] is True and slots["policy"] == "unemployment_insurance"


def test_application_status_stays_but_a_time_limit_question_is_answered() -> None:
    messages, slots = run(ActionCheckApplication(),
                          next_turn("申请了以后多久能批下来", "check_application"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "办理时限"))
    assert slots["aspect"] == "deadline"
    messages, slots = run(ActionCheckApplication(),
                          next_turn("我交的材料审核过了没", "check_application"))
    assert "查不了您本人的办件进度" in messages[0]["text"] and slots == {}


def test_which_benefits_stays_with_check_benefits_but_do_i_qualify_is_answered() -> None:
    asked = next_turn("我这样的情况符合条件吗", "check_benefits")
    dispatcher = CollectingDispatcher()
    events = policy_question_instead(asked, dispatcher, named=True,
                                     follow_ups=not asks_which_benefits("我这样的情况符合条件吗"))
    assert events is not None
    assert dispatcher.messages[0]["text"].startswith(
        heading("unemployment_insurance", "申请条件"))
    for text in ("我能领哪些补贴", "帮我查查我能领什么", "有我能领的钱吗"):
        dispatcher = CollectingDispatcher()
        assert asks_which_benefits(text), text
        assert policy_question_instead(next_turn(text, "check_benefits"), dispatcher, named=True,
                                       follow_ups=False) is None, text
        assert dispatcher.messages == []
    # A named (here mistyped) policy with an aspect is a policy question whatever came before.
    dispatcher = CollectingDispatcher()
    assert not asks_which_benefits("失业登计要带什么")
    events = policy_question_instead(next_turn("失业登计要带什么", "check_benefits"),
                                     dispatcher, named=True)
    assert events is not None
    assert dispatcher.messages[0]["text"].startswith(
        heading("unemployment_registration", "所需材料"))


def test_out_of_scope_and_yes_no_intents_answer_a_follow_up_else_their_usual_reply() -> None:
    messages, slots = run(ActionOutOfScope(), next_turn("家属需要带些啥子", "out_of_scope"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "所需材料"))
    assert slots["policy"] == "unemployment_insurance"
    messages, slots = run(ActionOutOfScope(), next_turn("今天天气怎么样", "out_of_scope"))
    assert [m.get("response") for m in messages] == ["utter_out_of_scope"]
    assert slots == {"policy": None, "aspect": None}

    messages, slots = run(ActionAffirmOrDeny(), next_turn("那办这个要不要交钱啊", "deny"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "收不收费"))
    for text, intent, response in (("不用了", "deny", "utter_deny"),
                                   ("好的", "affirm", "utter_affirm")):
        messages, slots = run(ActionAffirmOrDeny(), next_turn(text, intent))
        assert [m.get("response") for m in messages] == [response] and slots == {}


def test_an_office_question_naming_a_policy_gets_that_policys_office() -> None:
    """"劳动冲裁在哪里" (misheard) reads as an office question to the NLU; the form asks no
    district and the answer is the policy's own "where"; "社保局在哪里" still asks the district."""
    asked = next_turn("劳动冲裁在哪里", "ask_office")
    assert asyncio.run(ValidateOfficeForm().required_slots(
        ["district"], CollectingDispatcher(), asked, {})) == []
    messages, _ = run(ActionOfficeLookup(), asked)
    assert messages[0]["text"].startswith(heading("labor_arbitration", "在哪办理"))
    office = next_turn("社保局在哪里", "ask_office")
    assert asyncio.run(ValidateOfficeForm().required_slots(
        ["district"], CollectingDispatcher(), office, {})) == ["district"]


def test_a_follow_up_naming_another_policy_loosely_switches_to_it() -> None:
    """After 失业保险金, "家属领丧葬的钱去哪里领" names 丧葬补助金 only loosely (retrieval finds it
    clearly and strongly); before session 5 it was answered as 失业保险金's office."""
    messages, slots = run(ActionAnswerPolicy(),
                          next_turn("我们小区有个退休老人去世了家属领丧葬的钱去哪里领"))
    assert messages[0]["text"].startswith(heading("survivor_benefits", "在哪办理")), messages
    assert slots == {"policy": "survivor_benefits", "aspect": "where"}


def test_out_of_scope_answers_a_misheard_policy_name() -> None:
    """"高林津贴在哪办" tagged out of scope names 高龄津贴, misheard: answered, not refused."""
    messages, slots = run(ActionOutOfScope(), next_turn("高林津贴在哪办", "out_of_scope"))
    assert messages[0]["text"].startswith(heading("elderly_allowance", "在哪办理")), messages
    assert slots["policy"] == "elderly_allowance"


def test_check_benefits_answers_a_question_that_settles_one_policy() -> None:
    """"刚毕业在这边租房子有补贴吗" is 高校毕业生住房补贴 (a strong, clear retrieval match), not
    the benefits questionnaire; "我能领哪些补贴" stays with the questionnaire."""
    dispatcher = CollectingDispatcher()
    events = policy_question_instead(
        next_turn("刚毕业在这边租房子有补贴吗", "check_benefits"), dispatcher,
        follow_ups=not asks_which_benefits("刚毕业在这边租房子有补贴吗"), named=True,
        any_aspect=True)
    assert events is not None
    assert dispatcher.messages[0]["text"].startswith(
        f"【{CATALOGUE['graduate_housing_subsidy'].title}】")
    dispatcher = CollectingDispatcher()
    assert asks_which_benefits("我能领哪些补贴")
    assert policy_question_instead(next_turn("我能领哪些补贴", "check_benefits"), dispatcher,
                                   follow_ups=False, named=True, any_aspect=True) is None
    assert dispatcher.messages == []


def test_a_guide_named_with_another_aspect_answers_that_aspect() -> None:
    """"去办退休我要带哪些东西" names the retirement guide but asks what to bring: answered from
    the catalogue; "退休手续怎么办" (the steps) is left to the guide."""
    text = "我快六十了单位让我自己去办退休我要带哪些东西过去"
    dispatcher = CollectingDispatcher()
    events = policy_question_instead(next_turn(text, "start_guide"), dispatcher,
                                     follow_ups=False, named=True, besides=GUIDE_ANSWERS)
    assert events is not None
    assert dispatcher.messages[0]["text"].startswith(heading("retirement_application", "所需材料"))
    dispatcher = CollectingDispatcher()
    assert policy_question_instead(next_turn("退休手续怎么办", "start_guide"), dispatcher,
                                   follow_ups=False, named=True, besides=GUIDE_ANSWERS) is None
    assert dispatcher.messages == []


def test_another_departments_matter_is_referred_from_benefits_and_guides() -> None:
    """"老旧小区加装电梯有补贴吗" (tagged check_benefits) is housing's, and so is "我们老小区想装
    电梯政府有补贴吗" though it speaks of the citizen's own home: it asks about one matter, not
    which benefits there are. "我是低保户能领哪些补贴" asks which, and stays with the benefits
    check."""
    for text, department in (("老旧小区加装电梯有补贴吗", "住建"),
                             ("残疾人就业有什么扶持", "残联"),
                             ("我们老小区想装电梯政府有补贴吗", "住建"),
                             ("我们家是低保户过年有没有慰问金", "民政")):
        messages, _ = run(ActionCheckBenefits(), next_turn(text, "check_benefits"))
        assert messages, text
        reply = messages[0]["text"]
        assert department in reply and "【" not in reply, (text, reply)
    own = "我是低保户能领哪些补贴"
    assert asks_own_benefits(own)
    dispatcher = CollectingDispatcher()
    assert asks_which_benefits(own)
    assert policy_question_instead(next_turn(own, "check_benefits"), dispatcher, named=True,
                                   follow_ups=False, any_aspect=True,
                                   refer=not asks_own_benefits(own)) is None
    # Tagged as starting a guide, no guide named, or a span the NLU took for one: referred,
    # not a menu of guides.
    text = "我想申请低保家里就我和老母亲两个人"
    for entities in ([], [{"entity": "guide", "value": "低保"}]):
        messages, _ = run(ActionStartGuide(), next_turn(text, "start_guide", entities))
        assert messages and "民政" in messages[0]["text"], entities


def test_a_new_matter_opened_is_not_answered_with_the_previous_policy() -> None:
    """"还有我想问厂里老板欠我三个月工资该找谁" after 社保卡 opens a new matter: never the
    social security card's office as the answer; "那在哪办呢" still asks about the card."""
    refs = context.referrals()
    card = "social_security_card"
    text = "还有我想问厂里老板欠我三个月工资该找谁"
    assert asked_of_previous(CATALOGUE, refs, text, card) is None
    assert asked_of_previous(CATALOGUE, refs, "那在哪办呢", card) == (CATALOGUE[card], "where")
    dispatcher = CollectingDispatcher()
    tracker = next_turn(text)
    ActionAnswerPolicy().run(dispatcher, tracker, {})
    (message,) = dispatcher.messages
    assert CATALOGUE[card].title not in message["text"]
    # the situation told (wages owed: policies/_situations.yml) is answered
    assert message["text"].startswith("【欠薪投诉】")


def _tracker(events: list[dict], slots: dict) -> Tracker:
    return Tracker.from_dict({"sender_id": "t", "slots": slots, "events": events,
                              "latest_message": {"text": events[-1].get("text", "")}})


def test_the_previous_policy_is_the_one_before_this_question_never_its_own():
    """Rasa posts the NLU's slot events after the user event: on a first question they are
    that question's own policy, not a previous answer's (it made first questions look like
    follow-ups and skip the resolver's checks)."""
    first = _tracker(
        [{"event": "user", "text": "公司招了个就业困难人员单位能拿回多少"},
         {"event": "slot", "name": "policy", "value": "employment_difficulty_recognition"}],
        {"policy": "employment_difficulty_recognition"})
    assert context.previous_slot(first, "policy") is None
    follow_up = _tracker(
        [{"event": "user", "text": "社保卡怎么办"},
         {"event": "slot", "name": "policy", "value": "social_security_card"},
         {"event": "bot", "text": "……"},
         {"event": "user", "text": "那创业补贴呢"},
         {"event": "slot", "name": "policy", "value": "startup_subsidy"}],
        {"policy": "startup_subsidy"})
    assert context.previous_slot(follow_up, "policy") == "social_security_card"
    # A tracker built from slots alone (no conversation) keeps its slot.
    assert context.previous_slot(_tracker([{"event": "action"}], {"policy": "x"}), "policy") == "x"


@pytest.mark.parametrize(("action", "text", "intent"), [
    (ActionAnswerPolicy(), "办这个要去什么地方", "ask_policy"),  # a follow-up
    (ActionAnswerPolicy(), "那创业担保贷款能贷多少", "ask_policy"),  # a switch
    (ActionAnswerPolicy(), "刚毕业在这边租房子有补贴吗", "ask_policy"),  # retrieval
    (ActionFallback(), "那失业登计要带什么", "nlu_fallback"),
    (ActionOutOfScope(), "高林津贴在哪办", "out_of_scope"),
])
def test_an_action_resolves_the_message_once(
    monkeypatch: pytest.MonkeyPatch, action: Action, text: str, intent: str
) -> None:
    """The follow-up rule, the named-question rule and the answer all need the message's
    resolution (retrieval included); the action computes it once and passes it along."""
    from huimin.catalogue import resolver

    calls: list[str] = []
    real = resolver.resolve

    def counting(*args: Any, **kwargs: Any) -> resolver.Resolution:
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(resolver, "resolve", counting)
    monkeypatch.setattr("bot.actions.policy.resolve", counting)
    monkeypatch.setattr("huimin.catalogue.answers.resolve", counting)
    messages, _ = run(action, next_turn(text, intent))
    assert messages
    assert calls.count(text) <= 1, calls


def test_a_follow_up_read_with_the_policy_discussed_may_tell_another() -> None:
    """"那房租能补多少" after 一次性创业补贴 tells the venue rent subsidy (创业 from the title,
    the topic; 房租 from the turn): answering the grant's amount again would be wrong. The title
    lends only its topic, never a word like 补贴 ("我妈一个人在家八十多了能补多少" after
    居家养老服务补贴 stays with it), and genuine follow-ups keep their policy."""
    refs = ReferralStore(ROOT / "referrals").table
    asked = asked_of_previous(CATALOGUE, refs, "那房租能补多少", "startup_subsidy")
    assert asked == (CATALOGUE["startup_venue_subsidy"], "amount")
    asked = asked_of_previous(CATALOGUE, refs, "我妈一个人在家八十多了能补多少",
                              "home_care_subsidy")
    assert asked is not None and asked[0].key == "home_care_subsidy"
    for text, previous in (("我家老人要怎么申请", "unemployment_insurance"),
                           ("一个月工资大概多少", "public_welfare_post")):
        asked = asked_of_previous(CATALOGUE, refs, text, previous)
        assert asked is not None and asked[0].key == previous, text


def test_another_departments_matter_in_few_words_is_no_follow_up() -> None:
    """"我身份证过期了去哪里换" after 退休手续 holds only words of materials and an aspect, yet
    is 公安's matter: referred, never the retirement office's address."""
    messages, slots = run(ActionAnswerPolicy(), next_turn("我身份证过期了去哪里换"))
    assert "公安" in messages[0]["text"] and "【" not in messages[0]["text"]
    assert slots["policy"] is None


def test_a_new_matter_said_loosely_is_asked_not_answered_with_the_old_policy() -> None:
    """"认定以后赔偿要多久到账" after 工伤认定: the turn's menu puts 工伤保险待遇 (赔偿 is in
    工伤赔偿) above 工伤认定, so it is no follow-up and the citizen chooses; a turn whose menu
    lacks the previous policy stays a follow-up ("一个月工资大概多少" after 公益性岗位)."""
    refs = ReferralStore(ROOT / "referrals").table
    assert asked_of_previous(CATALOGUE, refs, "认定以后赔偿要多久到账",
                             "work_injury_recognition") is None
    asked = asked_of_previous(CATALOGUE, refs, "一个月工资大概多少", "public_welfare_post")
    assert asked is not None and asked[0].key == "public_welfare_post"


def test_a_citizen_describing_themself_against_the_conditions_stays() -> None:
    """"我五十多了下岗好几年了符合条件吗" after 公益性岗位 tells 就业困难人员认定's situation,
    and 就业困难人员 is one of the post's conditions: the question is still the post's. After
    失业保险金, whose conditions do not name it, the situation switches."""
    refs = ReferralStore(ROOT / "referrals").table
    text = "我五十多了下岗好几年了符合条件吗"
    asked = asked_of_previous(CATALOGUE, refs, text, "public_welfare_post")
    assert asked == (CATALOGUE["public_welfare_post"], "eligibility")
    assert asked_of_previous(CATALOGUE, refs, text, "unemployment_insurance") is None


@pytest.mark.parametrize("text", ["我这种五十多的下岗的能去吗", "我这种下岗好多年又五十多的能去不"])
def test_a_turn_closing_with_may_i_take_part_asks_the_conditions(text: str) -> None:
    """"…能去吗" at the end asks whether the citizen qualifies, though no aspect word says so
    and 五十多 looks like 多少: after 公益性岗位 it is the post's conditions, the citizen's
    story (就业困难人员's situation) being one of them."""
    refs = ReferralStore(ROOT / "referrals").table
    asked = asked_of_previous(CATALOGUE, refs, text, "public_welfare_post")
    assert asked == (CATALOGUE["public_welfare_post"], "eligibility")


def test_may_i_take_part_said_mid_turn_is_not_read_as_the_question() -> None:
    """Only the end of the turn counts: "能去吗" inside a longer question leaves its own aspect."""
    refs = ReferralStore(ROOT / "referrals").table
    asked = asked_of_previous(CATALOGUE, refs, "我问了能去吗他们说要先登记在哪登记",
                              "public_welfare_post")
    assert asked is not None and asked[1] == "where"


@pytest.mark.parametrize(
    ("previous", "aspect", "text"),
    [
        ("unemployment_insurance", "process", "那我媳妇呢她也被裁了"),
        ("elderly_allowance", "amount", "我奶奶九十了呢"),
        ("wage_arrears_complaint", "process", "要是老板跑了呢"),
    ],
)
def test_the_same_question_of_someone_else_keeps_the_policy(
    previous: str, aspect: str, text: str
) -> None:
    """A turn that finds nothing of its own and asks again with 呢 about someone else or
    another case is the previous question again; a bare "那这个呢" adds nothing to find."""
    refs = ReferralStore(ROOT / "referrals").table
    outcome = reply_to_question(CATALOGUE, date(2026, 1, 5), text=text, previous=previous,
                                previous_aspect=aspect, referrals=refs)
    assert outcome.policy is not None and outcome.policy.key == previous
    assert outcome.aspect == aspect


def test_a_materials_word_is_no_other_departments_matter() -> None:
    """"补卡要带户口本吗" after 社保卡 asks what to bring; 户口本丢了 is 公安's."""
    refs = ReferralStore(ROOT / "referrals").table
    assert refs.match("补卡要带户口本吗") is None
    found = refs.match("我户口本丢了去哪里补")
    assert found is not None and found.department.key == "public_security"


@pytest.mark.parametrize(("text", "aspect"), [
    ("周末上班吗", "where"),           # no aspect word at all: the office hours
    ("星期六能办不", "where"),          # "能办不" closes it, but it asks when, not who
    ("网上行不行", "process"),          # "行不行" closes it, but it asks the online way
    ("手机上能办不", "process"),
    ("我上班了还能领吗", "eligibility"),  # 上班 alone is a story, not the office hours
    ("我这情况行不", "eligibility"),
])
def test_follow_up_words_that_ask_an_aspect_only_after_an_answer(text: str, aspect: str) -> None:
    """Session 10f: short second turns whose words ask an aspect only once a policy is being
    discussed (policies/_conversation.yml context_aspects) were "please rephrase" or the
    conditions; they ask about the previous policy."""
    refs = ReferralStore(ROOT / "referrals").table
    assert asked_of_previous(CATALOGUE, refs, text, "unemployment_insurance") \
        == (UNEMPLOYMENT, aspect)
    assert asked_of_previous(CATALOGUE, refs, text, None) is None


@pytest.mark.parametrize(("text", "again"), [
    ("那我呢我是自己辞职的", True), ("然后呢", True), ("那详细说说吧", True), ("具体点", True),
    ("还有什么补贴", False), ("那个呢", False),
])
def test_the_same_question_again_of_the_citizen_or_to_go_on(text: str, again: bool) -> None:
    """"那我呢我是自己辞职的" and "然后呢" after an answer find nothing of their own: the previous
    question again, of the previous policy (they were "please rephrase"); a longer question
    holding 还有 is not a request to go on."""
    outcome = reply_to_question(CATALOGUE, date(2026, 1, 5), text=text,
                                previous="unemployment_insurance",
                                previous_aspect="eligibility",
                                referrals=ReferralStore(ROOT / "referrals").table)
    if again:
        assert (outcome.policy, outcome.aspect) == (UNEMPLOYMENT, "eligibility")
        assert outcome.reply.text.startswith(heading("unemployment_insurance", "申请条件"))
    else:
        assert asks_of_another(text) is False


def test_contributions_brought_here_from_home_switch_to_the_transfer() -> None:
    """"我在老家交的社保能转到这边来不" after an answer tells the pension transfer as a situation:
    it switches (it was answered as the previous policy's conditions, a wrong answer)."""
    messages, slots = run(ActionAnswerPolicy(), next_turn("我在老家交的社保能转到这边来不"))
    assert slots["policy"] == "pension_transfer", messages


@pytest.mark.parametrize(("text", "intent"), [
    ("还有什么补贴我能领", "ask_policy"), ("别的还有啥", "nlu_fallback"),
])
def test_which_other_benefits_after_an_answer_goes_to_the_benefits_check(
    text: str, intent: str
) -> None:
    """Session 11: "还有什么补贴我能领" after 失业金 was answered with 失业金's conditions again;
    the benefits check answers it, and the policy slot is kept for a later follow-up."""
    action = ActionAnswerPolicy() if intent == "ask_policy" else ActionFallback()
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, next_turn(text, intent), {})
    assert dispatcher.messages == []
    assert {"event": "followup", "name": "action_check_benefits"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert not any(e["event"] == "slot" and e["name"] == "policy" for e in events)


def test_someone_else_doing_it_is_answered_with_how_it_is_done() -> None:
    """"能让我儿子替我去办吗" after 失业金: how it is done (who may apply), not the conditions."""
    messages, slots = run(ActionAnswerPolicy(), next_turn("能让我儿子替我去办吗"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "怎么办理"))
    assert slots == {"policy": "unemployment_insurance", "aspect": "process"}


def test_an_office_question_asking_another_aspect_gets_that_aspect() -> None:
    """A mistyped name reads as an office question to the NLU ("社保转衣需要哪些材料"): the
    aspect asked is answered, not the office; "工商局在哪里" is referred to market regulation,
    not asked for a district; "周末上班吗" after an answer asks that policy's office hours."""
    asked = next_turn("社保转衣需要哪些材料", "ask_office")
    assert asyncio.run(ValidateOfficeForm().required_slots(
        ["district"], CollectingDispatcher(), asked, {})) == []
    messages, slots = run(ActionOfficeLookup(), asked)
    assert messages[0]["text"].startswith(heading("pension_transfer", "所需材料")), messages
    assert slots == {"policy": "pension_transfer", "aspect": "materials"}
    referred = next_turn("工商局在哪里", "ask_office")
    assert asyncio.run(ValidateOfficeForm().required_slots(
        ["district"], CollectingDispatcher(), referred, {})) == []
    messages, slots = run(ActionOfficeLookup(), referred)
    assert "市场监管" in messages[0]["text"] and "【" not in messages[0]["text"]
    assert slots["policy"] is None
    messages, slots = run(ActionOfficeLookup(), next_turn("周末上班吗", "ask_office"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "在哪办理"))


def test_out_of_scope_weighs_a_named_policy_against_another_departments_word() -> None:
    """"居家养老服务补贴要不要医院的诊断" names the home-care subsidy; 医院 is a condition of
    it, not a health matter to refer (tagged out of scope by the NLU, it was referred)."""
    messages, slots = run(ActionOutOfScope(),
                          next_turn("居家养老服务补贴要不要医院的诊断", "out_of_scope"))
    assert messages[0]["text"].startswith(f"【{CATALOGUE['home_care_subsidy'].title}】"), messages
    assert slots["policy"] == "home_care_subsidy"
    messages, slots = run(ActionOutOfScope(), next_turn("去医院看病挂号怎么挂", "out_of_scope"))
    assert "卫健" in messages[0]["text"] and slots["policy"] is None


def test_what_to_bring_tagged_check_benefits_is_a_follow_up() -> None:
    """"我女婿去帮我办要拿些什么" holds 什么, a which-benefits word, but asks what to bring:
    about the policy just answered, not the benefits questionnaire."""
    assert not asks_which_benefits("我女婿去帮我办要拿些什么")
    messages, slots = run(ActionCheckBenefits(),
                          next_turn("我女婿去帮我办要拿些什么", "check_benefits"))
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "所需材料")), messages
    assert slots == {"policy": "unemployment_insurance", "aspect": "materials"}


def test_a_policy_question_in_words_of_its_own_gets_the_discussed_policys_overview() -> None:
    """"领的时候还能打零工吗" after 失业保险金 asks no aspect the vocabulary knows and names
    nothing: the ask_policy action answers 失业保险金 in overview (session 12), not "没找到";
    another intent's action keeps its own reply for such a message."""
    messages, slots = run(ActionAnswerPolicy(), next_turn("领的时候还能打零工吗"))
    assert messages[0]["text"].startswith(f"【{UNEMPLOYMENT.title}】\n")
    assert slots == {"policy": "unemployment_insurance", "aspect": None}
    messages, _ = run(ActionAffirmOrDeny(), next_turn("领的时候还能打零工吗", "affirm"))
    assert [m.get("response") for m in messages] == ["utter_affirm"]


def test_check_benefits_answers_one_policy_told_and_asked_an_aspect() -> None:
    """A long question the NLU reads as "what can I get" may tell one policy in words of its
    own and ask one aspect of it: answered as ask_policy answers it; "我能领哪些补贴" and
    "我失业了能领什么补贴" (which benefits, of the citizen's own case) stay with the check."""
    text = ("我六十了刚退休身体还好闲不住想去学个手艺听说政府组织的职业培训是免费的还有补贴"
            "我这个岁数的还能不能参加")
    messages, slots = run(ActionCheckBenefits(), next_turn(text, "check_benefits",
                                                           conversation="benefits_asked"))
    assert messages[0]["text"].startswith(
        f"【{CATALOGUE['vocational_training_subsidy'].title}】"), messages
    assert slots["policy"] == "vocational_training_subsidy"
    for own in ("我能领哪些补贴", "我失业了能领什么补贴"):
        assert not asks_one_policy(own), own


def test_a_where_question_naming_no_office_after_an_answer_is_about_its_policy() -> None:
    """"去社区办还是去街道办" after 失业保险金 (an office question to the NLU) asks where to
    apply for it; "南湖区的办事大厅在哪" names an office: the form asks the district."""
    asked = next_turn("去社区办还是去街道办", "ask_office")
    assert not names_an_office("去社区办还是去街道办")
    messages, _ = run(ActionOfficeLookup(), asked)
    assert messages[0]["text"].startswith(heading("unemployment_insurance", "在哪办理")), messages
    office = next_turn("南湖区的办事大厅在哪", "ask_office")
    assert asyncio.run(ValidateOfficeForm().required_slots(
        ["district"], CollectingDispatcher(), office, {})) == ["district"]
