"""`check_benefits` ("我能领哪些补贴？"): the same answer as /api/v1/me/benefits, for the
conversation's resident, asking for missing facts one at a time.

    action_check_benefits       the answer; when facts are missing it starts benefits_form
    benefits_form               asks (action_ask_benefit_answer) until nothing is left to ask
    validate_benefits_form      reads each reply; saves it to the profile with consent

The first question asks whether answers may be saved to the resident's profile; without
that consent (or without a linked resident) answers are used in this conversation only.
Saved answers bump the resident's facts version and queue matching for that resident.
"""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass
from datetime import date
from typing import Any

import redis
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.context import catalogue, database, runtime, settings
from bot.actions.policy import answered_instead, policy_question_instead
from huimin.benefits.check import PolicyAnswer, check, resident_facts
from huimin.benefits.questions import (
    CONSENT,
    SAVE,
    Question,
    consent_question,
    next_fact,
    question,
    read,
    to_slot,
)
from huimin.benefits.sources import rule_store, titles
from huimin.catalogue.follow_ups import asks_own_benefits, asks_which_benefits
from huimin.catalogue.vocabulary import aspect_of
from huimin.platform.settings import BenefitSettings
from huimin.privacy import audit
from huimin.residents.facts import Facts, parse_profile
from huimin.residents.importer import apply_facts
from huimin.residents.models import Resident
from huimin.wechat import users as wechat_users
from jobs.benefits import enqueue_resident_match

log = logging.getLogger(__name__)

FORM = "benefits_form"
ANSWER = "benefit_answer"  # the reply to the current question (from_text, in the form)
QUESTION = "benefit_question"  # the fact being asked, or "consent"
SAVE_SLOT = "benefit_save"  # "save" | "session" once the citizen chose
ANSWERS = "benefit_answers"  # {fact: value} given in this conversation
SKIPPED = "benefit_skipped"  # facts the citizen does not know
MISSES = "benefit_misses"  # replies to the current question that could not be read
DONE = "benefit_done"  # the citizen ended the questions
NOT_BOUND = "（您还没有在小程序实名认证，回答只用于这次查询，不会保存。）"


def _benefit_settings() -> BenefitSettings:
    return settings().benefits


def _redis() -> redis.Redis:
    return runtime().redis


@dataclass
class _State:
    """What the conversation knows: stored facts plus this conversation's answers."""

    resident_id: int | None
    facts: Facts
    answers: list[PolicyAnswer]
    skipped: list[str]
    save: str | None
    done: bool

    @property
    def pending(self) -> int:
        return sum(a.status == "unknown" for a in self.answers)

    def next_question(self) -> Question | None:
        if self.done:
            return None
        fact = next_fact(self.answers, self.skipped)
        if fact is None:
            return None
        if self.resident_id is not None and self.save is None:
            return consent_question(self.pending)
        return question(fact)


# Each request's states, by the identity of its tracker (rasa_sdk builds one per request; a
# Tracker defines __eq__ and so is not hashable). An entry goes when its tracker is collected.
_STATES: dict[int, dict[str, _State]] = {}


def _state(tracker: Tracker) -> _State:
    """The conversation's state, read once per request for the same slots: a form request
    asks it three or four times (required slots before and after extraction, validation),
    and each read is a database lookup and a rule check (py-spy: about a third of the action
    server's CPU under the realistic mix). Within a request the stored facts change only by
    `_save`, whose answer is in the ANSWERS slot too, so a changed answer reads afresh."""
    key = json.dumps([tracker.get_slot(name) for name in (ANSWERS, SKIPPED, SAVE_SLOT, DONE)],
                     sort_keys=True, default=str)
    states = _STATES.get(id(tracker))
    if states is None:
        states = _STATES[id(tracker)] = {}
        weakref.finalize(tracker, _STATES.pop, id(tracker), None)
    if key not in states:
        states[key] = _read_state(tracker)
    return states[key]


def _read_state(tracker: Tracker) -> _State:
    given = dict(tracker.get_slot(ANSWERS) or {})
    with database().session() as s:
        user = wechat_users.by_pseudonym(s, tracker.sender_id)
        resident = s.get(Resident, user.resident_id) if user and user.resident_id else None
        stored = resident_facts(resident).known() if resident else {}
        resident_id = resident.id if resident else None
    facts = parse_profile({**{k: to_slot(v) for k, v in stored.items()}, **given})
    book = rule_store(_benefit_settings().rules_dir).book
    names = titles(catalogue())  # the actions' live catalogue, checked once per call
    return _State(resident_id, facts, check(book, names, facts, date.today()),
                  list(tracker.get_slot(SKIPPED) or []), tracker.get_slot(SAVE_SLOT),
                  bool(tracker.get_slot(DONE)))


def _quantity(a: PolicyAnswer) -> str:
    parts = [q.text for q in (a.amount, a.duration) if q is not None]
    return f"（{'，'.join(parts)}）" if parts else ""


def results_text(answers: list[PolicyAnswer]) -> str:
    """The answer in a few short lines: what you can get, what is still open, the rest."""
    yes = [a for a in answers if a.status == "eligible"]
    open_ = [a for a in answers if a.status == "unknown"]
    no = [a for a in answers if a.status == "not_eligible"]
    lines = []
    if yes:
        lines.append("根据您的情况，您可以享受：")
        lines += [f"{i}. {a.title}{_quantity(a)}" for i, a in enumerate(yes, start=1)]
        lines.append("系统会给您发确认提醒，在小程序“我的提醒”里一键确认即可，不用填表。")
    else:
        lines.append("根据目前的情况，还没有找到您能享受的政策。")
    if open_:
        lines.append(f"还有{len(open_)}项要补充信息才能判断：{'、'.join(a.title for a in open_)}。")
    if no:
        lines.append(f"另有{len(no)}项暂不符合条件。")
    return "\n".join(lines)


