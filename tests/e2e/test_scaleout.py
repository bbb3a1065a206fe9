"""The production shape across real network boundaries: hosts as network namespaces.

deploy/netns/topology.py builds lb (HAProxy), web-1..3, rasa-1..2, actions, worker-1..2 (each
with a cron scheduler), trainer, db (private PostgreSQL and Redis) and wechat (the emulator),
each with its own address, running the Procfile's commands. Citizens' traffic goes through the
load balancer as WeChat delivers it (retries included) while hosts die and a model goes live.

Needs root (the test machines have it). When the namespaces cannot be built the tests FAIL,
with the reason; they never skip.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from deploy.netns.topology import Topology
from huimin.ops import registry
from huimin.ops.gate import load_gate_config
from huimin.platform.db import Database
from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import OpsSettings, load_settings
from huimin.wechat import users as wechat_users
from huimin.wechat.channel import SORRY
from huimin.wechat.conversation import FALLBACK_TEXT
from jobs.queues import DEFAULT, PUSH
from tests.debian import ensure_installed
from tests.faults import WECHAT_TRIES, Question, Traffic
from tests.ops_fixtures import candidate_model

# Building the hosts takes minutes on a busy machine (two Rasa replicas load a model).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

CRON_SECONDS = 5  # watch_rules every 5 s on both schedulers: a period enqueued twice shows


@pytest.fixture(scope="module")
def hosts() -> Iterator[Topology]:
    ensure_installed("haproxy", "haproxy")  # the load balancer; CI machines start without it
    workdir = Path(tempfile.mkdtemp(prefix="huimin-scaleout-"))
    topology = Topology(workdir, extra_env={"BENEFIT_RULES_CHECK_SECONDS": str(CRON_SECONDS)})
    try:
        topology.__enter__()
    except Exception as exc:  # noqa: BLE001 - reported as a failure, never a skip
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"could not build the hosts as network namespaces: {exc}", pytrace=False)
    try:
        yield topology
    finally:
        topology.teardown()  # the hosts' logs stay in the work directory
        print(f"scale-out logs: {workdir / 'logs'}")


class Site:
    """What tests.faults.Traffic needs to know of a stack: here, the load balancer's side."""

    def __init__(self, hosts: Topology) -> None:
        self.hosts = hosts
        self.redis_url, self.database_url = hosts.redis_url, hosts.database_url

    def url(self, name: str) -> str:
        return {"web": self.hosts.lb_url, "emulator": self.hosts.wechat_url}[name]

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.hosts.lb_url}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False


def envelope(hosts: Topology, openid: str, text: str, msg_id: str) -> dict:
    """WeChat's signed POST; each delivery of one message has a new nonce, the same MsgId."""
    return requests.post(f"{hosts.wechat_url}/_emulator/envelope",
                         json={"openid": openid, "msg_type": "text", "content": text,
                               "msg_id": msg_id}, timeout=10).json()


def new_msg_id() -> str:
    return str(10**15 + secrets.randbelow(9 * 10**15))


class WeChatTraffic(Traffic):
    """tests.faults.Traffic, delivering as WeChat does across hosts: a reply that does not come
    within 5 s, or a 5xx (the host died), is followed by a new delivery: a new envelope
    (nonce) for the same MsgId, which the load balancer may send to any web host."""

    def __init__(self, site: Site) -> None:
        super().__init__(site)  # type: ignore[arg-type]
        self.hosts = site.hosts
        self.msg_ids: dict[str, str] = {}

    def next_envelope(self, q: Question) -> dict:
        msg_id = self.msg_ids.setdefault(q.openid, new_msg_id())  # one MsgId per question
        return envelope(self.hosts, q.openid, q.text, msg_id)


def opened(hosts: Topology, env: dict, raw: str) -> str:
    return requests.post(f"{hosts.wechat_url}/_emulator/open",
                         json={"body": raw, "query": env["query"]}, timeout=10).json().get(
                             "content", "")


def pushed(hosts: Topology, openid: str) -> list[str]:
    msgs = requests.get(f"{hosts.wechat_url}/_emulator/messages", params={"touser": openid},
                        timeout=10).json()["messages"]
    return [m["body"]["text"]["content"] for m in msgs if m["body"].get("text")]


