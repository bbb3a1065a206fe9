"""huimin/ops/rasa_tracker.py against Rasa's own RedisTrackerStore, in the Rasa environment on
real Redis: the same conversation (session start, a form, slots, a restart and the new session
it brings, an undone turn, an expired session with start metadata), saved turn by turn as
Rasa's processor saves it, gives the same tracker from `retrieve` and `retrieve_full_tracker`
after every turn, the same events to the event broker, and the list holds every event once.
Also: a save after someone else's write (the stock merge), and a conversation stored by the
stock store read and moved."""

from __future__ import annotations

import json
import subprocess
import uuid
from urllib.parse import urlparse

from huimin.ops.rasa_events import RedisStreamEventBroker
from huimin.platform.settings import ROOT
from scripts.stack import free_port

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = r"""
import asyncio, itertools, json, sys, uuid
import redis
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, Event, Restarted,
    SessionStarted, SlotSet, UserUttered, UserUtteranceReverted)
from rasa.shared.core.trackers import EventVerbosity
from huimin.ops.rasa_tracker import SessionRedisTrackerStore

host, port, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
domain = Domain.load("bot/domain.yml")
clock = itertools.count(1_700_000_000)


class Recorder:
    def __init__(self):
        self.events = []

    def publish(self, event):
        self.events.append(event)


def user(text, intent):
    return UserUttered(text, {"name": intent, "confidence": 0.9}, timestamp=next(clock),
                       parse_data={"intent": {"name": intent, "confidence": 0.9},
                                   "entities": [], "text": text})


def act(name):
    return ActionExecuted(name, timestamp=next(clock))


def bot(text):
    return BotUttered(text, {"elements": None}, {"utter_action": "x"}, timestamp=next(clock))


def session(metadata=None):
    pre = [SlotSet("session_started_metadata", metadata, timestamp=next(clock))] if metadata else []
    return pre + [act("action_session_start"), SessionStarted(timestamp=next(clock)),
                  act("action_listen")]


def turn(text, intent, *middle):
    return [user(text, intent), *middle, act("action_listen")]


def script():
    # A function per turn, so each store gets its own (equal) event objects.
    return [
        lambda: session() + turn("你好", "greet", act("utter_greet"), bot("您好")),
        lambda: turn("社保局在哪里", "ask_office", act("office_form"), ActiveLoop("office_form",
                     timestamp=next(clock)), SlotSet("requested_slot", "district",
                     timestamp=next(clock)), bot("哪个区")),
        lambda: turn("东城区", "inform", SlotSet("district", "东城区", timestamp=next(clock)),
                     act("office_form"), SlotSet("requested_slot", None, timestamp=next(clock)),
                     ActiveLoop(None, timestamp=next(clock)), act("action_office"),
                     bot("人民路88号")),
        lambda: turn("/restart", "restart", act("action_restart"), Restarted(
                     timestamp=next(clock))),
        lambda: session() + turn("失业金怎么领", "ask_policy", SlotSet("policy", "unemployment",
                     timestamp=next(clock)), act("action_policy"), bot("可以领"), bot("第二段")),
        lambda: turn("/back", "back", act("action_back"), UserUtteranceReverted(
                     timestamp=next(clock)), UserUtteranceReverted(timestamp=next(clock))),
        lambda: session({"channel": "wechat"}) + turn("谢谢", "thank", act("utter_thank"),
                     bot("不客气")),
        lambda: turn("教我做养老金认证", "ask_guide", act("action_guide"), bot("第一步")),
    ]


def clone(events):
    return [Event.from_parameters(e.as_dict()) for e in events]


def state(tracker, sender):
    got = tracker.current_state(EventVerbosity.ALL)
    got["sender_id"] = "x"
    return json.loads(json.dumps(got).replace(sender, "x"))


async def save_turn(store, sender, events, model="m1"):
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    tracker.model_id = model
    for e in events:
        tracker.update(e, domain)
    await store.save(tracker)


def stores(prefix):
    rec = Recorder()
    return rec, dict(domain=domain, host=host, port=port, db=db, event_broker=rec,
                     record_exp=600, key_prefix=prefix)


async def compare(a, a_id, b, b_id, ra, rb):
    return {
        "retrieve": state(await a.retrieve(a_id), a_id) == state(await b.retrieve(b_id), b_id),
        "full": state(await a.retrieve_full_tracker(a_id), a_id)
                == state(await b.retrieve_full_tracker(b_id), b_id),
        "broker": [dict(e, sender_id="x") for e in ra.events]
                  == [dict(e, sender_id="x") for e in rb.events],
    }


async def main():
    red = redis.Redis(host=host, port=port, db=db, decode_responses=True)
    out = {}
    ra, kw = stores("stocktest")
    stock = RedisTrackerStore(**kw)
    rb, kw = stores("huimin-tracker")
    ours = SessionRedisTrackerStore(**kw)
    a, b = "stock-" + uuid.uuid4().hex[:8], "ours-" + uuid.uuid4().hex[:8]
    turns, sessions = [], []
    for make in script():
        events = make()
        copy = clone(events)
        await save_turn(stock, a, events)
        await save_turn(ours, b, copy)
        turns.append(await compare(stock, a, ours, b, ra, rb))
        sessions.append(red.hget(ours.meta_prefix + b, "session"))
    out["turns"] = turns
    out["sessions"] = sessions
    full = await ours.retrieve_full_tracker(b)
    stored = [json.loads(e) for e in red.lrange(ours.events_prefix + b, 0, -1)]
    out["list_is_events"] = stored == [e.as_dict() for e in full.events]
    out["events"] = len(stored)
    out["last_session_events"] = len((await ours.retrieve(b)).events)
    out["ttl"] = red.ttl(ours.events_prefix + b) > 0 and red.ttl(ours.meta_prefix + b) > 0
    out["published"] = len(rb.events)

    # Someone else writes between this worker's read and its save: the stock merge.
    other_stock = RedisTrackerStore(**stores("stocktest")[1])
    other_ours = SessionRedisTrackerStore(**stores("huimin-tracker")[1])
    first = script()[0]
    late = [await s.get_or_create_tracker(i, append_action_listen=False)
            for s, i in ((stock, a), (ours, b))]
    events = first()
    copy = clone(events)
    await save_turn(other_stock, a, events)
    await save_turn(other_ours, b, copy)
    extra = turn("再见", "goodbye", act("utter_goodbye"), bot("再见"))
    for tracker, store in zip(late, (stock, ours)):
        for e in (extra if store is stock else clone(extra)):
            tracker.update(e, domain)
        await store.save(tracker)
    out["after_conflict"] = await compare(stock, a, ours, b, ra, rb)

    # A conversation the stock store saved under this prefix is read, then moved on save.
    legacy = RedisTrackerStore(**stores("huimin-tracker")[1])
    c = "legacy-" + uuid.uuid4().hex[:8]
    d = "ref-" + uuid.uuid4().hex[:8]
    reference = RedisTrackerStore(**stores("reftest")[1])
    for make in script()[:3]:
        events = make()
        copy = clone(events)
        await save_turn(legacy, c, events)
        await save_turn(reference, d, copy)
    out["legacy_read"] = state(await ours.retrieve(c), c) == state(await reference.retrieve(d), d)
    last = script()[3]()
    copy = clone(last)
    await save_turn(ours, c, last)
    await save_turn(reference, d, copy)
    out["legacy_moved"] = (not red.exists(legacy.key_prefix + c)
                           and red.exists(ours.events_prefix + c) == 1)
    out["legacy_full"] = (state(await ours.retrieve_full_tracker(c), c)
                          == state(await reference.retrieve_full_tracker(d), d))
    out["keys"] = {b, c} <= set(await ours.keys())
    out["missing"] = await ours.retrieve("nobody-" + uuid.uuid4().hex) is None
    for key in red.scan_iter(match="*tracker*"):
        red.delete(key)
    print(json.dumps(out))


asyncio.run(main())
"""


