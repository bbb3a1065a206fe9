"""The guide actions with a real rasa_sdk Tracker and CollectingDispatcher, real Redis for the
sessions and a real database (care mode from the resident's birth date): every guide end to
end as a resident chats, digits through button payloads, words and voice text, resume after
leaving, care-mode wording, hand-off."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot.actions.guides import GUIDE_ACTIVE, ActionGuideCommand, ActionStartGuide
from huimin.guides import END, GuideStore
from huimin.ops.models import HandoffTicket
from huimin.platform.db import Database
from huimin.platform.settings import ROOT
from huimin.residents.models import Resident
from huimin.wechat.models import WechatUser
from tests.actions.recorded import recorded

STORE = GuideStore(ROOT / "guides")
KEYS = sorted(STORE.guides)
CLOSING = "要人帮忙：回复“转人工”，或打 12333。"


@pytest.fixture
def handles(sqlite_url: str, redis_url: str, redis_conn, serve) -> Database:
    """The action server's handles pointed at this test's database and Redis."""
    return serve(database_url=sqlite_url, redis_url=redis_url).db


class Chat:
    """A resident chatting: each message goes to the action the rules would pick."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.events: list[dict[str, Any]] = []
        self.slots: dict[str, Any] = {GUIDE_ACTIVE: False}
        self.buttons: list[dict[str, str]] = []

    def send(self, text: str, intent: str, entities: list[dict] | None = None) -> list[dict]:
        """`text` as typed (or a button payload); `intent` as the NLU would classify it."""
        latest = {"text": text, "intent": {"name": intent, "confidence": 0.9},
                  "entities": entities or []}
        self.events.append({"event": "user", "text": text, "parse_data": latest})
        tracker = recorded("guide_started", sender_id=self.sender, slots=dict(self.slots),
                           latest_message=latest, events=list(self.events))
        action = ActionStartGuide() if intent == "start_guide" else ActionGuideCommand()
        dispatcher = CollectingDispatcher()
        events = action.run(dispatcher, tracker, {})
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        self.events += [{"event": "bot", "text": m.get("text"),
                         "data": {"buttons": m.get("buttons")}} for m in dispatcher.messages]
        self.buttons = [b for m in dispatcher.messages for b in m.get("buttons") or []]
        return dispatcher.messages

    def press(self, number: int) -> list[dict]:
        """A digit typed in WeChat: the channel sends the payload of that numbered line."""
        payload = self.buttons[number - 1]["payload"]
        intent, _, raw = payload[1:].partition("{")
        entities = [{"entity": k, "value": v} for k, v in json.loads("{" + raw).items()] \
            if raw else []
        return self.send(payload, intent, entities)

    def press_label(self, label: str) -> list[dict]:
        return self.press(self.labels().index(label) + 1)

    def labels(self) -> list[str]:
        return [b["title"] for b in self.buttons]

    @property
    def active(self) -> bool:
        return bool(self.slots[GUIDE_ACTIVE])


