"""The `check_benefits` chat flow with a real rasa_sdk Tracker and CollectingDispatcher, on a
real database and Redis: one question at a time, consent before saving, the same answer as
/me/benefits."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rq import Queue
from sqlalchemy import select

from bot.actions import benefits as chat
from huimin.benefits.check import check, resident_facts
from huimin.platform.db import Database
from huimin.privacy import audit
from huimin.residents.models import Resident
from huimin.rules import load_rules
from huimin.wechat.models import WechatUser
from jobs.queues import DEFAULT
from tests.actions.recorded import recorded
from tests.benefits_fixtures import ELDER, add_resident

SENDER = "u-benefits-test"


@pytest.fixture
def db(sqlite_url, redis_url, serve) -> Database:
    return serve(database_url=sqlite_url, redis_url=redis_url).db


def link(db: Database, resident_id: int | None) -> None:
    with db.session() as s:
        s.add(WechatUser(openid="oa-test", pseudonym=SENDER, resident_id=resident_id))


class Conversation:
    """Runs the actions the way Rasa would, keeping the slots between turns."""

    def __init__(self) -> None:
        self.slots: dict[str, Any] = {}
        self.active_loop: dict[str, Any] = {}
        self.said: list[dict] = []

    def tracker(self, text: str = "") -> Tracker:
        return recorded("benefits_asked", text=text, sender_id=SENDER, slots=dict(self.slots),
                        active_loop=self.active_loop)

    def apply(self, events: list[dict], dispatcher: CollectingDispatcher) -> list[dict]:
        for e in events:
            if e["event"] == "slot":
                self.slots[e["name"]] = e["value"]
        self.said = dispatcher.messages
        return events

    def check(self) -> list[dict]:
        d = CollectingDispatcher()
        return self.apply(chat.ActionCheckBenefits().run(d, self.tracker(), {}), d)

    def ask(self) -> list[dict]:
        self.active_loop = {"name": chat.FORM}
        d = CollectingDispatcher()
        return self.apply(chat.ActionAskBenefitAnswer().run(d, self.tracker(), {}), d)

    def required(self) -> list[str]:
        return asyncio.run(chat.ValidateBenefitsForm().required_slots(
            [chat.ANSWER], CollectingDispatcher(), self.tracker(), {}))

    def reply(self, text: str) -> dict[str, Any]:
        d = CollectingDispatcher()
        out = chat.ValidateBenefitsForm().validate_benefit_answer(text, d, self.tracker(text), {})
        self.slots.update(out)
        self.said = d.messages
        return out

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.said)

    @property
    def buttons(self) -> list[str]:
        return [b["title"] for m in self.said for b in m.get("buttons") or []]


def declined_saving(db: Database, resident_code: str) -> tuple[int, Conversation]:
    """An older resident's check, consent to save declined, the first question asked."""
    rid = add_resident(db, resident_code, **ELDER)
    link(db, rid)
    talk = Conversation()
    talk.check()
    talk.ask()
    talk.reply("只这次用，不保存")
    talk.ask()
    return rid, talk


