"""Owed answers: a web host that replied "success" and then died does not lose the citizen's
answer; a host that is alive but slow is not overtaken (see huimin.wechat.dedup).

Real Redis; the dead host is a real process running the callback, SIGKILLed; the answer then
comes from the real RQ worker and Rasa of the test stack, through the WeChat emulator."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis
import requests
from rq import Queue

from handlers.callback import _channel
from huimin.wechat.conversation import FALLBACK_TEXT
from huimin.wechat.dedup import OWED_INDEX, Ledger, ledger_key
from huimin.wechat.delivery import ASK, SEND, Item, Outbox, reclaim_owed
from huimin.wechat.safe_redis import SafeRedis
from jobs.messages import RQDrains, reclaim_owed_answers
from jobs.queues import DEFAULT
from scripts.stack import ROOT, wait_until
from tests.test_channel_messages import Citizen
from tests.wechat import make_app

DRAINS = RQDrains()
# The web host: the real callback (in-process Flask app) answers one message, then lives on
# until it is killed. Its assistant never answers, so the reply is "success" (deferred).
HOST = """
import sys, time
from tests.test_channel_messages import Citizen
from tests.wechat import make_app
database, redis_url, emulator, rasa, openid, text = sys.argv[1:7]
app = make_app(database, redis_url, wechat_api_base=emulator, rasa_url=rasa)
print("REPLY:" + Citizen(app, openid).say(text, msg_id=int(sys.argv[7])), flush=True)
time.sleep(600)
"""


@pytest.fixture
def silent_assistant() -> Iterator[str]:
    """A port that takes connections and never answers: the assistant hangs (ASK_TIMEOUT)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def messages(emulator: str, openid: str) -> list[str]:
    found = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                         timeout=10).json()["messages"]
    return [m["body"]["text"]["content"] for m in found]


def test_an_expired_owed_question_is_handed_over_once(redis_conn):
    ledger = Ledger(SafeRedis(redis_conn), owed_lease_seconds=0.2)
    question = Item(ASK, "o-owed-1", "u-owed-1", "失业金怎么领", "m-owed-1", quote="失业金怎么领")
    assert ledger.claim("m-owed-1") is None
    assert ledger.defer_owing("m-owed-1", question.dumps())
    assert reclaim_owed(redis_conn, DRAINS) == 0  # the lease still runs: its host is alive
    time.sleep(0.3)
    assert reclaim_owed(redis_conn, DRAINS) == 1
    assert reclaim_owed(redis_conn, DRAINS) == 0  # handed over once
    outbox = Outbox(redis_conn)
    assert outbox.items("u-owed-1") == [question]
    # The host was only stalled: its answer, late, is not pushed too (the worker answers).
    late = [Item(SEND, "o-owed-1", "u-owed-1", "答案", "m-owed-1")]
    assert not outbox.push_owed("u-owed-1", late, DRAINS, "m-owed-1")
    assert outbox.items("u-owed-1") == [question]
    assert redis_conn.zcard(OWED_INDEX) == 0
    # A host whose owed record was never written (Redis failed) still hands its answer over.
    assert outbox.push_owed("u-owed-1", late, DRAINS, "m-never-owed")
    assert outbox.items("u-owed-1") == [question, *late]


def test_a_slow_host_keeps_its_lease_and_answers_once(sqlite_url, redis_url, redis_conn,
                                                      silent_assistant):
    app = make_app(sqlite_url, redis_url, rasa_url=silent_assistant)
    with app.app_context():
        channel = _channel(app)
    channel.ledger.owed_lease_seconds = 1.0  # renewed every 0.25 s by the heartbeat
    citizen = Citizen(app, "o-owed-slow")
    assert citizen.say("社保怎么交", msg_id=5150) == ""  # "success": the answer is owed
    assert redis_conn.hget(ledger_key("5150"), "owed") is not None
    reclaimed: list[int] = []
    # The assistant hangs for ASK_TIMEOUT (15 s), many leases long: the periodic job runs
    # all along and must never take over from the living host.
    wait_until(lambda: reclaimed.append(reclaim_owed(redis_conn, DRAINS)) or sum(reclaimed)
               or redis_conn.hget(ledger_key("5150"), "owed") is None, 60,
               "the host handing its answer over")
    assert len(reclaimed) > 10 and sum(reclaimed) == 0 and reclaim_owed(redis_conn, DRAINS) == 0
    assert citizen.queued(redis_conn) == [(SEND, FALLBACK_TEXT, ""),
                                          (ASK, "社保怎么交", "社保怎么交")]
    assert redis_conn.zcard(OWED_INDEX) == 0


def test_a_host_killed_after_replying_success_still_answers_once(stack, silent_assistant):
    env, emulator = stack.env, stack.url("emulator")
    openid, text = "o-owed-killed", "你好"
    requests.post(f"{emulator}/_emulator/envelope",  # the citizen wrote: window open
                  json={"openid": openid, "msg_type": "text", "content": text},
                  timeout=10).raise_for_status()
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, env["DATABASE_URL"], env["REDIS_URL"], emulator,
         silent_assistant, openid, text, "6160"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        assert host.stdout.readline().strip() == "REPLY:"  # "success": the answer is owed
        conn = redis.Redis.from_url(env["REDIS_URL"])
        assert conn.hget(ledger_key("6160"), "owed") is not None
    finally:
        host.kill()  # SIGKILL: its thread never hands the answer over
        host.wait()
    # The periodic job, run by the real worker, until the dead host's lease has run out.
    queue = Queue(DEFAULT, connection=conn)

    def reclaimed() -> bool:
        job = queue.enqueue(reclaim_owed_answers)
        wait_until(lambda: job.get_status(refresh=True) in ("finished", "failed"), 120,
                   "the reclaim job")
        return job.return_value() == 1

    wait_until(reclaimed, 300, "the owed question handed to the worker")
    wait_until(lambda: bool(messages(emulator, openid)), 120, "the answer at WeChat")
    time.sleep(5)  # anything sent twice would show by now
    answers = messages(emulator, openid)
    assert answers and answers[0].startswith(f"关于您刚才说的“{text}”")
    assert sum(a.count(f"关于您刚才说的“{text}”") for a in answers) == 1  # once
    assert conn.zcard(OWED_INDEX) == 0