def channel_events(hosts: Topology, openid: str, event: str) -> list[str]:
    """The web hosts that logged `event` for this citizen (their JSON logs carry the pseudonym)."""
    sender = wechat_users.pseudonym(openid, pseudonym_secret(load_settings()))
    found = []
    for host in hosts.web_names:
        for line in (hosts.workdir / "logs" / f"{host}.log").read_text().splitlines():
            if line.startswith("{") and f'"{sender}"' in line:
                record = json.loads(line)
                if record.get("event") == event and record.get("sender") == sender:
                    found.append(host)
    return found


def say(hosts: Topology, openid: str, text: str, wait: float = 180) -> str:
    """One message through the load balancer, with WeChat's retries; the citizen's answer:
    the passive reply, or (after "success" or the apology) the message pushed later."""
    before = len(pushed(hosts, openid))
    msg_id, passive = new_msg_id(), ""
    for _ in range(WECHAT_TRIES):
        env = envelope(hosts, openid, text, msg_id)
        try:
            resp = requests.post(f"{hosts.lb_url}/wechat/callback", params=env["query"],
                                 data=env["body"].encode(),
                                 headers={"Content-Type": "text/xml"}, timeout=5)
        except requests.RequestException:
            continue
        if resp.status_code < 500:
            passive = opened(hosts, env, resp.text) if resp.text != "success" else ""
            break
    if passive and passive not in (FALLBACK_TEXT, SORRY):
        return passive
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        late = pushed(hosts, openid)[before:]
        answers = [m for m in late if m not in (FALLBACK_TEXT, SORRY)]
        if answers:
            return answers[0]
        time.sleep(1)
    raise AssertionError(f"no answer to {text!r} within {wait:.0f} s (passive {passive!r})")


# ---- WeChat's deliveries on three web hosts --------------------------------------------------


def test_three_deliveries_of_one_message_on_three_web_hosts_are_answered_once(hosts):
    openid, text, msg_id = f"o-3hosts-{uuid.uuid4().hex[:10]}", "失业金怎么领", new_msg_id()
    envs = [envelope(hosts, openid, text, msg_id) for _ in range(3)]

    def deliver(host: str, env: dict) -> str:
        resp = requests.post(f"{hosts.host_url(host)}/wechat/callback", params=env["query"],
                             data=env["body"].encode(), headers={"Content-Type": "text/xml"},
                             timeout=15)
        assert resp.status_code == 200, (host, resp.status_code)
        return opened(hosts, env, resp.text) if resp.text != "success" else ""

    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(deliver, ["web-1", "web-2", "web-3"], envs))
    passive = {reply for reply in replies if reply}

    def answers() -> list[str]:
        return [m for m in (*passive, *pushed(hosts, openid)) if m not in (FALLBACK_TEXT, SORRY)]

    deadline = time.monotonic() + 180  # an answer left to the customer-service API comes later
    while not answers() and time.monotonic() < deadline:
        time.sleep(2)
    time.sleep(10)  # a second answer, if any, would be pushed by now
    assert len(set(answers())) == 1, (replies, pushed(hosts, openid))  # one answer, every host
    assert len(pushed(hosts, openid)) == len(set(pushed(hosts, openid)))  # nothing pushed twice
    # One host processed the message; the two other hosts waited for its answer (the question
    # may reach Rasa twice all the same: a first ask that timed out is asked again by the
    # outbox, which is not a duplicate delivery), and none took it over.
    waiting = channel_events(hosts, openid, "duplicate_delivery")
    assert len(waiting) == len(set(waiting)) == 2, waiting
    assert channel_events(hosts, openid, "delivery_taken_over") == []


# ---- cron on two hosts -----------------------------------------------------------------------


def test_two_cron_schedulers_enqueue_each_period_once(hosts):
    time.sleep(6 * CRON_SECONDS)
    conn = redis.Redis.from_url(hosts.redis_url)
    queue = Queue(DEFAULT, connection=conn)
    ids = {*queue.job_ids, *queue.finished_job_registry.get_job_ids(),
           *queue.failed_job_registry.get_job_ids(), *queue.started_job_registry.get_job_ids()}
    jobs = [j for j in Job.fetch_many(list(ids), connection=conn)
            if j is not None and j.func_name.endswith("watch_rules")]
    assert len(jobs) >= 5, f"only {len(jobs)} watch_rules jobs enqueued"
    times = sorted(j.enqueued_at.timestamp() for j in jobs)
    span = times[-1] - times[0]
    # Two schedulers each due every period: without the per-period claim about twice as many.
    assert len(jobs) <= span / CRON_SECONDS + 2, (len(jobs), span)
    assert all(hosts.roles[f"cron@{h}"].alive() for h in hosts.worker_names)
    lost_claims = sum((hosts.workdir / "logs" / f"cron@{h}.log").read_text()
                      .count("cron_period_already_enqueued") for h in hosts.worker_names)
    assert lost_claims > 0, "the two schedulers never competed for a period"