def test_asks_consent_then_one_fact_at_a_time_and_saves(db, redis_conn):
    rid = add_resident(db, "CHAT1", **ELDER)
    link(db, rid)
    talk = Conversation()
    events = talk.check()
    assert "目前能确定您可以享受：高龄津贴（100元/月）" in talk.text
    assert {"event": "followup", "name": "benefits_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]

    assert talk.required() == [chat.ANSWER]
    talk.ask()
    assert talk.slots[chat.QUESTION] == "consent" and "保存到您的资料里" in talk.text
    assert talk.buttons == ["可以，保存", "只这次用，不保存", "不答了，直接看结果"]
    talk.reply("1")
    assert talk.slots[chat.SAVE_SLOT] == "save"

    talk.ask()
    assert talk.slots[chat.QUESTION] == "receiving_pension"
    assert talk.text.startswith("是否正在领取养老金？") and talk.buttons == ["是", "否", "不清楚"]
    talk.reply("否")
    with db.session() as s:
        resident = s.get(Resident, rid)
        assert resident.receiving_pension is False and resident.facts_version == 2
        [entry] = [e for e in audit.entries_for_target(s, f"resident:{rid}")]
        assert entry.action == "resident.facts_update" and entry.detail["facts"] == [
            "receiving_pension"]
    assert f"benefits-resident-{rid}-f2" in Queue(DEFAULT, connection=redis_conn).get_job_ids()

    talk.ask()
    asked = talk.slots[chat.QUESTION]
    assert asked != "receiving_pension"
    talk.reply("啊？")  # not understood: a hint, the same question again
    assert talk.slots[chat.MISSES] == 1 and talk.said and asked not in talk.slots.get(
        chat.SKIPPED, [])
    talk.reply("嗯嗯嗯")  # twice: skipped, never stuck
    assert asked in talk.slots[chat.SKIPPED]

    while talk.required():  # "don't know" to everything else: the questions run out
        talk.ask()
        talk.reply("不清楚")
    talk.check()
    assert talk.text.startswith("根据您的情况，您可以享受：\n1. 高龄津贴（100元/月）")
    assert "高龄津贴怎么领" in talk.buttons and "转人工" in talk.buttons

    # The chat's answer is /me/benefits' answer for the stored profile.
    with db.session() as s:
        stored = resident_facts(s.get(Resident, rid))
    answers = check(load_rules(), {}, stored, date.today())
    eligible = [a for a in answers if a.status == "eligible"]
    assert [a.policy for a in eligible] == ["elderly_allowance"]
    assert f"还有{sum(a.status == 'unknown' for a in answers)}项要补充信息" in talk.text


def test_without_consent_nothing_is_saved_and_zero_ends(db, redis_conn):
    rid, talk = declined_saving(db, "CHAT2")
    talk.reply("2")
    assert talk.slots[chat.ANSWERS] == {"receiving_pension": False}
    with db.session() as s:
        assert s.get(Resident, rid).receiving_pension is None
    assert Queue(DEFAULT, connection=redis_conn).get_job_ids() == []
    talk.ask()
    talk.reply("0")
    assert talk.slots[chat.DONE] is True and talk.required() == []
    talk.check()
    assert "高龄津贴" in talk.text and talk.slots[chat.DONE] is None


def test_a_citizen_without_a_resident_is_asked_without_saving(db):
    link(db, None)
    talk = Conversation()
    talk.check()
    assert talk.text == ""  # nothing known yet: straight to the questions
    talk.ask()
    assert "实名认证" in talk.text and talk.slots[chat.QUESTION] == "receiving_pension"
    talk.reply("否")
    talk.ask()
    assert talk.slots[chat.QUESTION] != "consent"
    with db.session() as s:
        assert list(s.scalars(select(Resident))) == []


def test_answers_cannot_fill_a_fact_nobody_asked(db):
    rid = add_resident(db, "CHAT3", **ELDER)
    link(db, rid)
    talk = Conversation()
    talk.slots[chat.QUESTION] = "disabled"  # stale: not the question the state would ask
    assert talk.reply("是") == {chat.ANSWER: None}
    with db.session() as s:
        assert s.get(Resident, rid).disabled is None


def test_the_form_restarting_after_a_hand_off_says_nothing_out_of_turn(db):
    rid = add_resident(db, "CHAT4", **ELDER)
    link(db, rid)
    talk = Conversation()
    talk.slots[chat.QUESTION] = "receiving_pension"  # left over when the citizen left the form
    events = talk.check()
    assert {"event": "slot", "name": chat.QUESTION, "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]
    talk.slots[chat.QUESTION] = "receiving_pension"
    dispatcher = CollectingDispatcher()
    out = chat.ValidateBenefitsForm().validate_benefit_answer(None, dispatcher, talk.tracker(), {})
    assert out == {chat.ANSWER: None} and dispatcher.messages == []


def test_a_form_request_reads_the_state_once_per_slot_values(db, monkeypatch):
    """rasa_sdk asks the required slots several times in one validation request: the state
    (a database lookup and a rule check) is read once for the same slots, and afresh when an
    answer changed them, so the form behaves as before."""
    _, talk = declined_saving(db, "CHAT5")
    reads: list[dict] = []
    real = chat._read_state

    def counted(tracker: Tracker) -> chat._State:
        reads.append(dict(tracker.get_slot(chat.ANSWERS) or {}))
        return real(tracker)

    monkeypatch.setattr(chat, "_read_state", counted)
    tracker = talk.tracker("否")
    # As Rasa's form sends it: the reply extracted into the answer slot, last of the events.
    tracker.slots[chat.ANSWER] = "否"
    tracker.events.append({"event": "slot", "name": chat.ANSWER, "value": "否"})
    d = CollectingDispatcher()
    events = asyncio.run(chat.ValidateBenefitsForm().run(d, tracker, {
        "forms": {chat.FORM: {"required_slots": [chat.ANSWER]}}, "slots": {}}))
    answered = [e["value"] for e in events if e.get("name") == chat.ANSWERS]
    assert answered == [{"receiving_pension": False}]
    # Before the answer (extraction, validation), then after it (the next slot to ask).
    assert reads == [{}, {"receiving_pension": False}]
