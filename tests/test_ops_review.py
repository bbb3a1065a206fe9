"""Conversation log (from Rasa's event stream) and the review inbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest
import redis
import sqlalchemy
from sqlalchemy import select

from huimin.catalogue import load_catalogue
from huimin.catalogue.answers import choose_policy
from huimin.catalogue.referrals import load_referrals
from huimin.ops import conversation_log, review
from huimin.ops.models import ConversationMessage, IngestCursor
from huimin.ops.rasa_events import STREAM
from huimin.ops.review import LOCAL_TZ, InboxFilter, ReviewError, Verdict
from huimin.platform.db import Database
from huimin.platform.settings import ROOT
from tests.ops_fixtures import Conversation, broker_for

LOW = 0.6
LOW_TEXT = "低置信度的问题"


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def broker(redis_url: str, redis_conn: redis.Redis):
    return broker_for(redis_url)


def ingest(db: Database, conn: redis.Redis) -> conversation_log.IngestResult:
    with db.session() as s:
        return conversation_log.ingest(s, conn)


def messages(db: Database) -> list[ConversationMessage]:
    with db.session() as s:
        return list(s.scalars(select(ConversationMessage).order_by(ConversationMessage.id)))


def inbox(db: Database, **kw) -> list[str]:
    with db.session() as s:
        query = review.inbox_query(InboxFilter(low_confidence=LOW, **kw))
        return [m.text for m in s.scalars(query)]


def test_ingest_copies_the_stream_once_masked_and_in_order(db, broker, redis_conn):
    talk = Conversation(broker)
    talk.turn("你好", "greet", 0.99)
    talk.turn("我的电话13812345678，身份证340104199001011234", "ask_policy", 0.7,
              ranking=[("ask_policy", 0.7), ("check_benefits", 0.2)],
              entities=[{"entity": "policy", "start": 0, "end": 2, "value": "我的",
                         "extractor": "DIETClassifier", "confidence_entity": 0.9}])
    result = ingest(db, redis_conn)
    # 2 x (user, action, bot); an action is a flag on its message, not a row
    assert (result.events, result.messages) == (6, 4)
    rows = messages(db)
    assert [r.role for r in rows] == ["user", "bot", "user", "bot"]
    assert rows[2].text == "我的电话138****5678，身份证3401**********1234"
    assert rows[2].intent == "ask_policy" and rows[2].confidence == pytest.approx(0.7)
    assert rows[2].alternatives == [{"intent": "ask_policy", "confidence": 0.7},
                                    {"intent": "check_benefits", "confidence": 0.2}]
    assert rows[2].entities[0]["entity"] == "policy" and rows[2].model_id == "model-a"
    # Also masked in the stream itself: the broker masks before Redis sees the text.
    raw = b"".join(f[b"e"] for _, f in redis_conn.xrange(STREAM))
    assert b"13812345678" not in raw and b"138****5678" in raw
    # Nothing new: nothing copied twice; then only what is new.
    assert ingest(db, redis_conn).events == 0
    talk.turn("谢谢", "thank", 0.95)
    assert ingest(db, redis_conn).messages == 2
    assert len(messages(db)) == 6
    with db.session() as s:
        cursor = s.get(IngestCursor, STREAM)
        assert cursor.last_id == redis_conn.xrevrange(STREAM, count=1)[0][0].decode()


def test_ingest_skips_while_another_process_holds_the_lock(db, broker, redis_conn):
    Conversation(broker).turn("你好", "greet", 0.99)
    lock = redis_conn.lock("huimin:ops:ingest-lock", timeout=10)
    assert lock.acquire(blocking=False)
    try:
        assert ingest(db, redis_conn).skipped
        assert messages(db) == []
    finally:
        lock.release()
    assert ingest(db, redis_conn).messages == 2


def test_flags_for_the_review(db, broker, redis_conn):
    fallback = Conversation(broker)
    fallback.turn("阿巴阿巴", "nlu_fallback", 0.3, ranking=[("nlu_fallback", 0.3),
                                                            ("greet", 0.25)],
                  action="action_fallback")
    core_fallback = Conversation(broker)
    core_fallback.turn("帮我弄那个东西", "ask_policy", 0.8, action="action_fallback")
    gave_up = Conversation(broker)
    gave_up.turn("我的社保怎么没了", "check_application", 0.7, action="action_handoff")
    asked = Conversation(broker)
    asked.turn("养老金什么时候发", "ask_policy", 0.9)
    asked.turn("转人工", "human_handoff", 0.99, action="action_handoff")
    repeated = Conversation(broker)
    repeated.turn("失业金怎么领取", "start_guide", 0.8)
    repeated.turn("失业金到底怎么领取啊", "ask_policy", 0.85)
    short = Conversation(broker)
    short.turn("好", "affirm", 0.9)
    short.turn("好", "affirm", 0.9)
    late = Conversation(broker)
    late.turn("公积金怎么提取", "out_of_scope", 0.8)
    late.turn("公积金怎么提取", "out_of_scope", 0.8, step=3600)
    ingest(db, redis_conn)
    by_text = {m.text: m for m in messages(db) if m.role == "user"}
    assert by_text["阿巴阿巴"].fallback
    assert by_text["帮我弄那个东西"].fallback
    assert by_text["我的社保怎么没了"].handoff_after and not by_text["我的社保怎么没了"].fallback
    assert by_text["养老金什么时候发"].handoff_after  # the citizen asked for a person after it
    assert not by_text["转人工"].handoff_after
    assert by_text["失业金怎么领取"].repeated_after
    assert not by_text["失业金到底怎么领取啊"].repeated_after
    assert not any(m.repeated_after for m in messages(db) if m.text in {"好", "公积金怎么提取"})
def test_said_unhelpful_flags_the_message_it_answered(db, broker, redis_conn):
    tapped = Conversation(broker)
    tapped.turn("失业金一个月多少钱", "ask_policy", 0.95)
    tapped.turn('/ask_policy{"aspect":"materials"}', "ask_policy", 1.0)  # a button, then:
    tapped.turn("/feedback_unhelpful", "feedback_unhelpful", 1.0)
    tapped.turn("/feedback_unhelpful", "feedback_unhelpful", 1.0, step=2)  # tapped twice
    typed = Conversation(broker)
    typed.turn("社保卡怎么补办", "ask_policy", 0.9)
    typed.turn("你这答非所问", "feedback_unhelpful", 0.8)
    stale = Conversation(broker)
    stale.turn("养老金怎么认证", "start_guide", 0.9)
    stale.turn("没帮到我", "feedback_unhelpful", 0.9, step=3600)  # an hour later: not about it
    ingest(db, redis_conn)
    flagged = {m.text for m in messages(db) if m.unhelpful}
    assert flagged == {"失业金一个月多少钱", "社保卡怎么补办"}  # the questions typed
    with db.session() as s:
        inbox = s.scalars(review.inbox_query(InboxFilter(0.5, reason="unhelpful"))).all()
        assert {m.text for m in inbox} == flagged


def test_menus_and_referrals_are_flagged_from_the_reply(db, broker, redis_conn):
    """Issue 14: the reply a citizen saw says whether the assistant hesitated (a menu of
    policies) or referred the matter to another department; menus reach the review inbox."""
    catalogue = load_catalogue(ROOT / "policies")
    menu = choose_policy([catalogue["minimum_wage"], catalogue["wage_arrears_complaint"]])
    referred = load_referrals(ROOT / "referrals").match("低保怎么申请")
    talk = Conversation(broker)
    talk.turn("老板不发工资怎么办", "ask_policy", 0.9, answer=menu.text,
              action="action_answer_policy")
    talk.turn("低保怎么申请", "out_of_scope", 0.9, answer=referred.reply,
              action="action_out_of_scope")
    talk.turn("失业金怎么领", "ask_policy", 0.95, answer="【失业保险金】怎么办理",
              action="action_answer_policy")
    ingest(db, redis_conn)
    by_text = {m.text: m for m in messages(db) if m.role == "user"}
    assert by_text["老板不发工资怎么办"].menu and not by_text["老板不发工资怎么办"].referral
    assert by_text["低保怎么申请"].referral and not by_text["低保怎么申请"].menu
    assert not by_text["失业金怎么领"].menu and not by_text["失业金怎么领"].referral
    assert inbox(db, reason="menu") == ["老板不发工资怎么办"]
    assert "老板不发工资怎么办" in inbox(db)
    assert review.reasons_of(by_text["老板不发工资怎么办"], LOW) == ["menu"]
    assert review.REASON_LABELS["menu"] == "让用户选政策"


def test_an_ingest_run_reads_each_senders_latest_message_once(db, broker, redis_conn):
    """The run keeps each sender's latest message itself: the actions and replies of many turns
    cost no query each (one read per sender, then inserts), and still flag the right message."""
    talks = [Conversation(broker) for _ in range(2)]
    for talk in talks:
        for text in ("失业金怎么领", "失业金到底怎么领取", "养老金什么时候发"):
            talk.turn(text, "ask_policy", 0.9, answer="【失业保险金】怎么办理",
                      action="action_fallback")
    reads: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "conversation_messages" in \
                statement:
            reads.append(statement)

    sqlalchemy.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert ingest(db, redis_conn).messages == 12
    finally:
        sqlalchemy.event.remove(db.engine, "before_cursor_execute", count)
    assert len(reads) == len(talks)
    rows = [m for m in messages(db) if m.role == "user"]
    assert [m.text for m in rows] == ["失业金怎么领", "失业金到底怎么领取", "养老金什么时候发"] * 2
    assert all(m.fallback for m in rows)
    assert [m.repeated_after for m in rows] == [True, False, False] * 2


def test_similarity():
    assert conversation_log.similarity("失业金怎么领？", "失业金 怎么领") == 1.0
    assert conversation_log.similarity("失业金怎么领取", "养老金什么时候发") < 0.2
    assert conversation_log.is_repeat("社保卡丢了怎么办", "社保卡丢了要怎么办")
    assert not conversation_log.is_repeat("/ask_policy", "/ask_policy")
    assert not conversation_log.is_repeat("好的", "好的")


def test_inbox_reasons_filters_search_and_status(db, broker, redis_conn):
    day = datetime.now(LOCAL_TZ).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = Conversation(broker, start=(day - timedelta(days=1)).timestamp())
    yesterday.turn("昨天没听懂的话", "nlu_fallback", 0.2, action="action_fallback")
    today = Conversation(broker, start=day.timestamp())
    today.turn("你好", "greet", 0.99)  # confident: not in the inbox
    today.turn("低置信度的问题", "ask_policy", 0.41)
    today.turn("100%_有把握吗", "ask_office", 0.5)
    today.turn("/check_benefits", "check_benefits", 1.0 - 1e-9)
    today.turn("/ask_policy", "ask_policy", 0.3)  # a button payload: never in the inbox
    ingest(db, redis_conn)

    assert inbox(db) == ["100%_有把握吗", "低置信度的问题", "昨天没听懂的话"]
    assert inbox(db, reason="fallback") == ["昨天没听懂的话"]
    assert inbox(db, reason="low_confidence") == ["100%_有把握吗", "低置信度的问题"]
    assert inbox(db, intent="ask_policy") == ["低置信度的问题"]
    assert inbox(db, date_from=day.date()) == ["100%_有把握吗", "低置信度的问题"]
    assert inbox(db, date_to=day.date() - timedelta(days=1)) == ["昨天没听懂的话"]
    assert inbox(db, date_from=date(2000, 1, 1), date_to=date(2000, 1, 2)) == []
    assert inbox(db, min_confidence=0.45) == ["100%_有把握吗"]
    assert inbox(db, max_confidence=0.3) == ["昨天没听懂的话"]
    assert inbox(db, search="100%_") == ["100%_有把握吗"]
    assert inbox(db, search="%") == ["100%_有把握吗"]  # LIKE wildcards are literal
    assert inbox(db, search="没听懂") == ["昨天没听懂的话"]
    with db.session() as s:
        target = s.scalar(select(ConversationMessage).where(ConversationMessage.text == LOW_TEXT))
        review.annotate(s, target.id, Verdict("ignore"), "staff:1", "ops1")
        assert review.pending_count(s, LOW) == 2
    assert inbox(db) == ["100%_有把握吗", "昨天没听懂的话"]
    assert inbox(db, status="reviewed") == ["低置信度的问题"]
    assert len(inbox(db, status="all")) == 3
    with db.session() as s:
        message = s.scalar(select(ConversationMessage).where(ConversationMessage.text == LOW_TEXT))
        around = conversation_log.context(s, message, before=2, after=1)
        assert [m.text for m in around] == ["你好", "好的。", "低置信度的问题", "好的。"]
        assert review.reasons_of(message, LOW) == ["low_confidence"]


def test_annotations(db, broker, redis_conn):
    talk = Conversation(broker)
    talk.turn("社保卡丢了怎么补办", "ask_policy", 0.5,
              entities=[{"entity": "guide", "start": 0, "end": 3, "value": "社保卡"}])
    talk.turn("听不懂的话", "nlu_fallback", 0.2, action="action_fallback")
    talk.turn("电话13812345678打不通", "ask_office", 0.4)
    ingest(db, redis_conn)
    ids = {m.text: m.id for m in messages(db) if m.role == "user"}
    bot_id = next(m.id for m in messages(db) if m.role == "bot")
    actor = "staff:7"
    with db.session() as s:
        correct = review.annotate(s, ids["社保卡丢了怎么补办"], Verdict("correct"), actor, "ops7")
        assert (correct.intent, correct.entities) == (
            "ask_policy", [{"entity": "guide", "start": 0, "end": 3, "value": "社保卡"}])
        relabel = review.annotate(
            s, ids["社保卡丢了怎么补办"],
            Verdict("relabel", "start_guide", [{"entity": "guide", "start": 0, "end": 3}]),
            actor, "ops7")
        assert relabel.id == correct.id  # one verdict per message: replaced, with who and when
        assert (relabel.action, relabel.intent, relabel.annotator_name) == (
            "relabel", "start_guide", "ops7")
        oos = review.annotate(s, ids["听不懂的话"], Verdict("out_of_scope"), actor)
        assert oos.intent == "out_of_scope"
        with pytest.raises(ReviewError, match="请选择正确的意图"):
            review.annotate(s, ids["听不懂的话"], Verdict("correct"), actor)
        with pytest.raises(ReviewError) as unknown:
            review.annotate(s, ids["听不懂的话"], Verdict("relabel", "no_such_intent"), actor)
        assert unknown.value.field == "intent"
        with pytest.raises(ReviewError, match="重叠"):
            review.annotate(s, ids["听不懂的话"], Verdict("relabel", "greet", [
                {"entity": "policy", "start": 0, "end": 3},
                {"entity": "policy", "start": 2, "end": 4}]), actor)
        with pytest.raises(ReviewError, match="超出"):
            review.annotate(s, ids["听不懂的话"], Verdict("relabel", "greet", [
                {"entity": "policy", "start": 3, "end": 30}]), actor)
        with pytest.raises(ReviewError, match="没有名为 nope 的实体"):
            review.annotate(s, ids["听不懂的话"], Verdict("relabel", "greet", [
                {"entity": "nope", "start": 0, "end": 2}]), actor)
        with pytest.raises(ReviewError, match="个人信息"):
            review.annotate(s, ids["电话138****5678打不通"], Verdict("relabel", "ask_office", [
                {"entity": "district", "start": 2, "end": 13}]), actor)
        with pytest.raises(ReviewError, match="找不到"):
            review.annotate(s, bot_id, Verdict("ignore"), actor)
        review.annotate(s, ids["电话138****5678打不通"], Verdict("ignore"), actor)
        trained = review.training_annotations(s)
        assert [(a.text, a.intent) for a in trained] == [
            ("社保卡丢了怎么补办", "start_guide"), ("听不懂的话", "out_of_scope")]
        assert review.remove_annotation(s, ids["听不懂的话"])
        assert not review.remove_annotation(s, ids["听不懂的话"])
        assert [a.intent for a in review.training_annotations(s)] == ["start_guide"]


def test_vocabulary_is_the_domain_without_the_fallback():
    vocab = review.vocabulary()
    assert "ask_policy" in vocab.intents and "human_handoff" in vocab.intents
    assert "nlu_fallback" not in vocab.intents
    assert {"policy", "guide"} <= set(vocab.entities)


def test_broker_drops_events_when_redis_is_down_without_raising():
    from huimin.ops.rasa_events import RedisStreamEventBroker

    broker = RedisStreamEventBroker(host="127.0.0.1", port=9)
    event = {"event": "user", "sender_id": "u1", "text": "你好", "parse_data": {}}
    started = time.monotonic()
    broker.publish(event)
    assert time.monotonic() - started < 1.5
    started = time.monotonic()
    for _ in range(20):  # cooling down: not even tried
        broker.publish(event)
    assert time.monotonic() - started < 0.1
    assert not broker.is_ready()


def test_the_senders_names_on_record_are_masked_in_the_inbox(db, broker, redis_conn):
    """Names typed in chat reach the ops inbox: the sender's name from their resident record
    is hidden wherever it appears, a name introduced by pattern too (issue 15)."""
    from huimin.platform.settings import Settings
    from huimin.privacy.pii import NAME, cipher_from_settings
    from huimin.residents.models import Resident
    from huimin.wechat.users import WechatUser

    cipher = cipher_from_settings(Settings(secret_key="test-ops-review-names"))
    talk = Conversation(broker)
    with db.session() as s:
        resident = Resident(external_id="R-names",
                            name_enc=cipher.encrypt("周桂兰", field=NAME).encode())
        s.add(resident)
        s.flush()
        s.add(WechatUser(openid="o-names", pseudonym=talk.sender, resident_id=resident.id))
    talk.turn("桂兰的养老金没到，周桂兰住在幸福路12号3栋", "ask_policy", 0.4)
    talk.turn("我叫李建国", "greet", 0.9)
    with db.session() as s:
        conversation_log.ingest(s, redis_conn, cipher=cipher)
    texts = [m.text for m in messages(db) if m.role == "user"]
    assert texts == ["**的养老金没到，周**住在**路**号*栋", "我叫李**"]