# ---- host failures and a model switch under load ----------------------------------------------


def kill_worker_mid_push_job(hosts: Topology, wait: float = 90) -> str | None:
    """Freeze the Rasa replica left until worker-1 is in the middle of a push (drain) job,
    then SIGKILL worker-1 (its host dies) and thaw Rasa. The job's id, or None if worker-1
    never took one in time."""
    conn = redis.Redis.from_url(hosts.redis_url)
    started = StartedJobRegistry(queue=Queue(PUSH, connection=conn))
    victim = hosts.roles["worker-1"].popen.pid
    rasa = hosts.roles["rasa-2"].popen.pid
    os.killpg(rasa, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            names = {w.name for w in Worker.all(connection=conn) if w.pid == victim}
            for job in Job.fetch_many(started.get_job_ids(), connection=conn):
                if job is not None and job.worker_name in names:
                    hosts.kill("worker-1")
                    return job.id
            time.sleep(0.2)
        return None
    finally:
        os.killpg(rasa, signal.SIGCONT)


def test_citizens_are_answered_once_while_hosts_die_and_a_model_goes_live(hosts):
    db = Database(hosts.database_url)
    workdir = hosts.workdir / "models"
    workdir.mkdir(exist_ok=True)
    b_id, b_rasa = candidate_model(db, workdir)
    guide_user = f"o-guide-{uuid.uuid4().hex[:10]}"
    first = say(hosts, guide_user, "教我做养老金认证")
    assert "第 1 步" in first, first  # a conversation started before the kills

    traffic = WeChatTraffic(Site(hosts))
    traffic.prepare(36)
    events: dict[str, object] = {}

    def failures() -> None:
        time.sleep(8)
        hosts.kill("web-1")
        time.sleep(8)
        hosts.kill("rasa-1")
        time.sleep(4)
        events["killed_job"] = kill_worker_mid_push_job(hosts)
        with db.session() as s:
            outcome = registry.activate(s, b_id, load_gate_config(OpsSettings().gate_file),
                                        "staff:scaleout")
        events["activated"] = outcome.ok

    thread = threading.Thread(target=failures, daemon=True)
    thread.start()
    traffic.run(rate=0.5)
    thread.join()
    assert events.get("activated") is True
    killed_job = events.get("killed_job")
    assert killed_job, "worker-1 never took a push job to be killed in"
    tally = traffic.tally(settle=240, cap=900)
    print("scale-out tally:", tally.row())

    # The conversation started before the kills goes on after them, on the hosts left.
    assert "第 2 步" in say(hosts, guide_user, "1")

    assert tally.lost == tally.queued == tally.recorded == 0, (tally.row(), tally.lost_openids)
    assert tally.answered + tally.apology_then_answered == tally.asked, tally.row()
    assert tally.duplicated == 0, tally.row()  # no answer pushed twice
    conn = redis.Redis.from_url(hosts.redis_url)
    job = Job.fetch(str(killed_job), connection=conn)
    deadline = time.monotonic() + 300
    while job.get_status(refresh=True) != JobStatus.FINISHED and time.monotonic() < deadline:
        time.sleep(2)  # RQ finds it abandoned once worker-1's heartbeat expires; retried
    assert job.get_status() == JobStatus.FINISHED, job.get_status()  # not lost: done elsewhere

    # rasa-1's host comes back: both replicas end on the model made live during the load.
    hosts.roles["rasa-1"].start()
    deadline = time.monotonic() + 900
    while {hosts.rasa_model(h) for h in hosts.rasa_names} != {b_rasa}:
        assert time.monotonic() < deadline, {h: hosts.rasa_model(h) for h in hosts.rasa_names}
        time.sleep(3)
    db.engine.dispose()
