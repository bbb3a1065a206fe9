"""Custom actions with a real rasa_sdk Tracker and CollectingDispatcher, on a real database.

Trackers are recorded JSON (tests/actions/data/), as the Rasa server posts them to the action
server, loaded with ``Tracker.from_dict`` (the style of Rasa's financial-demo)."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.handoff import ActionHandoff
from bot.actions.offices import ActionOfficeLookup, ValidateOfficeForm
from huimin.catalogue import offices
from huimin.ops.models import HandoffTicket
from huimin.platform.db import Database
from huimin.platform.settings import ROOT
from tests.actions.recorded import recorded


@pytest.fixture
def action_db(db_url: str, serve) -> Database:
    """Point the action server's database handle at a fresh, seeded database."""
    db = serve(database_url=db_url).db
    with db.session() as s:
        offices.upsert_offices(s, offices.load_office_file(ROOT / "seed_data" / "offices.yml"))
    return db


def test_office_lookup_reads_the_database(action_db):
    dispatcher = CollectingDispatcher()
    ActionOfficeLookup().run(dispatcher, recorded("office_district_given"), {})
    text = dispatcher.messages[0]["text"]
    assert "湖滨路201号" in text and "周六" in text


def test_office_form_rejects_unknown_district_listing_choices(action_db):
    dispatcher = CollectingDispatcher()
    asked = recorded("office_asked")
    result = ValidateOfficeForm().validate_district("火星", dispatcher, asked, {})
    assert result == {"district": None}
    assert "东城区" in dispatcher.messages[0]["text"]
    assert ValidateOfficeForm().validate_district(
        "高新区", CollectingDispatcher(), recorded("office_asked"), {}) == {"district": "高新区"}


def test_handoff_opens_one_ticket_with_masked_transcript(action_db):
    for _ in range(2):
        dispatcher = CollectingDispatcher()
        ActionHandoff().run(dispatcher, recorded("handoff_requested"), {})
        assert "12333" in dispatcher.messages[0]["text"]
    with action_db.session() as s:
        tickets = list(s.scalars(select(HandoffTicket).where(HandoffTicket.sender_id == "u-42")))
    assert len(tickets) == 1
    stored = str(tickets[0].transcript)
    assert "11010519491231002X" not in stored and "13812345678" not in stored
    assert "1101" in stored and tickets[0].reason == "user_request"
