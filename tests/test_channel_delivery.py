"""Late answers: splitting at WeChat's limit, the ordered outbox, WeChat's refusals recorded for
staff follow-up. WeChat is the emulator; Redis and the database are real."""

from __future__ import annotations

import dataclasses
import time

import pytest
import requests
from rq import Queue
from sqlalchemy import select

from huimin.assistant.client import AssistantClient, AssistantUnavailable
from huimin.platform.db import Database
from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import load_settings
from huimin.wechat import undelivered
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.choices import ChoiceStore
from huimin.wechat.conversation import AssistantHealth
from huimin.wechat.delivery import (
    ASK,
    SEND,
    TEXT_LIMIT,
    Courier,
    Item,
    Outbox,
    OutboxBusy,
    split_text,
)
from huimin.wechat.models import UndeliveredMessage
from huimin.wechat.safe_redis import SafeRedis
from jobs.messages import RQDrains
from jobs.queues import PUSH

SENDER = "u-delivery-test"
DRAINS = RQDrains()


# ---- splitting ---------------------------------------------------------------------------

def test_short_text_is_one_part():
    assert split_text("  你好  ") == ["你好"]
    assert split_text("   ") == []


def test_long_chinese_text_splits_under_2048_bytes_at_sentence_ends():
    sentence = "申请失业保险金需要携带身份证和社保卡，到户籍所在地的人社服务大厅办理。"
    text = sentence * 60  # about 6 KB of UTF-8
    parts = split_text(text)
    assert len(parts) >= 3
    assert all(len(p.encode()) <= TEXT_LIMIT for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_split_prefers_paragraphs_and_never_cuts_a_character():
    paragraphs = ["第一段" + "甲" * 500, "第二段" + "乙" * 500, "第三段" + "丙" * 500]
    parts = split_text("\n\n".join(paragraphs))
    assert parts[0].startswith("第一段") and all(len(p.encode()) <= TEXT_LIMIT for p in parts)
    assert "".join(parts) == "".join(paragraphs)
    emoji = "😀" * 1000  # 4 bytes each, no separators at all
    parts = split_text(emoji)
    assert all(len(p.encode()) <= TEXT_LIMIT for p in parts) and "".join(parts) == emoji


# ---- the outbox --------------------------------------------------------------------------

@pytest.fixture
def settings(emulator):
    return dataclasses.replace(load_settings(), wechat_api_base=emulator,
                               rasa_url="http://127.0.0.1:9")


@pytest.fixture
def db(sqlite_url):
    database = Database(sqlite_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def courier(settings, db, redis_conn):
    safe = SafeRedis(redis_conn)
    return Courier(db=db, assistant=AssistantClient(settings),
                   wechat=WeChatApi(settings, redis_conn), choices=ChoiceStore(safe),
                   health=AssistantHealth(safe))


def interact(emulator: str, openid: str) -> None:
    """The citizen writes to the account: WeChat's 48-hour window opens."""
    requests.post(f"{emulator}/_emulator/envelope",
                  json={"openid": openid, "msg_type": "text", "content": "hi"},
                  timeout=5).raise_for_status()


def delivered(emulator: str, openid: str) -> list[str]:
    msgs = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                        timeout=5).json()["messages"]
    return [m["body"]["text"]["content"] for m in msgs]


def fault(emulator: str, errcode: int, count: int = 1) -> None:
    requests.post(f"{emulator}/_emulator/faults", json={
        "path": "/cgi-bin/message/custom/send", "errcode": errcode, "count": count},
        timeout=5).raise_for_status()


def records(db: Database) -> list[UndeliveredMessage]:
    with db.session() as session:
        return list(session.scalars(select(UndeliveredMessage).order_by(UndeliveredMessage.id)))


def send(openid: str, text: str, **kw) -> Item:
    return Item(SEND, openid, SENDER, text, "m1", **kw)


def test_parts_are_delivered_in_order(emulator, courier, redis_conn):
    interact(emulator, "o-del-1")
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-1", f"第{i}部分") for i in range(1, 5)], DRAINS)
    assert outbox.drain(SENDER, courier) == 4
    assert delivered(emulator, "o-del-1") == ["第1部分", "第2部分", "第3部分", "第4部分"]
    assert outbox.items(SENDER) == []


def test_continuation_waits_for_the_passive_part(emulator, courier, redis_conn):
    interact(emulator, "o-del-2")
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-2", "续", not_before=time.time() + 0.6)], DRAINS)
    started = time.monotonic()
    outbox.drain(SENDER, courier)
    assert time.monotonic() - started >= 0.5
    assert delivered(emulator, "o-del-2") == ["续"]


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_refusals_are_recorded_for_staff_and_the_rest_still_go(emulator, courier, redis_conn,
                                                              db, errcode):
    interact(emulator, "o-del-3")
    fault(emulator, errcode)
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-3", "身份证340104199001011234的答复"), send("o-del-3", "二")],
                DRAINS)
    assert outbox.drain(SENDER, courier) == 1
    assert delivered(emulator, "o-del-3") == ["二"]
    [row] = records(db)
    assert (row.errcode, row.kind, row.openid, row.sender_id) == (
        errcode, "answer", "o-del-3", SENDER)
    assert "340104199001011234" not in row.text  # personal data masked
    assert outbox.items(SENDER) == []


