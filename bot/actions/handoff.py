"""Hand the conversation to a person: a ticket staff see, and the hotline meanwhile."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import database, settings, transcript
from bot.actions.policy import policy_question_instead
from huimin.catalogue.follow_ups import asks_for_a_person
from huimin.ops import handoff

USER_REQUEST, ASSISTANT_FAILED = "user_request", "assistant_failed"


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> None:
    """Open (or refresh) the conversation's ticket and tell the citizen what happens next."""
    with database().session() as session:
        ticket = handoff.open_ticket(session, tracker.sender_id, reason, transcript(tracker))
        number = ticket.id
    opening = "抱歉，我还是没弄明白。" if reason == ASSISTANT_FAILED else ""
    dispatcher.utter_message(
        text=(
            f"{opening}已为您转人工（工单号 {number}），工作人员会在这里回复您。\n"
            f"着急可拨打 {settings().hotline}，工作日 9:00-17:00。"
        )
    )


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        text = tracker.latest_message.get("text") or ""
        if intent == "human_handoff" and text and not asks_for_a_person(text):
            # "打电话能挂失吗" after 社保卡, "就业困难人员认定找社区还是找街道": read as hand-off
            # requests, they ask no person but a policy question it names or follows up on.
            events = policy_question_instead(tracker, dispatcher, named=True)
            if events is not None:
                return events
        reason = USER_REQUEST if intent == "human_handoff" else ASSISTANT_FAILED
        hand_off(dispatcher, tracker, reason)
        return []
