"""The channel's memory in Redis: message ledger, nonces, rate limits, numbered choices."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from huimin.assistant.client import BotMessage, Button
from huimin.wechat.choices import ChoiceStore, parse_choice
from huimin.wechat.conversation import render
from huimin.wechat.dedup import ANSWERED, DEFERRED, Ledger, NonceGuard
from huimin.wechat.ratelimit import RateLimiter
from huimin.wechat.safe_redis import RedisUnavailable, SafeRedis
from scripts.stack import free_port


@pytest.fixture
def safe(redis_conn) -> SafeRedis:
    return SafeRedis(redis_conn)


@pytest.fixture
def dead() -> SafeRedis:
    """A client for a port nothing listens on."""
    return SafeRedis(redis.Redis(port=free_port(), socket_connect_timeout=1))


# ---- ledger ------------------------------------------------------------------------------

def test_first_delivery_claims_and_retries_see_the_state(safe):
    ledger = Ledger(safe)
    assert ledger.claim("m1") is None
    assert ledger.claim("m1") == "processing"
    assert ledger.finish("m1", "答案") == ANSWERED
    assert ledger.claim("m1") == ANSWERED
    assert ledger.peek("m1") == (ANSWERED, "答案")
    # A late waiter still gets the stored answer instead of deferring it.
    assert ledger.defer("m1") == (ANSWERED, "答案")


def test_a_deferred_message_is_never_answered_passively(safe):
    ledger = Ledger(safe)
    ledger.claim("m2")
    assert ledger.defer("m2") == (DEFERRED, "")
    assert ledger.finish("m2", "迟到的答案") == DEFERRED
    assert ledger.peek("m2") == (DEFERRED, "")


def test_a_claim_whose_host_died_is_taken_over_once_its_lease_runs_out(safe):
    """Web host A claims a message and dies; WeChat's next delivery lands on host B."""
    host_a, host_b, host_c = (Ledger(safe, lease_seconds=0.3) for _ in range(3))
    assert host_a.claim("m4") is None
    for _ in range(4):  # A is alive and renews its lease: nobody takes the message
        time.sleep(0.15)
        host_a.renew("m4")
        assert host_b.claim("m4") == "processing"
    time.sleep(0.4)  # A died: no renewal
    assert host_b.claim("m4") is None  # B takes the message over and processes it
    assert host_c.claim("m4") == "processing"  # B's fresh lease holds C off
    assert host_b.finish("m4", "答案") == ANSWERED
    time.sleep(0.4)
    host_a.renew("m4")  # a renewal never reopens a settled message
    assert host_c.claim("m4") == ANSWERED  # a settled message is never taken over


def test_concurrent_claims_elect_exactly_one_processor(safe):
    ledger, winners = Ledger(safe), []
    barrier = threading.Barrier(16)

    def claim() -> None:
        barrier.wait()
        if ledger.claim("m3") is None:
            winners.append(1)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def _race(ledger: Ledger, key: str) -> dict[str, object]:
    ledger.claim(key)
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def finish() -> None:
        barrier.wait()
        results["finish"] = ledger.finish(key, "答")

    def defer() -> None:
        barrier.wait()
        results["defer"] = ledger.defer(key)

    threads = [threading.Thread(target=finish), threading.Thread(target=defer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_finish_and_defer_race_has_one_outcome(safe):
    """Whichever of 'answer ready' and 'out of time' lands first decides, never both."""
    ledger = Ledger(safe)
    for i in range(50):
        results = _race(ledger, f"race-{i}")
        passive = results["finish"] == ANSWERED
        waiter_got_answer = results["defer"] == (ANSWERED, "答")
        assert passive == waiter_got_answer  # answered passively <=> not delivered later


def test_without_redis_every_delivery_is_processed(dead):
    ledger = Ledger(dead)
    assert ledger.claim("m4") is None and ledger.claim("m4") is None
    assert ledger.finish("m4", "x") == ANSWERED


# ---- nonces, rate limit ------------------------------------------------------------------

def test_nonce_is_fresh_once(safe, redis_conn):
    guard = NonceGuard(safe)
    assert guard.fresh("abc") and not guard.fresh("abc") and guard.fresh("abd")
    assert 0 < redis_conn.ttl("huimin:wechat:nonce:abc") <= 600


def test_rate_limit_per_user_and_minute(safe):
    limiter = RateLimiter(safe, per_minute=3)
    now = 1_800_000_000.0
    assert [limiter.allow("u1", now) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("u2", now)  # other users are not affected
    assert limiter.allow("u1", now + 60)  # a new minute
    assert RateLimiter(safe, per_minute=0).allow("u1", now)


def test_redis_down_allows_and_is_not_retried_at_once(dead):
    assert RateLimiter(dead, per_minute=1).allow("u")
    assert NonceGuard(dead).fresh("n") and NonceGuard(dead).fresh("n")
    assert not dead.available  # one failure: skipped for a few seconds
    with pytest.raises(RedisUnavailable):
        dead.run(lambda c: c.ping())


# ---- numbered choices --------------------------------------------------------------------

@pytest.mark.parametrize("text,number", [
    ("1", 1), (" 2 ", 2), ("１", 1), ("２。", 2), ("一", 1), ("二", 2), ("三", 3), ("十", 10),
    ("第2个", 2), ("第三项", 3), ("12", 12), ("3.", 3),
])
def test_parse_choice(text, number):
    assert parse_choice(text) == number


@pytest.mark.parametrize("text", ["", "0", "一二", "123", "1 2", "查政策", "1号楼在哪", "二十一"])
def test_not_a_choice(text):
    assert parse_choice(text) is None


def test_buttons_are_numbered_across_the_answer_and_map_back(safe):
    rendered = render([
        BotMessage(text="请选择：", buttons=(Button("失业保险金", "/ask_policy{\"p\":\"u\"}"),
                                          Button("创业补贴", "/ask_policy{\"p\":\"s\"}"))),
        BotMessage(text="或者：", buttons=(Button("转人工", "/human_handoff"),)),
    ])
    assert rendered.text == ("请选择：\n回复 1：失业保险金\n回复 2：创业补贴\n\n"
                             "或者：\n回复 3：转人工")
    store = ChoiceStore(safe)
    store.remember("u1", rendered.payloads)
    assert store.resolve("u1", "2") == '/ask_policy{"p":"s"}'
    assert store.resolve("u1", "３") == "/human_handoff"
    assert store.resolve("u1", "一") == '/ask_policy{"p":"u"}'
    assert store.resolve("u1", "4") is None  # out of range: sent as typed
    assert store.resolve("u2", "1") is None  # choices belong to one user
    store.remember("u1", ())  # an answer without buttons clears them
    assert store.resolve("u1", "1") is None


def test_choices_expire(safe, redis_conn):
    ChoiceStore(safe, ttl=60).remember("u1", ("/greet",))
    assert 0 < redis_conn.ttl("huimin:wechat:choices:u1") <= 60
