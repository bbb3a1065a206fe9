"""Where to go in person: the district's service office, read from the database.

"那去哪里办呢" right after a policy answer reads like an office question to the NLU, but it
asks where to apply for that policy: then the form asks nothing and the answer is the
policy's own "where" from the catalogue (or the aspect asked, when another is); another
department named ("工商局在哪里") is referred there.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.context import catalogue, database, referrals, today, utter
from bot.actions.policy import follow_up, resolution, slots
from huimin.catalogue import offices
from huimin.catalogue.answers import Outcome, answer, is_follow_up, is_payload, reply_to_question
from huimin.catalogue.follow_ups import names_an_office
from huimin.catalogue.resolver import resolve_words
from huimin.catalogue.vocabulary import also_asked, aspect_of


def asked_instead(tracker: Tracker) -> Outcome | None:
    """The answer when an office question is really about a policy or another department:
    one it names (verbatim, misheard or mistyped: "劳动冲裁在哪里" is the policy's own office,
    not a district's), or the one being discussed when it names nothing else ("那周末上班吗").
    The aspect is the one asked, where by default: the NLU reads many short questions with
    a mistyped name as office questions ("社保转衣需要哪些材料"). "工商局在哪里" is referred.
    None when it asks for a district's office: the form asks which district."""
    if tracker.latest_message.get("intent", {}).get("name") != "ask_office":
        return None
    text = tracker.latest_message.get("text") or ""
    if not text or is_payload(text):
        return None
    cat = catalogue()
    found = resolution(tracker)
    named = resolve_words(cat, referrals(), text, found)
    if named is not None and named.decision == "refer":
        return reply_to_question(cat, today(), text=text, referrals=referrals(),
                                 resolution=named)
    names = tuple(n for p in cat for n in p.names)
    asked = aspect_of(text, ignore=names)
    if named is not None and named.decision == "answer" and len(named.policies) == 1:
        policy = named.policies[0]
        aspect = asked or "where"
        return Outcome(answer(policy, aspect, today(), also_asked(text, ignore=names)), policy,
                       aspect)
    # A where question naming an office ("社保局在哪里") asks for a district's office; other
    # words after an answer may ask about its policy ("周末上班吗": its office hours; "去社区办
    # 还是去街道办": where to apply for it).
    if (asked != "where" or not names_an_office(text)) and (
        outcome := follow_up(tracker, found)
    ) is not None:
        return outcome
    key = tracker.get_slot("policy")
    policy = cat.get(key) if key and is_follow_up(cat, text) else None
    return Outcome(answer(policy, "where", today()), policy, "where") if policy else None


class ValidateOfficeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_office_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if asked_instead(tracker) is not None:
            return []
        return domain_slots

    def validate_district(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        with database().session() as session:
            districts = offices.list_districts(session)
            office = offices.find_office(session, text)
            # A whole sentence ("我家在南湖区那边"): look for a district name inside it.
            named = [d for d in districts if offices.normalise_district(d) in text]
            if office is None and len(named) == 1:
                office = offices.find_office(session, named[0])
        if office is None:
            dispatcher.utter_message(text=f"没找到这个区。可选：{'、'.join(districts)}。")
            return {"district": None}
        return {"district": office.district}


class ActionOfficeLookup(Action):
    def name(self) -> str:
        return "action_office_lookup"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        outcome = asked_instead(tracker)
        if outcome is not None:
            utter(dispatcher, outcome.reply)
            return slots(outcome)
        district = tracker.get_slot("district") or ""
        with database().session() as session:
            office = offices.find_office(session, district)
            if office is None:
                dispatcher.utter_message(text="暂时查不到这个区的办事大厅，请拨打 12333 咨询。")
                return []
            text = (
                f"{office.name}\n地址：{office.address}\n"
                f"时间：{office.hours}\n电话：{office.phone}"
            )
        dispatcher.utter_message(text=text)
        return []
