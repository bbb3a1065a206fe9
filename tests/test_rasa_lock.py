"""Rasa's lock store with several worker processes: tickets for one conversation, issued at
the same moment by separate Redis clients (as two Sanic workers would), are all different, and
the lock is gone once every ticket is cleaned up. Runs in the Rasa environment on real Redis."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlparse

from huimin.platform.settings import ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = """
import json, sys, threading, uuid
from multiprocessing import Process, Queue
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

host, port, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = EndpointConfig(url=host, type="huimin.ops.rasa_lock.AtomicRedisLockStore", port=port,
                     db=db, key_prefix="huimin-lock")
conversation = "race-" + uuid.uuid4().hex[:8]
WORKERS = 8

def worker(start, out):
    store = LockStore.create(cfg)  # its own client, in its own process
    start.wait()
    out.put([store.issue_ticket(conversation) for _ in range(4)])

start, out = __import__("multiprocessing").Event(), Queue()
procs = [Process(target=worker, args=(start, out)) for _ in range(WORKERS)]
[p.start() for p in procs]
start.set()
tickets = sorted(t for _ in procs for t in out.get(timeout=60))
[p.join() for p in procs]
store = LockStore.create(cfg)
kind = type(store).__name__
queued = len(store.get_lock(conversation).tickets)
for t in tickets:
    store.cleanup(conversation, t)
print(json.dumps({"kind": kind, "tickets": tickets, "queued": queued,
                  "left": store.get_lock(conversation) is not None}))
"""


def run_in_rasa(script: str, redis_url: str) -> dict:
    """Run `script` in the Rasa environment against `redis_url`; its last line, as JSON."""
    url = urlparse(redis_url)
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", script, url.hostname or "127.0.0.1", str(url.port or 6379),
         url.path.lstrip("/") or "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tickets_issued_at_once_by_separate_workers_are_all_different(redis_url: str) -> None:
    result = run_in_rasa(SCRIPT, redis_url)
    assert result["kind"] == "AtomicRedisLockStore"
    assert result["tickets"] == list(range(32))  # 8 workers x 4 tickets, none issued twice
    assert result["queued"] == 32
    assert result["left"] is False  # cleaned up: no lock left behind


CYCLE = """
import asyncio, json, sys, time, uuid
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

host, port, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = EndpointConfig(url=host, type="huimin.ops.rasa_lock.AtomicRedisLockStore", port=port,
                     db=db, key_prefix="huimin-lock")
store = LockStore.create(cfg)
stock = RedisLockStore(host=host, port=port, db=db, key_prefix="huimin-lock")
conversation = "cycle-" + uuid.uuid4().hex[:8]
calls = []
send = store.red.execute_command
store.red.execute_command = lambda *a, **k: calls.append(a[0]) or send(*a, **k)

async def one_message():
    async with store.lock(conversation):
        pass

asyncio.run(one_message())  # the scripts are loaded on first use
calls.clear()
asyncio.run(one_message())
out = {"commands": list(calls), "left": store.get_lock(conversation) is not None}

# Expired tickets are dropped before a new one is issued: numbering starts again at 0.
stale = "stale-" + uuid.uuid4().hex[:8]
first = store.issue_ticket(stale, lock_lifetime=0.01)
time.sleep(0.05)
out["after_expiry"] = [first, store.issue_ticket(stale), len(store.get_lock(stale).tickets)]

# The stored format is Rasa's: stock Rasa reads ours, ours reads stock Rasa's.
mixed = "mixed-" + uuid.uuid4().hex[:8]
out["issued"] = [store.issue_ticket(mixed), stock.issue_ticket(mixed), store.issue_ticket(mixed)]
out["stock_sees"] = [t.number for t in stock.get_lock(mixed).tickets]
store.finish_serving(mixed, 0)
store.finish_serving(mixed, 1)
store.finish_serving(mixed, 2)  # an empty queue, kept (Rasa's finish_serving keeps it)
out["empty_kept"] = [stock.get_lock(mixed) is not None, len(stock.get_lock(mixed).tickets)]
store.cleanup(mixed, 2)
out["empty_deleted"] = stock.get_lock(mixed) is None
print(json.dumps(out))
"""


def test_a_message_costs_three_redis_round_trips_in_rasas_own_format(redis_url: str) -> None:
    """One message's lock: issue, read, clean up — one command each (Lua scripts), where the
    WATCH/MULTI version took seven. Expiry and the stored format are Rasa's own."""
    result = run_in_rasa(CYCLE, redis_url)
    assert result["commands"] == ["EVALSHA", "GET", "EVALSHA"], result["commands"]
    assert result["left"] is False
    assert result["after_expiry"] == [0, 0, 1]
    assert result["issued"] == [0, 1, 2] and result["stock_sees"] == [0, 1, 2]
    assert result["empty_kept"] == [True, 0]
    assert result["empty_deleted"] is True
