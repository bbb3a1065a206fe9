"""Every message type through the real callback of an in-process app.

The assistant is down here (nothing listens on its port), which shows what the citizen gets
then: the apology naming 12333, and the question queued, in order, under the pseudonym.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from rq import Queue
from sqlalchemy import select

from huimin.platform.keys import pseudonym_secret
from huimin.wechat import channel as ch
from huimin.wechat import users as wechat_users
from huimin.wechat.conversation import FALLBACK_TEXT
from huimin.wechat.delivery import ASK, SEND, Outbox
from huimin.wechat.models import WechatUser
from jobs.queues import PUSH
from tests.wechat import envelope, event_xml, make_app, message_xml, open_reply, post, text_xml


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


class Citizen:
    """One WeChat user talking to the callback."""

    def __init__(self, app, openid: str) -> None:
        self.app, self.openid = app, openid
        self.client = app.test_client()
        self.settings = app.extensions["huimin"].settings
        self.sender = wechat_users.pseudonym(openid, pseudonym_secret(self.settings))

    def send(self, xml: str) -> str:
        """Post one message; the passive reply's text ('' for "success")."""
        query, body = envelope(self.settings, xml)
        resp = post(self.client, query, body)
        assert resp.status_code == 200, resp.data
        if resp.data == b"success":
            return ""
        return open_reply(self.settings, query, resp.data)["Content"]

    def say(self, text: str, msg_id: int | None = None) -> str:
        return self.send(text_xml(self.openid, text, msg_id=msg_id))

    def event(self, event: str, key: str = "", created: int | None = None) -> str:
        return self.send(event_xml(self.openid, event, key, created=created))

    def message(self, msg_type: str, **fields) -> str:
        return self.send(message_xml(self.openid, msg_type, fields))

    def queued(self, redis_conn) -> list[tuple[str, str, str]]:
        return [(i.kind, i.text, i.quote) for i in Outbox(redis_conn).items(self.sender)]


@pytest.fixture
def citizen(app):
    return Citizen(app, "o-msg-citizen-1")


def test_subscribe_welcomes_with_a_numbered_menu_and_numbers_map_to_intents(citizen, app,
                                                                           redis_conn):
    welcome = citizen.event("subscribe")
    assert welcome.startswith("欢迎关注")
    assert "回复 1：查政策" in welcome and "回复 4：转人工" in welcome
    with app.extensions["huimin"].db.session() as session:
        user = session.scalar(select(WechatUser).where(WechatUser.openid == citizen.openid))
        assert user.subscribed and user.pseudonym == citizen.sender
    assert citizen.say("1") == FALLBACK_TEXT  # the assistant is down: apology, queued
    assert citizen.say("２") == FALLBACK_TEXT  # full-width digit
    assert citizen.say("四") == FALLBACK_TEXT  # Chinese numeral
    assert citizen.say("社保卡怎么补办") == FALLBACK_TEXT
    eventually(lambda: len(citizen.queued(redis_conn)) == 4)
    assert citizen.queued(redis_conn) == [
        (ASK, "/ask_policy", "1"), (ASK, "/check_benefits", "２"), (ASK, "/human_handoff", "四"),
        (ASK, "社保卡怎么补办", "社保卡怎么补办"),
    ]


def test_queued_work_waits_for_the_worker_under_a_pseudonym(citizen, redis_conn):
    assert citizen.say("你好") == FALLBACK_TEXT
    queue = Queue(PUSH, connection=redis_conn)
    eventually(lambda: len(queue) >= 1)  # no worker here: the job waits in the queue
    job = queue.jobs[0]
    assert job.func_name == "jobs.messages.drain_outbox" and job.args == (citizen.sender,)
    assert citizen.openid not in job.args[0]  # the job and the assistant see the pseudonym


