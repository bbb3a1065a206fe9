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


def test_tickets_issued_at_once_by_separate_workers_are_all_different(redis_url: str) -> None:
    url = urlparse(redis_url)
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, url.hostname or "127.0.0.1", str(url.port or 6379),
         url.path.lstrip("/") or "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kind"] == "AtomicRedisLockStore"
    assert result["tickets"] == list(range(32))  # 8 workers x 4 tickets, none issued twice
    assert result["queued"] == 32
    assert result["left"] is False  # cleaned up: no lock left behind