def text_of(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def start(chat: Chat, key: str) -> list[dict]:
    return chat.send(f"教我办{STORE.guides[key].title}", "start_guide",
                     [{"entity": "guide", "value": key}])


@pytest.mark.parametrize("key", KEYS)
def test_every_guide_by_button_digits(handles, key):
    guide = STORE.guides[key]
    chat = Chat(f"u-digits-{key}")
    first = text_of(start(chat, key))
    assert f"【{guide.title}】" in first and guide.prepare[0] in first
    assert f"第 1 步（共 {guide.main_count} 步）" in first
    first_step = guide.first_step
    answers = [o.label for o in first_step.check.options] if first_step.check else ["下一步"]
    assert chat.active and chat.labels() == [*answers, "再说一遍", "上一步", "不办了", "转人工"]
    for number in range(1, guide.main_count + 1):
        step = next(s for s in guide.steps if guide.main_number(s.id) == number)
        again = text_of(chat.press(2 if not step.check else len(step.check.options) + 1))
        assert step.text in again  # 再说一遍
        answer = chat.press(1)  # 下一步, or the main-path answer
    assert guide.done in text_of(answer)
    assert not chat.active


@pytest.mark.parametrize("key", KEYS)
def test_every_check_branch_and_back(handles, key):
    guide = STORE.guides[key]
    for step in (s for s in guide.steps if s.check and not s.help):
        for number, option in enumerate(step.check.options, 1):
            chat = Chat(f"u-branch-{key}-{step.id}-{number}")
            shown = text_of(start(chat, key))
            for _ in range(len(guide.steps)):
                if step.text in shown:
                    break
                shown = text_of(chat.send("1", "guide_answer"))
            assert step.text in shown
            assert chat.labels()[: len(step.check.options)] == [
                o.label for o in step.check.options]
            after = text_of(chat.press(number))
            if option.goto == END:
                assert not chat.active
                continue
            assert guide.step(option.goto).text in after
            back = text_of(chat.send("上一步", "go_back"))
            assert step.text in back


def test_words_voice_and_numbers_without_buttons(handles):
    chat = Chat("u-words")
    start(chat, "pension_certification")
    chat.send("下一步", "next_step")
    chat.send("好了", "affirm")  # "okay" means done, next
    assert "找到这个小程序了吗？" in text_of(chat.send("弄好了然后呢", "next_step"))
    found = text_of(chat.send("我找到了。", "affirm"))  # voice recognition adds punctuation
    assert "社保待遇资格认证" in found
    help_step = text_of(chat.send("没有", "deny"))
    assert "小提示" in help_step
    # A digit typed after the numbered lines expired reaches the guide as text.
    assert "页面问能不能用您的微信信息" in text_of(chat.send("1", "guide_answer"))
    unclear = text_of(chat.send("这个怎么回事啊", "nlu_fallback"))
    assert "没听明白" in unclear and "页面问能不能用您的微信信息" in unclear


def test_stop_and_resume_within_7_days(handles):
    chat = Chat("u-resume")
    start(chat, "social_security_card")
    chat.press(1)
    chat.press(1)
    stopped = text_of(chat.send("不办了", "stop"))
    assert "先不办了" in stopped and not chat.active
    assert "现在没有正在进行的办事指引" not in stopped
    # Coming back (the chat menu's 办事指引 names no guide): the offer.
    offer = text_of(chat.send("/start_guide", "start_guide"))
    assert "上次做到第 3 步，继续吗？" in offer
    assert chat.labels() == ["继续", "重新开始"]
    resumed = text_of(chat.press(1))
    assert "接着上次" in resumed and "第 3 步" in resumed and chat.active
    # 重新开始 from the offer starts at step 1.
    chat.send("不办了", "stop")
    start(chat, "social_security_card")
    assert "第 1 步" in text_of(chat.press(2))


def test_care_mode_for_a_resident_aged_60_plus(handles: Database):
    with handles.session() as s:
        resident = Resident(external_id="care-1", birth_date=date(1950, 3, 1))
        s.add(resident)
        s.flush()
        s.add(WechatUser(openid="o-care", pseudonym="u-care", resident_id=resident.id))
    chat = Chat("u-care")
    messages = start(chat, "pension_certification")
    intro = messages[0]["text"]
    assert intro.startswith("我们一起办“养老金领取资格认证”。")
    assert messages[1]["text"] == "第 1 步，共 11 步。\n打开微信。点右上角的放大镜。"
    assert messages[-1]["text"] == CLOSING  # how to get a person, last
    chat.press(1)
    chat.press(1)
    check = chat.press(1)
    # One instruction per message: the question is a message of its own, every choice numbered.
    assert [m["text"] for m in check[:2]] == [
        "第 4 步，共 11 步。\n点名字叫“国家社会保险公共服务平台”的那一项。", "找到了吗？"]
    assert [b["title"] for b in check[1]["buttons"]][:2] == ["找到了", "没找到"]
    # A younger resident, or nobody we know, gets the normal wording.
    assert text_of(start(Chat("u-unknown"), "pension_certification")).startswith("【")


def test_handoff_inside_a_guide_pauses_it_and_opens_a_ticket(handles: Database):
    chat = Chat("u-handoff")
    start(chat, "retirement_application")
    chat.press(1)
    reply = text_of(chat.press_label("转人工"))
    assert "工单号" in reply and not chat.active
    with handles.session() as s:
        assert s.scalars(select(HandoffTicket.sender_id)).all() == ["u-handoff"]
    # The guide waits: 下一步 offers to go on.
    assert "上次做到第 2 步，继续吗？" in text_of(chat.send("下一步", "next_step"))


def test_without_a_guide(handles):
    chat = Chat("u-none")
    menu = chat.send("/start_guide", "start_guide")
    assert "您想办哪一件" in text_of(menu) and len(chat.labels()) == len(KEYS)
    assert "现在没有正在进行的办事指引" in text_of(chat.send("下一步", "next_step"))
    assert text_of(chat.send("不办了", "stop")) == "好的，先不办了。有需要随时找我。"
    # The slot outlived the session: affirm still gets its usual answer.
    chat.slots[GUIDE_ACTIVE] = True
    (affirm,) = chat.send("好的", "affirm")
    assert affirm["response"] == "utter_affirm"
    assert not chat.active


def test_outside_a_guide_repeat_sends_the_last_answer_again(handles):
    """(Moved here from tests/test_actions_policy.py with the placeholder it tested.)"""
    chat = Chat("u-repeat")
    buttons = [{"title": "申请条件", "payload": '/ask_policy{"policy":"x","aspect":"eligibility"}'}]
    chat.events = [
        {"event": "user", "text": "失业金"},
        {"event": "bot", "text": "【失业保险金】…", "data": {"buttons": buttons}},
        {"event": "action", "name": "action_listen"},
    ]
    (again,) = chat.send("再说一遍", "repeat")
    assert again["text"] == "【失业保险金】…" and again["buttons"] == buttons
    for intent in ("next_step", "go_back"):
        (message,) = chat.send("下一步", intent)
        assert message["text"].startswith("现在没有正在进行的办事指引")
        assert {"title": "一步步教我办事", "payload": "/start_guide"} in message["buttons"]


def test_outside_a_guide_going_on_after_a_policy_answer_is_about_that_policy(handles):
    """"接下来呢" (next_step to the NLU) after an answer, with no guide running, asks the
    previous question again of the policy just answered; "劳动仲裁申请交上去了接下来怎么弄"
    names its policy and asks how: answered from the catalogue, not "no guide"."""
    chat = Chat("u-going-on")
    chat.events = [
        {"event": "user", "text": "劳动仲裁要什么材料"},
        {"event": "slot", "name": "policy", "value": "labor_arbitration"},
        {"event": "slot", "name": "aspect", "value": "materials"},
        {"event": "bot", "text": "【劳动人事争议仲裁】所需材料…"},
    ]
    (message,) = chat.send("接下来呢", "next_step")
    assert message["text"].startswith("【劳动人事争议仲裁】所需材料"), message
    chat = Chat("u-going-on-named")
    (message,) = chat.send("劳动仲裁申请交上去了接下来怎么弄", "next_step")
    assert message["text"].startswith("【劳动人事争议仲裁】怎么办理"), message
    assert chat.slots["policy"] == "labor_arbitration"


def test_the_guide_goes_on_when_the_database_is_down(redis_url, redis_conn, serve):
    serve(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", redis_url=redis_url)
    chat = Chat("u-no-db")
    assert "第 1 步（共" in text_of(start(chat, "contribution_record"))
    assert "第 2 步（共" in text_of(chat.press(1))


def test_how_is_it_done_is_answered_at_once_with_the_guide_offered(handles):
    """"退休手续怎么办理" (the NLU may call it start_guide) asks how it is done: the catalogue's
    steps answer it in the first reply, with the guide one tap away; "教我办退休" asks to be
    walked through and starts the guide (issue 14)."""
    retirement = [{"entity": "guide", "value": "retirement_application"}]
    chat = Chat("u-how")
    reply = text_of(chat.send("退休手续怎么办理", "start_guide", retirement))
    assert reply.startswith("【退休办理】怎么办理")
    assert not chat.active
    assert chat.labels()[0] == "一步步教我办"
    chat.press(1)
    assert chat.active
    walked = Chat("u-walk")
    walked.send("教我办退休手续", "start_guide", retirement)
    assert walked.active and "【退休办理】" not in text_of(walked.send("下一步", "next_step"))
