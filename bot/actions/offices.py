"""Where to go in person: the district's service office, read from the database."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.context import database
from huimin import offices


class ValidateOfficeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_office_form"

    def validate_district(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        with database().session() as session:
            office = offices.find_office(session, str(value or ""))
            districts = offices.list_districts(session)
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
