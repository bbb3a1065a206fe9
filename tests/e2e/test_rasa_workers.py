"""Rasa with several Sanic worker processes (the Procfile's RASA_WORKERS, default 2).

Each worker loads the model and polls the model server on its own, so the zero-downtime swap
must be seen in every one of them: every response names its worker (``X-Rasa-Worker``), and
the test waits until each worker process of the Rasa server answers with the newly activated
model. Conversations and their locks are in Redis: messages of one conversation sent at once
reach both workers and are still handled one after another, each answered, none lost.
Real web app (model server, registry), real Rasa, real Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from huimin.ops import registry
from huimin.ops.gate import load_gate_config
from huimin.platform.db import Database
from huimin.platform.settings import OpsSettings
from scripts.stack import ROOT, Process, free_port, http_ok, procfile, stack_env, wait_until
from tests.ops_fixtures import candidate_model
from tests.rasa_workers import HEADER, models_by_worker, status, worker_pids
from tests.services import claimed_redis_db

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

SWITCH_TIMEOUT = 600  # two workers each load the new model beside the old one


class Rasa:
    """The web app (model server) and the Procfile's Rasa command, default worker count."""

    def __init__(self, env: dict[str, str], procs: dict[str, Process]) -> None:
        self.env, self.procs = env, procs
        self.url = env["RASA_URL"]
        self.answers: list[str] = []  # every model id /status named, "" for none

    def workers(self) -> set[int]:
        return worker_pids(self.procs["rasa"].popen.pid)

    def status(self) -> tuple[int, str]:
        return status(self.url, self.env["RASA_TOKEN"])

    def models_by_worker(self, want: str, timeout: float) -> dict[int, str]:
        return models_by_worker(self.url, self.env["RASA_TOKEN"], self.procs["rasa"].popen.pid,
                                want, timeout, self.answers)


@pytest.fixture(scope="module")
def rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rasa]:
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("no trained model: run `make train` (make test does it)")
    tmp = tmp_path_factory.mktemp("rasa-workers")
    with claimed_redis_db() as redis_url:
        ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
        env = stack_env(dict(os.environ), ports, redis_url, f"sqlite:///{tmp}/workers.db")
        env.pop("RASA_WORKERS", None)  # the Procfile's default
        flask = [sys.executable, "-m", "flask", "--app", "webapp"]
        for command in ("init-db", "seed"):
            subprocess.run([*flask, command], check=True, cwd=ROOT, env=env,
                           capture_output=True)
        logs = ROOT / "var" / "test-logs" / "rasa-workers"
        procs = {name: Process(name, procfile()[name], env, logs) for name in ("web", "rasa")}
        for proc in procs.values():
            proc.start()
        stack = Rasa(env, procs)
        try:
            def ready() -> bool:
                for proc in procs.values():
                    if not proc.alive():
                        raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
                if not http_ok(f"http://127.0.0.1:{ports['web']}/healthz")():
                    return False
                try:
                    return bool(stack.status()[1])
                except (requests.RequestException, KeyError, ValueError):
                    return False

            wait_until(ready, 600, "web and Rasa")
            yield stack
        finally:
            for proc in procs.values():
                proc.stop()


def test_rasa_runs_two_workers_by_default_and_each_serves_the_live_model(rasa):
    """Once Rasa answers, every worker has the model: a worker takes no connection before
    its first model is loaded (huimin/ops/rasa_server.py), so none answers 409."""
    workers = rasa.workers()
    assert len(workers) == 2, workers
    db = Database(rasa.env["DATABASE_URL"])
    with db.session() as s:
        live = registry.active_model(s).rasa_model_id
    seen = rasa.models_by_worker(live, timeout=120)
    assert seen == dict.fromkeys(workers, live)
    assert set(rasa.answers) == {live}, rasa.answers
    db.engine.dispose()


def test_an_activated_model_is_served_by_every_worker(rasa, tmp_path):
    db = Database(rasa.env["DATABASE_URL"])
    with db.session() as s:
        old = registry.active_model(s).rasa_model_id
    b_id, b_rasa = candidate_model(db, tmp_path, name="huimin-workers-b")
    with db.session() as s:
        assert registry.activate(s, b_id, load_gate_config(OpsSettings().gate_file),
                                 "staff:workers").ok
    started = time.monotonic()
    seen = rasa.models_by_worker(b_rasa, timeout=SWITCH_TIMEOUT)
    print(f"every worker on the new model after {time.monotonic() - started:.0f} s")
    assert b_rasa != old
    assert seen == dict.fromkeys(rasa.workers(), b_rasa)
    # and each worker really predicts with it: parses name the new model too
    with ThreadPoolExecutor(8) as pool:
        parses = list(pool.map(lambda _: requests.post(
            f"{rasa.url}/model/parse", json={"text": "你好"}, timeout=30,
            params={"token": rasa.env["RASA_TOKEN"]}, headers={"Connection": "close"}),
            range(16)))
    assert {r.json()["intent"]["name"] for r in parses} == {"greet"}
    db.engine.dispose()


def test_one_conversation_on_two_workers_is_handled_one_message_at_a_time(rasa):
    sender = f"workers-{uuid.uuid4().hex[:10]}"
    url = f"{rasa.url}/webhooks/rest/webhook"
    answered_by: set[int] = set()
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        while answered_by != rasa.workers() and sent < 64:
            resps = list(pool.map(lambda _: requests.post(
                url, json={"sender": sender, "message": "你好"}, timeout=60,
                headers={"Connection": "close"}), range(8)))
            sent += len(resps)
            assert [r.status_code for r in resps] == [200] * len(resps)
            assert all(r.json() for r in resps)  # every message answered
            answered_by |= {int(r.headers[HEADER]) for r in resps}
    assert answered_by == rasa.workers()  # both workers took messages of this conversation
    tracker = requests.get(f"{rasa.url}/conversations/{sender}/tracker",
                           params={"token": rasa.env["RASA_TOKEN"]}, timeout=30).json()
    turns: list[list[str]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append([])
        elif event["event"] in ("action", "bot") and turns:
            turns[-1].append(event.get("name") or "bot")
    # Each message in turn: its answer, then listening, before the next message was taken.
    assert len(turns) == sent
    assert all(t == ["utter_greet", "bot", "action_listen"] for t in turns), turns
    # Both workers appended to the one stored list (huimin/ops/rasa_tracker.py): every event
    # once, in the order the API gives them.
    stored = redis.Redis.from_url(rasa.env["REDIS_URL"]).lrange(
        f"huimin-tracker:events:{sender}", 0, -1)
    assert [json.loads(e)["event"] for e in stored] == [e["event"] for e in tracker["events"]]