def test_conversations_are_stored_and_read_as_rasas_own_store_does(redis_url: str) -> None:
    url = urlparse(redis_url)
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, url.hostname or "127.0.0.1", str(url.port or 6379),
         url.path.lstrip("/") or "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    same = {"retrieve": True, "full": True, "broker": True}
    assert out["turns"] == [same] * 8
    # The latest session starts at the first event, then after the restart, then after the
    # expired session's start metadata (one event before its action_session_start).
    assert out["sessions"] == ["0", "0", "0", "0", "25", "25", "40", "40"]
    assert out["list_is_events"] is True
    assert out["last_session_events"] == out["events"] - 40
    assert out["ttl"] is True
    assert out["published"] == out["events"]  # every stored event published once
    assert out["after_conflict"] == same
    assert out["legacy_read"] is True
    assert out["legacy_moved"] is True
    assert out["legacy_full"] is True
    assert out["keys"] is True
    assert out["missing"] is True


def test_a_messages_events_reach_the_stream_in_one_call_in_order(redis_url: str) -> None:
    """What the tracker store hands the event broker per message: kept events in order, the
    rest dropped, as `publish` one by one did; a Redis failure loses events, not the answer."""
    url = urlparse(redis_url)
    stream = f"test-events-{uuid.uuid4().hex[:8]}"
    broker = RedisStreamEventBroker(url.hostname or "127.0.0.1", url.port or 6379,
                                    int(url.path.lstrip("/") or 0), stream=stream)
    events = [
        {"event": "action", "name": "action_session_start", "sender_id": "s"},
        {"event": "user", "text": "你好", "sender_id": "s", "parse_data": {}},
        {"event": "slot", "name": "policy", "value": "x", "sender_id": "s"},
        {"event": "bot", "text": "您好", "sender_id": "s"},
        {"event": "action", "name": "utter_greet", "sender_id": "s"},
    ]
    broker.publish_many(events)
    got = [json.loads(fields[b"e"]) for _, fields in broker.client.xrange(stream)]
    assert [(e["event"], e.get("text") or e.get("name")) for e in got] == [
        ("user", "你好"), ("bot", "您好"), ("action", "utter_greet")]
    broker.client.delete(stream)
    down = RedisStreamEventBroker("127.0.0.1", free_port(), stream=stream)
    down.publish_many(events)  # no exception
    assert down.down_until > 0
