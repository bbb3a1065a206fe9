"""A long answer: the first part is the passive reply, the rest follow through the
customer-service API, in order, delivered by a real RQ worker to the emulator.

The assistant's canned answers are short, so the answer is handed to the channel's finishing
step directly (the code path every assistant answer takes once it is split).
"""

from __future__ import annotations

import time

import requests
from rq import SimpleWorker

from handlers.callback import _channel
from huimin.wechat.channel import Inbound, Result, _Turn
from huimin.wechat.delivery import TEXT_LIMIT, split_text
from jobs.queues import QUEUE_NAMES
from tests.wechat import make_app


def test_long_answer_passive_first_part_then_the_rest_in_order(
    sqlite_url, redis_url, redis_conn, emulator, monkeypatch
):
    openid = "o-long-1"
    requests.post(f"{emulator}/_emulator/envelope",  # the citizen wrote: window open
                  json={"openid": openid, "msg_type": "text", "content": "养老保险怎么交"},
                  timeout=5).raise_for_status()
    app = make_app(sqlite_url, redis_url, wechat_api_base=emulator)
    with app.app_context():
        channel = _channel(app)
    line = "城乡居民养老保险按年缴费，多缴多得。" * 8
    answer = "\n".join(f"第{i}条：{line}" for i in range(1, 16))  # about 7 KB
    parts = split_text(answer)
    assert len(parts) >= 3 and all(len(p.encode()) <= TEXT_LIMIT for p in parts)

    msg = Inbound("text", openid, "gh_demo", int(time.time()), msg_id="31337", content="养老保险")
    channel.ledger.claim(msg.key)
    turn = _Turn()
    channel._finish(msg, channel.sender_of(openid), turn, Result(parts))
    assert turn.reply == parts[0]  # what the callback would return passively

    # The worker (a real RQ worker, in this process) sends the rest.
    for name, value in {"REDIS_URL": redis_url, "DATABASE_URL": sqlite_url,
                        "WECHAT_API_BASE": emulator, "RASA_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    SimpleWorker(list(QUEUE_NAMES), connection=redis_conn).work(burst=True)
    msgs = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                        timeout=5).json()["messages"]
    assert [m["body"]["text"]["content"] for m in msgs] == parts[1:]
    assert "\n".join(parts) == answer  # cut at line ends, nothing lost


def test_a_late_long_answer_goes_entirely_through_customer_service(
    sqlite_url, redis_url, redis_conn, emulator, monkeypatch
):
    openid = "o-long-2"
    requests.post(f"{emulator}/_emulator/envelope",
                  json={"openid": openid, "msg_type": "text", "content": "失业金"},
                  timeout=5).raise_for_status()
    app = make_app(sqlite_url, redis_url, wechat_api_base=emulator)
    with app.app_context():
        channel = _channel(app)
    parts = ["甲" * 600, "乙" * 600, "丙" * 10]
    msg = Inbound("text", openid, "gh_demo", int(time.time()), msg_id="31338", content="失业金")
    channel.ledger.claim(msg.key)
    turn = _Turn()
    with turn.lock:
        turn.deferred = True  # the callback already answered "success"
    channel._finish(msg, channel.sender_of(openid), turn, Result(parts))
    assert turn.reply is None
    for name, value in {"REDIS_URL": redis_url, "DATABASE_URL": sqlite_url,
                        "WECHAT_API_BASE": emulator, "RASA_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    SimpleWorker(list(QUEUE_NAMES), connection=redis_conn).work(burst=True)
    msgs = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                        timeout=5).json()["messages"]
    assert [m["body"]["text"]["content"] for m in msgs] == parts
