"""`check_application` (status of my application). Placeholder until application status is
connected: it says honestly that it cannot look the application up, and offers the
catalogue's processing time for a named policy and a person. A message that asks a fact of
a policy rather than the status of the citizen's own application is answered as a policy
question."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import catalogue, entity_values, settings, utter
from bot.actions.policy import policy_question_instead
from huimin.catalogue.answers import Choice, Reply, intent_choice, named_policies, payload
from huimin.catalogue.follow_ups import APPLICATION_STATUS_WORDS


class ActionCheckApplication(Action):
    def name(self) -> str:
        return "action_check_application"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if not any(word in text for word in APPLICATION_STATUS_WORDS):
            # "申请了以后多久能批下来" asks the policy's time limit, not this citizen's status.
            events = policy_question_instead(tracker, dispatcher, named=True, refer=True)
            if events is not None:
                return events
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
