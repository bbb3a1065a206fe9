"""Hand the conversation to a person: a ticket staff see, and the hotline for now."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import database, transcript
from huimin import handoff


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reason = "user_request" if tracker.latest_message.get("intent", {}).get(
            "name"
        ) == "human_handoff" else "assistant_failed"
        with database().session() as session:
            ticket = handoff.open_ticket(session, tracker.sender_id, reason, transcript(tracker))
            number = ticket.id
        dispatcher.utter_message(
            text=(
                f"已为您转人工（工单号 {number}）。工作人员会在这里回复您。\n"
                "着急可拨打 12333，工作日 9:00-17:00。"
            )
        )
        return []