def test_window_passed_for_real(emulator, courier, redis_conn, db):
    requests.post(f"{emulator}/_emulator/users/o-del-4",
                  json={"subscribed": True, "last_interaction": time.time() - 49 * 3600},
                  timeout=5).raise_for_status()
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-4", "迟到两天的答复")], DRAINS)
    assert outbox.drain(SENDER, courier) == 0
    assert [r.errcode for r in records(db)] == [45015]


def test_transient_failure_keeps_the_item_for_the_retry(emulator, courier, redis_conn, db):
    interact(emulator, "o-del-5")
    fault(emulator, -1)  # "system busy"
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-5", "一"), send("o-del-5", "二")], DRAINS)
    with pytest.raises(WeChatError):
        outbox.drain(SENDER, courier)
    assert [i.text for i in outbox.items(SENDER)] == ["一", "二"]
    assert outbox.drain(SENDER, courier) == 2  # what the job's retry does
    assert delivered(emulator, "o-del-5") == ["一", "二"] and records(db) == []


def test_a_send_whose_answer_timed_out_is_not_resent(emulator, courier, redis_conn, db):
    """WeChat delivers the part but holds its answer past the client's 5 s read timeout: the
    part may have arrived, so it goes to staff ("may have been delivered"), never again to the
    citizen; the rest of the outbox still goes."""
    interact(emulator, "o-del-11")
    requests.post(f"{emulator}/_emulator/faults", json={
        "path": "/cgi-bin/message/custom/send", "errcode": 0, "delay": 7, "count": 1},
        timeout=5).raise_for_status()
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-11", "一"), send("o-del-11", "二")], DRAINS)
    assert outbox.drain(SENDER, courier) == 1
    assert delivered(emulator, "o-del-11") == ["一", "二"]  # nothing twice
    assert [(r.text, r.reason) for r in records(db)] == [("一", undelivered.TIMED_OUT)]
    assert outbox.items(SENDER) == [] and redis_conn.get(Outbox.sending_key(SENDER)) is None


def test_unsubscribed_users_get_no_pushes(emulator, courier, redis_conn, db, settings):
    interact(emulator, "o-del-6")
    with db.session() as session:
        wechat_users.touch(session, "o-del-6", pseudonym_secret(settings), subscribed=False)
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-6", "不该发出")], DRAINS)
    assert outbox.drain(SENDER, courier) == 0
    assert delivered(emulator, "o-del-6") == []
    assert [r.reason for r in records(db)] == ["user unsubscribed"]


def test_questions_wait_while_the_assistant_is_down(emulator, courier, redis_conn, db):
    interact(emulator, "o-del-7")
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [Item(ASK, "o-del-7", SENDER, "你好", "m7", quote="你好"),
                         send("o-del-7", "排在后面")], DRAINS)
    with pytest.raises(AssistantUnavailable):
        outbox.drain(SENDER, courier)
    assert [i.kind for i in outbox.items(SENDER)] == [ASK, SEND]  # order kept, nothing sent
    assert delivered(emulator, "o-del-7") == []
    assert courier.health.is_down()


def test_questions_older_than_the_window_go_to_staff(emulator, courier, redis_conn, db):
    outbox = Outbox(redis_conn)
    old = time.time() - 49 * 3600
    outbox.push(SENDER, [Item(ASK, "o-del-8", SENDER, "/ask_policy", "m8", received_at=old,
                              quote="1")], DRAINS)
    assert outbox.drain(SENDER, courier) == 0
    [row] = records(db)
    assert (row.kind, row.errcode, row.text) == ("question", 45015, "1")


def test_one_drainer_at_a_time(courier, redis_conn):
    outbox = Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-9", "x")], DRAINS)
    lock = redis_conn.lock(f"huimin:wechat:outbox-lock:{SENDER}", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        with pytest.raises(OutboxBusy):
            outbox.drain(SENDER, courier)
    finally:
        lock.release()


def test_an_outbox_with_items_always_has_one_live_drain_job(courier, redis_conn, emulator):
    interact(emulator, "o-del-10")
    queue, outbox = Queue(PUSH, connection=redis_conn), Outbox(redis_conn)
    outbox.push(SENDER, [send("o-del-10", "一")], DRAINS)
    outbox.push(SENDER, [send("o-del-10", "二")], DRAINS)
    assert len(queue) == 1  # the queued job will deliver both
    job_id = redis_conn.get(Outbox.drainer_key(SENDER)).decode()
    assert queue.job_ids == [job_id]
    assert outbox.drain(SENDER, courier) == 2
    assert redis_conn.get(Outbox.drainer_key(SENDER)) is None  # empty: the job is done
    outbox.push(SENDER, [send("o-del-10", "三")], DRAINS)
    assert len(queue) == 2  # a new job for the new item
    # A job that died (here: deleted) is replaced by the next push.
    queue.empty()
    outbox.push(SENDER, [send("o-del-10", "四")], DRAINS)
    assert len(queue) == 1
    assert [i.text for i in outbox.items(SENDER)] == ["三", "四"]
