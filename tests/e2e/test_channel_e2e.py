"""The WeChat channel against the full stack: real Rasa (stopped and frozen for real), the RQ
worker, the emulator as WeChat. Envelopes come from the emulator, as WeChat would send them,
so WeChat's 48-hour customer-service window is open for the citizen."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis
import requests
from rq import Queue

from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import load_settings
from huimin.wechat import users as wechat_users
from huimin.wechat.conversation import FALLBACK_TEXT
from jobs.queues import PUSH

pytestmark = pytest.mark.e2e


def new_openid() -> str:
    return f"o-ch-{uuid.uuid4().hex[:12]}"


class WeChatUser:
    """A citizen, with WeChat (the emulator) building and delivering their messages."""

    def __init__(self, stack) -> None:
        self.stack, self.openid = stack, new_openid()
        self.emulator, self.web = stack.url("emulator"), stack.url("web")
        self.sender = wechat_users.pseudonym(self.openid, pseudonym_secret(load_settings()))

    def send(self, msg_type: str = "text", timeout: float = 10, **fields) -> tuple[str, float]:
        """Deliver one message to the callback; (passive reply text or '', seconds taken)."""
        env = requests.post(f"{self.emulator}/_emulator/envelope",
                            json={"openid": self.openid, "msg_type": msg_type, **fields},
                            timeout=5).json()
        started = time.monotonic()
        resp = requests.post(f"{self.web}/wechat/callback", params=env["query"],
                             data=env["body"].encode(), headers={"Content-Type": "text/xml"},
                             timeout=timeout)
        took = time.monotonic() - started
        assert resp.status_code == 200, resp.text
        opened = requests.post(f"{self.emulator}/_emulator/open",
                               json={"body": resp.text, "query": env["query"]}, timeout=5).json()
        return opened.get("content", ""), took

    def say(self, text: str, msg_id: int | None = None) -> tuple[str, float]:
        fields = {"content": text, **({"msg_id": msg_id} if msg_id else {})}
        return self.send("text", **fields)

    def pushed(self) -> list[str]:
        """Customer-service messages delivered to this citizen so far."""
        msgs = requests.get(f"{self.emulator}/_emulator/messages",
                            params={"touser": self.openid}, timeout=5).json()["messages"]
        return [m["body"]["text"]["content"] for m in msgs]

    def user_turns(self, sender: str | None = None) -> list[dict]:
        """The user events in Rasa's tracker for a conversation id."""
        tracker = requests.get(
            f"{self.stack.url('rasa')}/conversations/{sender or self.sender}/tracker",
            params={"token": self.stack.env["RASA_TOKEN"]}, timeout=10).json()
        return [e for e in tracker.get("events", []) if e.get("event") == "user"]


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


@contextmanager
def frozen(stack, name: str) -> Iterator[Callable[[], None]]:
    """Freeze a process (SIGSTOP): it accepts connections but answers nothing, like a stuck
    server. Yields a function that thaws it early; it is thawed on exit in any case."""
    group = stack.processes[name].popen.pid
    os.killpg(group, signal.SIGSTOP)
    thawed = False

    def thaw() -> None:
        nonlocal thawed
        if not thawed:
            os.killpg(group, signal.SIGCONT)
            thawed = True

    try:
        yield thaw
    finally:
        thaw()


def test_assistant_answers_under_a_pseudonym_and_numbers_map_to_intents(stack):
    user = WeChatUser(stack)
    welcome, _ = user.send("event", event="subscribe")
    assert "回复 1：查政策" in welcome
    user.say("１")  # full-width "1": the first menu line
    answer, took = user.say("你好")
    assert "惠民助手" in answer and answer != FALLBACK_TEXT and took < 4
    turns = user.user_turns()
    assert [t["text"] for t in turns] == ["/ask_policy", "你好"]
    assert turns[0]["parse_data"]["intent"]["name"] == "ask_policy"
    assert user.user_turns(user.openid) == []  # the assistant never saw the openid


def test_slow_assistant_reply_is_success_then_one_customer_service_answer(stack):
    user = WeChatUser(stack)
    with frozen(stack, "rasa") as thaw:
        reply, took = user.say("你好", msg_id=910000000000000001)
        assert reply == "" and took < 4.5  # "success" within the budget, not WeChat's 5 s
        retry, took = user.say("你好", msg_id=910000000000000001)  # WeChat's retry
        assert retry == "" and took < 1
        assert user.pushed() == []
        thaw()
        wait_for(lambda: user.pushed() != [], 60, "the late answer")
    time.sleep(3)  # nothing more may follow
    [late] = user.pushed()
    assert "惠民助手" in late
    assert [t["text"] for t in user.user_turns()] == ["你好"]  # asked once


def test_a_retry_while_the_first_is_in_flight_gets_the_same_answer(stack):
    user = WeChatUser(stack)
    replies: dict[str, str] = {}
    with frozen(stack, "rasa") as thaw:
        first = threading.Thread(
            target=lambda: replies.update(first=user.say("你好", msg_id=920000000000000002)[0]))
        first.start()
        time.sleep(1.0)
        second = threading.Thread(
            target=lambda: replies.update(retry=user.say("你好", msg_id=920000000000000002)[0]))
        second.start()
        time.sleep(1.0)
        thaw()
        first.join()
        second.join()
    assert "惠民助手" in replies["first"] and replies["retry"] == replies["first"]
    time.sleep(3)
    assert user.pushed() == []  # answered passively: nothing through customer service
    assert [t["text"] for t in user.user_turns()] == ["你好"]


def test_assistant_and_worker_down_then_back_answers_in_order(stack):
    user = WeChatUser(stack)
    queue = Queue(PUSH, connection=redis.Redis.from_url(stack.env["REDIS_URL"]))
    stack.stop("worker")
    stack.stop("rasa")
    try:
        for text in ("你好", "谢谢"):
            reply, took = user.say(text)
            assert reply == FALLBACK_TEXT and "12333" in reply and took < 4.5
        stack.start("rasa")
        time.sleep(3)
        assert user.pushed() == [] and len(queue) >= 1  # worker down: the jobs wait
    finally:
        if not stack.processes["rasa"].alive():
            stack.start("rasa")
        stack.start("worker")
    wait_for(lambda: len(user.pushed()) >= 2, 90, "the queued answers")
    time.sleep(3)
    first, second = user.pushed()
    assert first.startswith("关于您刚才说的“你好”") and "惠民助手" in first
    assert second.startswith("关于您刚才说的“谢谢”")
    assert [t["text"] for t in user.user_turns()] == ["你好", "谢谢"]
