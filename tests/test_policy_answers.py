"""Answer composition from the real policy catalogue: every fact comes from the catalogue."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from huimin.catalogue import ASPECT_LABELS, ASPECTS, Catalogue, Policy
from huimin.catalogue.answers import (
    MAX_CHOICES,
    Reply,
    answer,
    aspect_answer,
    choose_policy,
    is_follow_up,
    named_policies,
    overview,
    payload,
    rephrase,
    reply_to_question,
    validity_note,
    which_policy,
)

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 6, 1)
# A WeChat passive reply holds 2048 bytes; an answer must fit a phone screen well within it.
MAX_REPLY_BYTES = 1500
PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$")



def parse_payload(text: str) -> tuple[str, dict]:
    """How Rasa reads a button payload: `/intent{json}`."""
    match = PAYLOAD.match(text)
    assert match, text
    return match["intent"], json.loads(match["entities"] or "{}")


def rendered(reply: Reply) -> str:
    """The WeChat text for a reply (what huimin.wechat.conversation renders)."""
    lines = [reply.text] + [f"回复 {i}：{c.title}" for i, c in enumerate(reply.choices, 1)]
    return "\n".join(lines)


def test_payload_is_a_rasa_intent_payload() -> None:
    expected = '/ask_policy{"policy":"startup_subsidy"}'
    assert payload("ask_policy", policy="startup_subsidy") == expected
    assert payload("human_handoff") == "/human_handoff"
    assert payload("ask_policy", policy="x", aspect=None) == '/ask_policy{"policy":"x"}'


def test_overview_is_title_summary_four_aspects_and_unhelpful(catalogue: Catalogue) -> None:
    policy = catalogue["unemployment_insurance"]
    reply = overview(policy, TODAY)
    assert reply.text.startswith("【失业保险金】")
    assert policy.summary in reply.text
    *aspects, unhelpful = reply.choices
    assert [c.title for c in aspects] == [ASPECT_LABELS[a] for a in
                                          ("eligibility", "amount", "materials", "process")]
    assert (unhelpful.title, unhelpful.payload) == ("没帮到我", "/feedback_unhelpful")
    for choice in aspects:
        intent, entities = parse_payload(choice.payload)
        assert intent == "ask_policy" and entities["policy"] == "unemployment_insurance"
        assert entities["aspect"] in ASPECTS


@pytest.mark.parametrize("aspect", ASPECTS)
def test_aspect_answer_is_the_catalogue_text(catalogue: Catalogue, aspect: str) -> None:
    policy = catalogue["startup_subsidy"]
    reply = aspect_answer(policy, aspect, TODAY)
    assert reply.text.startswith(f"【一次性创业补贴】{ASPECT_LABELS[aspect]}")
    assert policy.aspect_text(aspect) in reply.text
    *follow_ups, unhelpful = reply.choices
    offered = [parse_payload(c.payload)[1]["aspect"] for c in follow_ups]
    assert aspect not in offered and 0 < len(offered) <= MAX_CHOICES
    assert parse_payload(unhelpful.payload) == ("feedback_unhelpful", {})


def test_amount_answer_states_the_catalogue_figures(catalogue: Catalogue) -> None:
    text = answer(catalogue["unemployment_insurance"], "amount", TODAY).text
    assert "1710元" in text and "最多领24个月" in text


@pytest.mark.parametrize("key", ["residents_basic_pension", "flexible_worker_enrollment",
                                 "startup_guarantee_loan"])
def test_a_fee_that_points_to_the_figures_comes_with_them(catalogue: Catalogue, key: str) -> None:
    policy = catalogue[key]
    assert "见“标准和金额”" in policy.fee
    text = answer(policy, "fee", TODAY).text
    assert policy.fee in text and policy.amount in text


def test_a_fee_of_its_own_is_answered_alone(catalogue: Catalogue) -> None:
    policy = catalogue["social_security_card"]
    assert policy.fee and "标准和金额" not in policy.fee
    assert policy.amount not in answer(policy, "fee", TODAY).text


def test_where_and_process_answers_give_the_hotline(catalogue: Catalogue) -> None:
    policy = catalogue["wage_arrears_complaint"]
    for aspect in ("where", "process"):
        assert f"咨询电话：{policy.hotline}" in answer(policy, aspect, TODAY).text


def test_unknown_aspect_gives_the_overview_and_a_bad_one_is_refused(catalogue: Catalogue) -> None:
    policy = catalogue["elderly_allowance"]
    assert answer(policy, None, TODAY) == overview(policy, TODAY)
    assert answer(policy, "colour", TODAY) == overview(policy, TODAY)
    with pytest.raises(ValueError, match="unknown aspect"):
        aspect_answer(policy, "colour", TODAY)


def test_no_number_in_any_answer_that_is_not_in_the_catalogue(catalogue: Catalogue) -> None:
    """Composition adds no facts: every figure shown appears in the policy file's text."""
    for policy in catalogue:
        source = json.dumps(policy.model_dump(mode="json"), ensure_ascii=False)
        for aspect in (None, *ASPECTS):
            text = answer(policy, aspect, TODAY).text
            for figure in re.findall(r"\d+(?:\.\d+)?", text):
                assert figure in source, (policy.key, aspect, figure)


