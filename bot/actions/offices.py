"""Where to go in person: the district's service office, read from the database.

"那去哪里办呢" right after a policy answer reads like an office question to the NLU, but it
asks where to apply for that policy: then the form asks nothing and the answer is the
policy's own "where" from the catalogue.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.context import catalogue, database, referrals, today, utter
from huimin.catalogue import Policy, offices
from huimin.catalogue.answers import answer, is_follow_up
from huimin.catalogue.resolver import resolve_words


def policy_where_question(tracker: Tracker) -> Policy | None:
    """The policy the latest message asks "where" about: one it names (verbatim or misheard), or
    the one being discussed when it names nothing else."""
    if tracker.latest_message.get("intent", {}).get("name") != "ask_office":
        return None
    key = tracker.get_slot("policy")
    cat = catalogue()
    text = tracker.latest_message.get("text") or ""
    named = resolve_words(cat, referrals(), text)
    if named is not None and named.decision == "answer" and len(named.policies) == 1:
        return named.policies[0]  # "劳动冲裁在哪里": the policy's own office, not a district
    policy = cat.get(key) if key else None
    return policy if policy is not None and text and is_follow_up(cat, text) else None


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
        if policy_where_question(tracker) is not None:
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
        policy = policy_where_question(tracker)
        if policy is not None:
            utter(dispatcher, answer(policy, "where", today()))
            return []
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
