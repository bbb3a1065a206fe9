"""Step-by-step guides in the chat (issue 8): `start_guide`, the commands `next_step`,
`repeat`, `go_back`, `stop`, numbered answers (`guide_answer`), and while a guide is on screen
also answers in words (`affirm`, `deny`, `nlu_fallback`, `out_of_scope`) and `human_handoff`.

A thin shell: huimin.guides.chat decides; sessions live in Redis per conversation (7-day
resume). The `guide_active` slot tells the rules that replies belong to the guide.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import catalogue, entity_values, runtime, utter
from bot.actions.fallback import ActionFallback
from bot.actions.handoff import USER_REQUEST, hand_off
from bot.actions.policy import answered_instead, policy_question_instead
from huimin.catalogue.answers import Choice, Reply, intent_choice
from huimin.catalogue.follow_ups import GUIDE_ANSWERS, wants_walkthrough
from huimin.guides.chat import (
    GUIDE_CHOICE,
    STOPPED_NO_GUIDE,
    STORAGE_DOWN,
    ChatAnswer,
    GuideChat,
    start_payload,
)
from huimin.guides.service import GuideService, guide_store
from huimin.guides.storage import GuideStorageError, SessionStore
from huimin.platform.runtime import Runtime
from huimin.wechat.safe_redis import fast_client

GUIDE_ACTIVE = "guide_active"
NO_GUIDE = Reply(
    "现在没有正在进行的办事指引。您可以：",
    tuple(intent_choice(i) for i in ("start_guide", "ask_policy", "human_handoff")),
)
# The choice under a catalogue answer that starts the policy's step-by-step guide.
WALK_ME_THROUGH = "一步步教我办"
# With no guide waiting after all (the slot outlived the session), these get their usual
# answer from here.
USUAL_RESPONSE = {"affirm": "utter_affirm", "deny": "utter_deny",
                  "out_of_scope": "utter_out_of_scope"}
# Commands to go on with no guide running may ask about the policy just answered ("接下来呢").
GOING_ON = ("next_step", "go_back")


@lru_cache(maxsize=1)
def _chat(rt: Runtime) -> GuideChat:
    # Guide sessions allow Redis a little longer than the runtime's client: a step is not
    # lost to a brief stall.
    sessions = SessionStore(fast_client(rt.settings.redis_url, timeout=2.0))
    return GuideChat(GuideService(guide_store(rt.settings.guides_dir), sessions), rt.db)


def chat() -> GuideChat:
    """The guide chat for the action server's current runtime."""
    return _chat(runtime())


def _say(dispatcher: CollectingDispatcher, answer: ChatAnswer) -> None:
    for message in answer.messages:
        buttons = [{"title": title, "payload": payload} for title, payload in message.buttons]
        dispatcher.utter_message(text=message.text, buttons=buttons)
        if message.image:
            dispatcher.utter_message(image=message.image)


def _answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, answer: ChatAnswer
) -> list[dict[str, Any]]:
    _say(dispatcher, answer)
    if answer.handoff:
        # The guide is paused (and offered again later); a person takes over as usual.
        hand_off(dispatcher, tracker, USER_REQUEST)
    return [SlotSet(GUIDE_ACTIVE, answer.guide_active)]


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


class ActionStartGuide(Action):
    def name(self) -> str:
        return "action_start_guide"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        keys = entity_values(tracker, "guide")
        text = tracker.latest_message.get("text") or ""
        if not text.startswith("/"):
            named = keys[0] if keys else getattr(chat().guide_named(text), "key", None)
            if named is None:
                # No guide named: "手机上怎么办理" right after a policy answer asks about it;
                # "养老金认正怎么弄" names a policy, mistyped; "我想申请低保" is civil affairs'.
                events = policy_question_instead(tracker, dispatcher, named=True, refer=True)
            else:
                # A guide named (the NLU may tag "低保" as one: still civil affairs'), but
                # "去办退休我要带哪些东西" asks what to bring, and
                # "退休手续怎么办理" how it is done: answered from the catalogue at once, the
                # guide offered under the answer. Only asking to be walked through
                # ("教我做养老金认证") starts the guide.
                events = policy_question_instead(
                    tracker, dispatcher, named=True, unless=("",), refer=True,
                    besides=GUIDE_ANSWERS if wants_walkthrough(text) else (),
                    offer=(Choice(WALK_ME_THROUGH, start_payload(named)),))
            if events is not None:
                return events
        try:
            answer = chat().start(tracker.sender_id, keys[0] if keys else None,
                                  "" if text.startswith("/") else text)
        except GuideStorageError:
            dispatcher.utter_message(text=STORAGE_DOWN)
            return [SlotSet(GUIDE_ACTIVE, False)]
        events = _answer(dispatcher, tracker, answer)
        if keys and keys[0] in catalogue():
            # A guide for a policy (养老金认证): follow-ups ("我能不能在家做") are about it.
            events += [SlotSet("policy", keys[0]), SlotSet("aspect", "process")]
        return events


class ActionGuideCommand(Action):
    def name(self) -> str:
        return "action_guide_command"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = _intent(tracker)
        choices = entity_values(tracker, GUIDE_CHOICE)
        try:
            answer = chat().reply(tracker.sender_id, intent,
                                  tracker.latest_message.get("text"),
                                  choices[0] if choices else None)
        except GuideStorageError:
            dispatcher.utter_message(text=STORAGE_DOWN)
            return [SlotSet(GUIDE_ACTIVE, False)]
        if not answer.unhandled or answer.handoff:
            return _answer(dispatcher, tracker, answer)
        events: list[dict[str, Any]] = [SlotSet(GUIDE_ACTIVE, False)]
        if intent in GOING_ON and (asked := answered_instead(tracker, dispatcher)) is not None:
            # No guide running: "接下来呢" after a policy answer, "劳动仲裁申请交上去了接下来怎么弄"
            # ask about the policy, as ask_policy would answer them.
            return [*events, *asked]
        if intent in USUAL_RESPONSE:
            dispatcher.utter_message(response=USUAL_RESPONSE[intent])
        elif intent == "nlu_fallback":
            events += ActionFallback().run(dispatcher, tracker, domain)
        elif intent == "stop":
            dispatcher.utter_message(text=STOPPED_NO_GUIDE)
        elif intent == "repeat" and (last := last_answer(tracker.events)):
            for message in last:
                dispatcher.utter_message(**message)
        else:
            utter(dispatcher, NO_GUIDE)
        return events


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
