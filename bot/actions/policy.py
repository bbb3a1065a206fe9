"""`ask_policy`: answer from the policy catalogue, ask when unsure, or refer elsewhere."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import (
    catalogue,
    entity_values,
    previous_slot,
    referrals,
    today,
    utter,
)
from huimin.catalogue.answers import Outcome, refer, reply_to_question


def answer_question(tracker: Tracker, dispatcher: CollectingDispatcher) -> Outcome:
    """Resolve the latest message against the catalogue and the referrals, and utter it."""
    outcome = reply_to_question(
        catalogue(),
        today(),
        text=tracker.latest_message.get("text") or "",
        policy_values=entity_values(tracker, "policy"),
        aspect_values=entity_values(tracker, "aspect"),
        previous=previous_slot(tracker, "policy"),
        previous_aspect=previous_slot(tracker, "aspect"),
        referrals=referrals(),
    )
    utter(dispatcher, outcome.reply)
    return outcome


def slots(outcome: Outcome) -> list[dict[str, Any]]:
    """The policy being discussed (a catalogue key), so "那要什么材料" can follow; while the
    citizen still has to choose, or was referred elsewhere, there is none."""
    key = outcome.policy.key if outcome.policy else None
    return [SlotSet("policy", key), SlotSet("aspect", outcome.aspect)]


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return slots(answer_question(tracker, dispatcher))


class ActionOutOfScope(Action):
    """Not a 人社 matter: name the department that handles it when the referrals know it,
    otherwise say politely what the assistant can do."""

    def name(self) -> str:
        return "action_out_of_scope"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        found = referrals().match(tracker.latest_message.get("text") or "")
        if found is not None:
            utter(dispatcher, refer(found))
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return [SlotSet("policy", None), SlotSet("aspect", None)]