def test_every_answer_fits_a_phone_screen(catalogue: Catalogue) -> None:
    for policy in catalogue:
        for aspect in (None, *ASPECTS):
            text = rendered(answer(policy, aspect, TODAY))
            assert len(text.encode()) <= MAX_REPLY_BYTES, (policy.key, aspect, len(text))


def test_expired_and_future_policies_are_flagged(catalogue: Catalogue) -> None:
    policy = catalogue["startup_subsidy"]
    expired = policy.model_copy(update={"effective_to": date(2025, 1, 31)})
    future = policy.model_copy(update={"effective_from": date(2026, 1, 1)})
    assert validity_note(policy, TODAY) is None
    assert "2025年1月31日停止执行" in overview(expired, TODAY).text
    assert "12333" in answer(expired, "amount", TODAY).text
    assert "2026年1月1日起执行" in answer(future, "materials", TODAY).text


def test_a_named_policy_is_answered_on_the_aspect_asked(catalogue: Catalogue) -> None:
    out = reply_to_question(catalogue, TODAY, "失业金一个月能拿多少钱",
                            ["unemployment_insurance"], ["amount"])
    assert out.policy is not None and out.policy.key == "unemployment_insurance"
    assert out.aspect == "amount" and "1710元" in out.reply.text


def test_stray_entity_values_are_ignored(catalogue: Catalogue) -> None:
    """The NLU sometimes tags odd spans ("能拿", "办理"); the text's aspect words decide."""
    out = reply_to_question(catalogue, TODAY, "失业金一个月能拿多少钱啊",
                            ["unemployment_insurance", "办理"], ["能拿", "amount"])
    assert out.aspect == "amount"
    out = reply_to_question(catalogue, TODAY, "失业金一个月能领多少钱",
                            ["unemployment_insurance"], ["eligibility", "amount"])
    assert out.aspect == "amount"  # "能领" (eligibility) is part of "能领多少" (amount)
    out = reply_to_question(catalogue, TODAY, "新农保满了60岁怎么领", ["residents_basic_pension"])
    assert out.aspect == "process" and out.policy.key == "residents_basic_pension"


def test_a_name_the_nlu_missed_is_found_in_the_text(catalogue: Catalogue) -> None:
    out = reply_to_question(catalogue, TODAY, "高龄津贴要带啥")
    assert out.policy.key == "elderly_allowance" and out.aspect == "materials"
    assert catalogue["elderly_allowance"].materials[0] in out.reply.text


def test_raw_entity_text_is_looked_up_by_name(catalogue: Catalogue) -> None:
    assert named_policies(catalogue, ["创业贷"], "") == [catalogue["startup_guarantee_loan"]]


def test_two_named_policies_are_answered_side_by_side(catalogue: Catalogue) -> None:
    """Issue 14: a question naming two policies gets both, briefly, not a menu."""
    out = reply_to_question(catalogue, TODAY, "失业金和失业登记哪个先办",
                            ["unemployment_insurance", "unemployment_registration"])
    assert out.policy is None and out.decision == "answer"
    first, second = catalogue["unemployment_insurance"], catalogue["unemployment_registration"]
    assert out.reply.text.index(f"【{first.title}】") < out.reply.text.index(f"【{second.title}】")
    assert first.summary in out.reply.text and second.summary in out.reply.text
    assert [parse_payload(c.payload)[0] for c in out.reply.choices] == ["feedback_unhelpful"]
    out = reply_to_question(catalogue, TODAY, "职业培训补贴和技能提升补贴哪个钱多")
    for key in ("vocational_training_subsidy", "skill_upgrade_subsidy"):
        policy = catalogue[key]
        assert f"【{policy.title}】标准和金额" in out.reply.text
        assert policy.amount in out.reply.text