def test_a_chatting_user_is_written_once_a_minute_without_asking_redis_again(
        citizen, app, redis_conn):
    """The first message writes last_seen_at and sets the minute's "seen" mark; while that
    mark lives, later messages try neither the mark nor the database (the channel remembers
    the mark it set); once it is gone, the next message writes again."""
    citizen.say("你好")
    channel = app.extensions["wechat_channel"]
    key = f"huimin:wechat:seen:{citizen.sender}"

    def last_seen():
        with app.extensions["huimin"].db.session() as session:
            return session.scalar(select(WechatUser.last_seen_at)
                                  .where(WechatUser.openid == citizen.openid))

    eventually(lambda: last_seen() is not None)
    first = last_seen()
    assert redis_conn.ttl(key) > 0 and channel._seen_recently(citizen.sender)
    redis_conn.delete(key)  # were the mark tried again, it would be set again
    citizen.say("社保卡怎么补办")
    assert not redis_conn.exists(key) and last_seen() == first
    channel._seen_until[citizen.sender] = time.monotonic() - 1  # the mark's minute is over
    citizen.say("谢谢")
    eventually(lambda: last_seen() != first)
    assert redis_conn.exists(key)


def test_voice_uses_recognition_or_asks_to_type(citizen, redis_conn):
    assert citizen.message("voice", MediaId="m1", Format="amr", Recognition="失业金怎么领") \
        == FALLBACK_TEXT
    eventually(lambda: citizen.queued(redis_conn) == [(ASK, "失业金怎么领", "失业金怎么领")])
    unclear = citizen.message("voice", MediaId="m2", Format="amr")
    assert unclear.startswith("没听清") and "回复 3：办事指引" in unclear
    assert citizen.say("3") == FALLBACK_TEXT  # the menu it showed is live
    eventually(lambda: citizen.queued(redis_conn)[-1] == (ASK, "/start_guide", "3"))


@pytest.mark.parametrize("msg_type,fields", [
    ("image", {"PicUrl": "http://mmbiz.qpic.cn/x", "MediaId": "m"}),
    ("location", {"Location_X": "23.1", "Location_Y": "113.3", "Scale": 15, "Label": "某地"}),
    ("link", {"Title": "t", "Description": "d", "Url": "https://example.org"}),
    ("video", {"MediaId": "m", "ThumbMediaId": "t"}),
    ("shortvideo", {"MediaId": "m", "ThumbMediaId": "t"}),
    ("file", {"Title": "a.pdf", "FileKey": "k"}),
    ("hologram", {"Whatever": "x"}),  # a type WeChat may add one day
])
def test_other_types_get_a_polite_answer_of_what_works(citizen, redis_conn, msg_type, fields):
    """Answered at once, or, when the machine is so busy that the reply budget (1 s here) runs
    out (seen once in a whole-suite run), as a customer-service message queued for the worker:
    either way the citizen gets the polite answer, once."""
    before = len(citizen.queued(redis_conn))
    reply = citizen.message(msg_type, **fields)
    if not reply:
        eventually(lambda: len(citizen.queued(redis_conn)) > before, timeout=30)
        reply = "\n".join(text for kind, text, _ in citizen.queued(redis_conn)[before:]
                          if kind == SEND)
    assert reply.startswith("暂时只能看懂文字和语音") and "回复 1：查政策" in reply


def test_empty_text_gets_the_menu(citizen):
    assert citizen.say("   ").startswith("请用文字告诉我")


def test_menu_events(citizen, redis_conn):
    assert citizen.event("CLICK", "POLICY") == FALLBACK_TEXT
    eventually(lambda: citizen.queued(redis_conn) == [(ASK, "/ask_policy", "")])
    assert citizen.event("CLICK", "NO_SUCH_KEY").startswith("这个菜单暂时用不了")
    assert citizen.event("VIEW", "https://hr.example.gov.cn/") == ""  # the user left to a page
    assert citizen.event("SCAN", "office-qr-7").startswith("欢迎回来")
    assert citizen.event("LOCATION") == ""
    assert citizen.event("some_new_event") == ch.POLITE_EVENT


