"""`start_guide` and the flow commands (`next_step`, `repeat`, `go_back`, `stop`).

Placeholders until the step-by-step guides (issue 8) plug in here: `action_start_guide`
shows the catalogue's application steps for the task instead, and `action_guide_command`
says there is no guide in progress (it does repeat the last answer, and stops politely).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import catalogue, entity_values, today, utter
from huimin.policy_answers import Reply, intent_choice, named_policies, process_steps

NOT_READY = "一步一步带您办的功能还在准备中。"
NO_GUIDE = Reply(
    "现在没有正在进行的办事指引。您可以：",
    tuple(intent_choice(i) for i in ("start_guide", "ask_policy", "human_handoff")),
)


class ActionStartGuide(Action):
    def name(self) -> str:
        return "action_start_guide"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        cat = catalogue()
        guides = entity_values(tracker, "guide")
        policy = next((cat.get(g) for g in guides if cat.get(g) is not None), None)
        if policy is None:
            named = named_policies(cat, (), tracker.latest_message.get("text") or "")
            policy = named[0] if len(named) == 1 else None
        if policy is None:
            reply = Reply(
                NOT_READY + "您可以问我某件事怎么办，比如“养老金认证怎么办”，或转人工。",
                (intent_choice("ask_policy"), intent_choice("human_handoff")),
            )
        else:
            reply = process_steps(policy, today(), NOT_READY + "先告诉您怎么办：")
        utter(dispatcher, reply)
        return []


class ActionGuideCommand(Action):
    def name(self) -> str:
        return "action_guide_command"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        if intent == "stop":
            dispatcher.utter_message(text="好的，先不办了。有需要随时找我。")
        elif intent == "repeat" and (last := last_answer(tracker.events)):
            for message in last:
                dispatcher.utter_message(**message)
        else:
            utter(dispatcher, NO_GUIDE)
        return []


def last_answer(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bot's messages answering the previous user message (text and buttons)."""
    answer: list[dict[str, Any]] = []
    users = 0
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            users += 1
            if users == 2:
                break
        elif kind == "bot" and users == 1:
            data = event.get("data") or {}
            message = {"text": event.get("text") or ""}
            if data.get("buttons"):
                message["buttons"] = data["buttons"]
            answer.insert(0, message)
    return answer