def test_follow_up_aspect_uses_the_policy_being_discussed(catalogue: Catalogue) -> None:
    out = reply_to_question(catalogue, TODAY, "那需要什么材料", [], ["materials"],
                            previous="startup_subsidy")
    assert out.policy.key == "startup_subsidy" and out.aspect == "materials"
    assert "营业执照" in out.reply.text


def test_a_new_topic_is_not_mistaken_for_a_follow_up(catalogue: Catalogue) -> None:
    assert is_follow_up(catalogue, "那需要什么材料")
    assert is_follow_up(catalogue, "这个补贴什么人可以领")
    assert is_follow_up(catalogue, "在哪办啊")
    assert not is_follow_up(catalogue, "开饭店有什么补贴怎么申请")
    assert not is_follow_up(catalogue, "我爸八十多了有没有补贴")
    out = reply_to_question(catalogue, TODAY, "我爸八十多了有没有补贴 怎么申请", [], ["process"],
                            previous="startup_subsidy")
    assert out.policy is not None and out.policy.key == "elderly_allowance"
    assert out.aspect == "process"


def test_one_clear_search_candidate_is_answered_not_offered(catalogue: Catalogue) -> None:
    """Issue 14: one clear candidate is answered; never a one-item menu."""
    out = reply_to_question(catalogue, TODAY, "我想问问那个4050的补贴")
    assert out.policy is not None and out.policy.key == "flexible_employment_subsidy"
    assert out.reply.text.startswith("【灵活就业人员社会保险补贴】")
    assert "您问的是哪一项" not in out.reply.text
    out = reply_to_question(catalogue, TODAY, "八十多岁老人的补贴要什么材料")
    assert out.policy is not None and out.policy.key == "elderly_allowance"
    assert catalogue["elderly_allowance"].materials[0] in out.reply.text


def test_close_candidates_are_offered_best_first_with_the_aspect(catalogue: Catalogue) -> None:
    # "养老金" alone could be the yearly certification, retiring or the residents' pension.
    out = reply_to_question(catalogue, TODAY, "养老金要带什么材料")
    assert out.policy is None and out.decision == "ask"
    assert out.reply.text == "您问的是哪一项？"
    offered = [parse_payload(c.payload) for c in out.reply.choices[:-1]]
    ranked = [hit.key for hit in catalogue.search("养老金要带什么材料", k=MAX_CHOICES)]
    assert len(offered) >= 2
    assert [e["policy"] for _, e in offered] == ranked[: len(offered)]
    assert {e["aspect"] for _, e in offered} == {"materials"}
    assert "pension_certification" in [e["policy"] for _, e in offered]
    assert parse_payload(out.reply.choices[-1].payload)[0] == "deny"


def test_nothing_found_asks_which_policy(catalogue: Catalogue) -> None:
    out = reply_to_question(catalogue, TODAY, "/ask_policy")
    assert out.reply == which_policy(catalogue)
    assert out.reply.text.startswith("您想问哪项政策？")
    *policies, person = [parse_payload(c.payload) for c in out.reply.choices]
    assert policies and all(intent == "ask_policy" and e["policy"] in catalogue
                            for intent, e in policies)
    assert person == ("human_handoff", {})
    # Words that match no policy at all: say so (often another department's question).
    out = reply_to_question(catalogue, TODAY, "护照在哪办")
    assert out.reply.text.startswith("没找到和这个有关的人社政策。")


def test_payload_text_is_not_searched(catalogue: Catalogue) -> None:
    out = reply_to_question(catalogue, TODAY, '/ask_policy{"policy":"startup_subsidy"}',
                            ["startup_subsidy"])
    assert out.policy.key == "startup_subsidy" and out.reply.text.startswith("【一次性创业补贴】")


def test_choose_policy_caps_the_list(catalogue: Catalogue) -> None:
    policies: list[Policy] = list(catalogue)[:7]
    reply = choose_policy(policies)
    assert len(reply.choices) == MAX_CHOICES + 1


def test_rephrase_offers_guesses_then_a_person(catalogue: Catalogue) -> None:
    reply = rephrase(["check_benefits", "greet"], [catalogue["startup_subsidy"]])
    assert "换个说法" in reply.text
    titles = [c.title for c in reply.choices]
    assert titles == ["了解一次性创业补贴", "查我能领哪些补贴", "转人工"]
    assert parse_payload(reply.choices[-1].payload) == ("human_handoff", {})


def test_rephrase_with_no_guess_offers_the_main_menu() -> None:
    reply = rephrase(["out_of_scope"], [])
    assert [c.title for c in reply.choices] == ["查政策", "查我能领哪些补贴", "一步步教我办事",
                                                 "转人工"]