def test_unsubscribe_marks_the_user_and_stops_pushes(citizen, app):
    citizen.event("subscribe")
    assert citizen.event("unsubscribe") == ""
    with app.extensions["huimin"].db.session() as session:
        assert not wechat_users.is_subscribed(session, citizen.openid)
    # Coming back turns pushes on again (a later CreateTime: the same one would be a retry).
    citizen.event("subscribe", created=int(time.time()) + 2)
    with app.extensions["huimin"].db.session() as session:
        assert wechat_users.is_subscribed(session, citizen.openid)


def test_a_retried_message_is_processed_once_and_answered_the_same(citizen, redis_conn):
    first = citizen.say("我要转人工", msg_id=424242)
    again = citizen.say("我要转人工", msg_id=424242)  # WeChat's retry: same MsgId, new nonce
    assert first == again == FALLBACK_TEXT
    time.sleep(0.3)
    assert citizen.queued(redis_conn) == [(ASK, "我要转人工", "我要转人工")]


def test_a_retry_takes_over_a_message_whose_web_host_died(sqlite_url, redis_url, redis_conn):
    """Another web host claimed the message and died before answering (its lease is never
    renewed): WeChat's retry, on this host, processes it instead of leaving it unanswered."""
    from huimin.wechat.dedup import LEASE_SECONDS, Ledger
    from huimin.wechat.safe_redis import SafeRedis

    citizen = Citizen(make_app(sqlite_url, redis_url, reply_budget_seconds=4.0), "o-takeover")
    assert Ledger(SafeRedis(redis_conn)).claim("515151") is None  # the host that died
    started = time.monotonic()
    assert citizen.say("我要转人工", msg_id=515151) == FALLBACK_TEXT
    assert LEASE_SECONDS <= time.monotonic() - started < 4.0 + 0.5
    time.sleep(0.3)
    assert citizen.queued(redis_conn) == [(ASK, "我要转人工", "我要转人工")]


def test_a_retried_event_is_processed_once(citizen, redis_conn):
    created = int(time.time())
    assert citizen.event("CLICK", "HUMAN", created=created) == FALLBACK_TEXT
    assert citizen.event("CLICK", "HUMAN", created=created) == FALLBACK_TEXT
    assert citizen.event("CLICK", "HUMAN", created=created + 1) == FALLBACK_TEXT  # a new click
    time.sleep(0.3)
    assert [q[1] for q in citizen.queued(redis_conn)] == ["/human_handoff", "/human_handoff"]


def test_rate_limit_is_answered_politely(sqlite_url, redis_url, redis_conn):
    citizen = Citizen(make_app(sqlite_url, redis_url, user_rate_limit_per_minute=2), "o-rl")
    assert citizen.say("一") != ch.RATE_LIMITED
    assert citizen.say("二") != ch.RATE_LIMITED
    assert citizen.say("三") == ch.RATE_LIMITED
    assert Citizen(citizen.app, "o-rl-other").say("一") != ch.RATE_LIMITED


def test_the_answer_comes_within_the_budget(citizen):
    started = time.monotonic()
    citizen.say("你好")
    assert time.monotonic() - started < citizen.settings.reply_budget_seconds + 0.5


def test_logs_never_carry_the_openid(app, capsys):
    citizen = Citizen(app, "o-secret-openid-7f3a")
    citizen.event("subscribe")
    citizen.say("你好", msg_id=5150)
    citizen.say("你好", msg_id=5150)  # duplicate delivery is logged too
    citizen.event("CLICK", "POLICY")
    time.sleep(0.3)  # background processing logs after the reply
    logged = capsys.readouterr()
    assert citizen.sender in logged.err  # the pseudonym is how logs name the citizen
    assert "o-secret-openid-7f3a" not in logged.err + logged.out