def asks_one_policy(text: str) -> bool:
    """The message asks an aspect (the amount, who qualifies…) of something, not which
    benefits the citizen has ("我能领什么", "我是低保户能领哪些补贴" ask no aspect, or ask
    of their own case): `answered_instead` may answer it when its words settle one policy."""
    return aspect_of(text) is not None and not asks_own_benefits(text)


class ActionCheckBenefits(Action):
    def name(self) -> str:
        return "action_check_benefits"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.active_loop_name != FORM and tracker.latest_action_name == "action_listen":
            # "我这样的情况符合条件吗" right after a policy answer asks about that policy;
            # "老旧小区加装电梯有补贴吗" is another department's.
            text = tracker.latest_message.get("text") or ""
            events = policy_question_instead(
                tracker, dispatcher, follow_ups=not asks_which_benefits(text), named=True,
                any_aspect=True, refer=not asks_own_benefits(text),
            )
            if events is None and asks_one_policy(text):
                # "…学的时候每天还有生活补贴…我这个岁数的还能不能参加" tells one policy in
                # words of its own and asks one aspect of it: answered as ask_policy would.
                events = answered_instead(tracker, dispatcher)
            if events is not None:
                return events
        state = _state(tracker)
        if state.next_question() is not None and tracker.active_loop_name != FORM:
            eligible = [a for a in state.answers if a.status == "eligible"]
            if eligible:
                dispatcher.utter_message(text="目前能确定您可以享受：" + "、".join(
                    f"{a.title}{_quantity(a)}" for a in eligible) + "。")
            return [SlotSet(ANSWER, None), SlotSet(QUESTION, None), SlotSet(MISSES, 0),
                    FollowupAction(FORM)]
        buttons = [
            {"title": f"{a.title}怎么领", "payload": f'/ask_policy{{"policy":"{a.policy}"}}'}
            for a in state.answers if a.status == "eligible"
        ]
        buttons.append({"title": "转人工", "payload": "/human_handoff"})
        dispatcher.utter_message(text=results_text(state.answers), buttons=buttons)
        return [SlotSet(DONE, None), SlotSet(QUESTION, None), SlotSet(ANSWER, None)]


class ActionAskBenefitAnswer(Action):
    def name(self) -> str:
        return "action_ask_benefit_answer"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        state = _state(tracker)
        q = state.next_question()
        if q is None:
            return []
        text = q.text
        if state.resident_id is None and not tracker.get_slot(ANSWERS):
            text = f"还有{state.pending}项政策需要问您几个问题。{NOT_BOUND}\n{text}"
        if q.choices:
            text += "\n（不想答了请回复 0）" if q.key != CONSENT else ""
        dispatcher.utter_message(
            text=text, buttons=[{"title": label, "payload": label} for _, label in q.choices]
        )
        return [SlotSet(QUESTION, q.key)]


class ValidateBenefitsForm(FormValidationAction):
    def name(self) -> str:
        return "validate_benefits_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return [ANSWER] if _state(tracker).next_question() is not None else []

    def validate_benefit_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        key = tracker.get_slot(QUESTION)
        if value is None or not key:
            return {ANSWER: None}  # the form (re)starting: nothing was answered yet
        state = _state(tracker)
        asked = state.next_question()
        if asked is None or asked.key != key:
            return {ANSWER: None}  # the situation changed: ask afresh
        reading = read(asked, str(value or ""))
        out: dict[str, Any] = {ANSWER: None, MISSES: 0}
        if reading.kind == "stop":
            out[DONE] = True
        elif reading.kind == "skip" or (
            reading.kind == "unclear" and (tracker.get_slot(MISSES) or 0) >= 1
        ):
            # Twice not understood: move on rather than get stuck.
            out[SKIPPED] = [*state.skipped, key] if key != CONSENT else state.skipped
            if key == CONSENT:
                out[SAVE_SLOT] = "session"
        elif reading.kind == "unclear":
            dispatcher.utter_message(text=reading.hint)
            out[MISSES] = 1
        elif key == CONSENT:
            out[SAVE_SLOT] = reading.value
        else:
            out[ANSWERS] = {**(tracker.get_slot(ANSWERS) or {}), key: to_slot(reading.value)}
            if state.save == SAVE and state.resident_id is not None:
                _save(state.resident_id, key, reading.value, tracker.sender_id)
        return out


def _save(resident_id: int, fact: str, value: Any, sender_id: str) -> None:
    """Store one answer on the resident (consent given in this conversation), audited, and
    queue matching for that resident."""
    with database().session() as s:
        resident = s.get(Resident, resident_id)
        if resident is None or not apply_facts(resident, {fact: value}):
            return
        audit.record(s, f"chat:{sender_id}", "resident.facts_update", f"resident:{resident_id}",
                     audit.OK, detail={"facts": [fact], "channel": "official_account",
                                       "consent": "given in chat"})
        version = resident.facts_version
    try:
        enqueue_resident_match(_redis(), resident_id, version)
    except redis.RedisError:
        log.warning("could not queue matching for resident %s; the nightly run will", resident_id)
