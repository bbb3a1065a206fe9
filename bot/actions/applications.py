"""`check_application` (status of my application). Placeholder until application status is
connected: it says honestly that it cannot look the application up, and offers the
catalogue's processing time for a named policy and a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import catalogue, entity_values, settings, utter
from huimin.catalogue.answers import Choice, Reply, intent_choice, named_policies, payload


class ActionCheckApplication(Action):
    def name(self) -> str:
        return "action_check_application"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        named = named_policies(catalogue(), entity_values(tracker, "policy"), text)
        choices = [
            Choice(f"{p.title}办理时限", payload("ask_policy", policy=p.key, aspect="deadline"))
            for p in named[:1]
        ]
        reply = Reply(
            f"我这里还查不了您本人的办件进度。可以拨打 {settings().hotline} 查询，"
            "或转人工让工作人员帮您查。",
            (*choices, intent_choice("human_handoff")),
        )
        utter(dispatcher, reply)
        return []
