"""`ask_policy`: answer from the policy catalogue, or offer the likely policies to choose."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import catalogue, entity_values, today, utter
from huimin.catalogue.answers import reply_to_question


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        outcome = reply_to_question(
            catalogue(),
            today(),
            text=tracker.latest_message.get("text") or "",
            policy_values=entity_values(tracker, "policy"),
            aspect_values=entity_values(tracker, "aspect"),
            previous=tracker.get_slot("policy"),
        )
        utter(dispatcher, outcome.reply)
        # The slot holds the policy being discussed (a catalogue key), so "那要什么材料" can
        # follow; while the citizen still has to choose, there is none.
        key = outcome.policy.key if outcome.policy else None
        return [SlotSet("policy", key), SlotSet("aspect", outcome.aspect)]
