"""`ask_policy`: answer from the policy catalogue, ask when unsure, or refer elsewhere.

A later turn that asks one aspect and names no policy of its own ("办这个要去什么地方",
"我妈今年82了一个月能领多少") is about the policy of the previous answer, whatever intent the
NLU gave it; naming another policy switches to it ("那失业登记呢").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import (
    catalogue,
    entity_values,
    previous_slot,
    referrals,
    today,
    utter,
)
from huimin.catalogue.answers import (
    Choice,
    Outcome,
    Reply,
    answer,
    asks_about,
    is_payload,
    refer,
    reply_to_question,
)
from huimin.catalogue.conversation import asks_of_another
from huimin.catalogue.follow_ups import (
    asked_of_previous,
    asks_benefits_check,
    aspect_kept,
    named_question,
    still_about_previous,
)
from huimin.catalogue.resolver import Resolution, resolve, resolve_clear
from huimin.catalogue.vocabulary import aspect_of


def resolution(tracker: Tracker) -> Resolution | None:
    """The latest message's resolution from its words (policy named, another department's
    matter, retrieval), or None for no typed text. An action computes it once and passes it
    to every rule it asks (follow-up, named question, answer): each would otherwise resolve
    the same message again, retrieval included."""
    text = tracker.latest_message.get("text") or ""
    if not text or is_payload(text):
        return None
    return resolve(catalogue(), referrals(), text)


def follow_up(tracker: Tracker, found: Resolution | None = None) -> Outcome | None:
    """The answer to a follow-up about the previous answer's policy, or None. `found`: the
    message's resolution (`resolution(tracker)`) when the caller already has it."""
    cat = catalogue()
    asked = asked_of_previous(
        cat,
        referrals(),
        tracker.latest_message.get("text") or "",
        previous_slot(tracker, "policy"),
        entity_values(tracker, "policy"),
        found,
    )
    if asked is None:
        return None
    policy, aspect = asked
    return Outcome(answer(policy, aspect, today()), policy, aspect)


def overview_of_previous(tracker: Tracker, found: Resolution | None = None) -> Outcome | None:
    """The previous answer's policy in overview when the latest policy question asks about it
    in words the aspect vocabulary does not know ("贷下来能用几年"), else None. Only the
    ask_policy action asks it: another intent's message naming no aspect is its own business."""
    kept = still_about_previous(
        catalogue(),
        referrals(),
        tracker.latest_message.get("text") or "",
        previous_slot(tracker, "policy"),
        entity_values(tracker, "policy"),
        found,
    )
    if kept is None:
        return None
    aspect = aspect_kept(tracker.latest_message.get("text") or "", kept,
                         previous_slot(tracker, "policy"), previous_slot(tracker, "aspect"))
    return Outcome(answer(kept, aspect, today()), kept, aspect)


def policy_question_instead(
    tracker: Tracker,
    dispatcher: CollectingDispatcher,
    *,
    follow_ups: bool = True,
    named: bool = False,
    unless: Sequence[str] = (),
    besides: Sequence[str] = (),
    any_aspect: bool = False,
    refer: bool = False,
    offer: Sequence[Choice] = (),
) -> list[dict[str, Any]] | None:
    """For the actions of other intents: when the latest message is really a policy question,
    answer it and return the slot events; else None, having uttered nothing.

    Short follow-ups ("一天能给多少", "申请了以后多久能批下来") are often given another intent
    by the NLU. A policy question here is a follow-up about the previous answer's policy (unless
    not `follow_ups`), or (`named`) a message that names a policy, verbatim or misheard, and
    asks one aspect of it.
    `unless`: words that mark a message naming no policy as the intent's own business;
    `besides`: aspects that are the intent's own business even when a policy is named;
    `any_aspect`: a named policy is answered even when no aspect is asked (an overview);
    `refer`: another department's matter is referred there;
    `offer`: choices put first under the answer (the step-by-step guide for the policy)."""
    text = tracker.latest_message.get("text") or ""
    if not text or is_payload(text):
        return None
    mine = not follow_ups or any(word in text for word in unless)
    if mine and not named:
        return None
    found = resolution(tracker)
    outcome = None if mine else follow_up(tracker, found)
    if outcome is None and named:
        outcome = named_question(catalogue(), referrals(), text,
                                 entity_values(tracker, "policy"), today(), besides,
                                 any_aspect, refer, found)
    if outcome is None:
        return None
    reply = outcome.reply
    if offer:
        reply = Reply(reply.text, (*offer, *reply.choices))
    utter(dispatcher, reply)
    return slots(outcome)


