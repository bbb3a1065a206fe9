"""Custom actions with a real rasa_sdk Tracker and CollectingDispatcher, on a real database."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions import context
from bot.actions.handoff import ActionHandoff
from bot.actions.offices import ActionOfficeLookup, ValidateOfficeForm
from huimin.catalogue import offices
from huimin.ops.models import HandoffTicket
from huimin.platform.db import Database
from huimin.platform.settings import ROOT


@pytest.fixture
def action_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Point the action server's database handle at a fresh, seeded database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    context.settings.cache_clear()
    context.database.cache_clear()
    db = context.database()
    with db.session() as s:
        offices.upsert_offices(s, offices.load_office_file(ROOT / "seed_data" / "offices.yml"))
    yield db
    context.settings.cache_clear()
    context.database.cache_clear()


def tracker(sender: str = "u-test", slots: dict | None = None, events: list | None = None,
            intent: str = "ask_office", text: str = "") -> Tracker:
    return Tracker(
        sender_id=sender, slots=slots or {}, latest_message={
            "intent": {"name": intent, "confidence": 0.99}, "entities": [], "text": text},
        events=events or [], paused=False, followup_action=None,
        active_loop={}, latest_action_name="action_listen",
    )


def test_office_lookup_reads_the_database(action_db):
    dispatcher = CollectingDispatcher()
    ActionOfficeLookup().run(dispatcher, tracker(slots={"district": "南湖区"}), {})
    text = dispatcher.messages[0]["text"]
    assert "湖滨路201号" in text and "周六" in text


def test_office_form_rejects_unknown_district_listing_choices(action_db):
    dispatcher = CollectingDispatcher()
    result = ValidateOfficeForm().validate_district("火星", dispatcher, tracker(), {})
    assert result == {"district": None}
    assert "东城区" in dispatcher.messages[0]["text"]
    assert ValidateOfficeForm().validate_district(
        "高新区", CollectingDispatcher(), tracker(), {}) == {"district": "高新区"}


def test_handoff_opens_one_ticket_with_masked_transcript(action_db):
    events = [
        {"event": "user", "text": "我的身份证是11010519491231002X，电话13812345678"},
        {"event": "bot", "text": "抱歉，我没听明白。"},
        {"event": "user", "text": "转人工"},
    ]
    for _ in range(2):
        dispatcher = CollectingDispatcher()
        ActionHandoff().run(dispatcher, tracker("u-42", events=events, intent="human_handoff"), {})
        assert "12333" in dispatcher.messages[0]["text"]
    with action_db.session() as s:
        tickets = list(s.scalars(select(HandoffTicket).where(HandoffTicket.sender_id == "u-42")))
    assert len(tickets) == 1
    stored = str(tickets[0].transcript)
    assert "11010519491231002X" not in stored and "13812345678" not in stored
    assert "1101" in stored and tickets[0].reason == "user_request"
