"""When the assistant is unsure: ask once to rephrase with numbered guesses, then hand off.

Runs for `nlu_fallback` (FallbackClassifier: low confidence or two intents too close) and as
RulePolicy's core fallback. The NLU being unsure of the intent does not mean the words are
unclear: when the words settle a policy question (`policy.answered_instead`: a policy or
another department's matter named, retrieval clear, an aspect of the policy being discussed,
the same question again of someone else or "然后呢" after an answer), it is answered as a
policy question would be, and "别的还有啥" goes to the benefits check. Failures are counted
from the tracker's events, so a success in between starts the count again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import catalogue, entity_values, utter
from bot.actions.handoff import ASSISTANT_FAILED, hand_off
from bot.actions.policy import answered_instead, resolution, to_benefits_check
from huimin.catalogue.answers import candidates, named_policies, rephrase

NAME = "action_fallback"
HAND_OFF_AFTER = 2  # failures in a row
GUESSES = 2  # runner-up intents and policies offered each
MIN_GUESS_CONFIDENCE = 0.1
RESOLVED_SLOT = "fallback_resolved"


def failures_in_a_row(events: Iterable[dict[str, Any]]) -> int:
    """Failures ending with the current message: 1 + the earlier user turns, back to the
    last success, that were answered by this fallback."""
    count, actions, seen_current = 1, set(), False
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "action":
            actions.add(event.get("name"))
        elif kind == "slot" and event.get("name") == RESOLVED_SLOT and event.get("value"):
            actions.add(RESOLVED_SLOT)
        elif kind == "user":
            if seen_current:
                if NAME not in actions or RESOLVED_SLOT in actions:
                    break
                count += 1
            seen_current = True
            actions = set()
    return count


def runner_up_intents(tracker: Tracker) -> list[str]:
    """The NLU's best guesses other than the fallback itself."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    names = [
        item["name"] for item in ranking
        if item.get("name") not in {None, "nlu_fallback"}
        and float(item.get("confidence") or 0) >= MIN_GUESS_CONFIDENCE
    ]  # fmt: skip
    return names[:GUESSES]


class ActionFallback(Action):
    def name(self) -> str:
        return NAME

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if failures_in_a_row(tracker.events) >= HAND_OFF_AFTER:
            hand_off(dispatcher, tracker, ASSISTANT_FAILED)
            return []
        found = resolution(tracker)
        if (events := to_benefits_check(tracker, found)) is not None:
            # "别的还有啥" after an answer: which other benefits, the benefits check's.
            return [*events, SlotSet(RESOLVED_SLOT, True)]
        if (events := answered_instead(tracker, dispatcher, found)) is not None:
            return [*events, SlotSet(RESOLVED_SLOT, True)]
        text = tracker.latest_message.get("text") or ""
        cat = catalogue()
        policies = named_policies(cat, entity_values(tracker, "policy"), text)
        if not policies and text:
            policies = candidates(cat, cat.search(text, k=GUESSES))
        utter(dispatcher, rephrase(runner_up_intents(tracker), policies[:GUESSES]))
        return []