def answered_instead(
    tracker: Tracker, dispatcher: CollectingDispatcher, found: Resolution | None = None
) -> list[dict[str, Any]] | None:
    """For intents the NLU gives to policy questions it could not place (nlu_fallback; "接下来
    呢" as next_step with no guide running): answered as ask_policy answers them when the words
    settle it, and the slot events returned; else None, having uttered nothing.

    The words settle it when they name a policy or another department's matter (verbatim,
    misheard or mistyped), or retrieval finds one clearly and strongly, or finds one the
    resolver answers and an aspect is asked of it ("我交了十五年的钱退休去哪里办"), or they ask
    an aspect of the policy being discussed, or the same question again of someone else or to
    go on ("我这种情况呢", "然后呢"). `found`: the message's resolution when the caller has it."""
    found = found or resolution(tracker)
    if found is None:
        return None
    text = tracker.latest_message.get("text") or ""
    cat = catalogue()
    previous = previous_slot(tracker, "policy")
    names = tuple(n for p in cat for n in p.names)
    if (
        resolve_clear(cat, referrals(), text, found=found) is not None
        or (found.decision == "answer" and aspect_of(text, ignore=names) is not None)
        or asks_about(cat, text, previous)
        or follow_up(tracker, found) is not None
        or (previous is not None and asks_of_another(text))
    ):
        return slots(answer_question(tracker, dispatcher, found))
    return None


def answer_question(
    tracker: Tracker, dispatcher: CollectingDispatcher, found: Resolution | None = None
) -> Outcome:
    """Resolve the latest message against the catalogue and the referrals, and utter it;
    a follow-up about the previous answer's policy is answered for that policy, in overview
    when it asks in words of its own (`overview_of_previous`). `found`: the
    message's resolution when the caller already has it."""
    found = found or resolution(tracker)
    outcome = follow_up(tracker, found) or overview_of_previous(tracker, found)
    outcome = outcome or reply_to_question(
        catalogue(),
        today(),
        text=tracker.latest_message.get("text") or "",
        policy_values=entity_values(tracker, "policy"),
        aspect_values=entity_values(tracker, "aspect"),
        previous=previous_slot(tracker, "policy"),
        previous_aspect=previous_slot(tracker, "aspect"),
        referrals=referrals(),
        resolution=found,
    )
    utter(dispatcher, outcome.reply)
    return outcome


def slots(outcome: Outcome) -> list[dict[str, Any]]:
    """The policy being discussed (a catalogue key), so "那要什么材料" can follow; while the
    citizen still has to choose, or was referred elsewhere, there is none."""
    key = outcome.policy.key if outcome.policy else None
    return [SlotSet("policy", key), SlotSet("aspect", outcome.aspect)]


BENEFITS_CHECK = "action_check_benefits"


def to_benefits_check(
    tracker: Tracker, found: Resolution | None = None
) -> list[dict[str, Any]] | None:
    """The hand-over to the benefits check when the latest message asks which other benefits
    there are ("还有什么补贴我能领" after an answer, tagged ask_policy), else None; the policy
    being discussed is kept for a later follow-up. `found`: the message's resolution."""
    text = tracker.latest_message.get("text") or ""
    if not asks_benefits_check(catalogue(), text, entity_values(tracker, "policy"),
                               found or resolution(tracker)):
        return None
    return [FollowupAction(BENEFITS_CHECK)]


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = resolution(tracker)
        return to_benefits_check(tracker, found) or slots(
            answer_question(tracker, dispatcher, found))


class ActionOutOfScope(Action):
    """Not a 人社 matter: name the department that handles it when the referrals know it,
    otherwise say politely what the assistant can do."""

    def name(self) -> str:
        return "action_out_of_scope"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # "家属需要带些啥子" after a policy answer is about that policy; "高林津贴在哪办" names
        # one, misheard; "居家养老服务补贴要不要医院的诊断" names one whose condition is another
        # department's word: the resolver weighs the name against it, as for ask_policy.
        events = policy_question_instead(tracker, dispatcher, named=True, any_aspect=True,
                                         refer=True)
        if events is not None:
            return events
        found = referrals().match(tracker.latest_message.get("text") or "")
        if found is not None:
            utter(dispatcher, refer(found))
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return [SlotSet("policy", None), SlotSet("aspect", None)]


class ActionAffirmOrDeny(Action):
    """"好的" / "不用了"; but "补办的话要不要交钱啊" after a policy answer reads as a yes/no
    to the NLU and asks about that policy."""

    def name(self) -> str:
        return "action_affirm_or_deny"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events = policy_question_instead(tracker, dispatcher)
        if events is not None:
            return events
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(response="utter_deny" if intent == "deny" else "utter_affirm")
        return []
