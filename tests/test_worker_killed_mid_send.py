"""A worker SIGKILLed while WeChat holds a message it has accepted (the emulator delivers it and
holds its answer back): RQ finds the job abandoned and retries it, and the retry sends nothing
twice and loses nothing.

- A late chat answer (drain job, customer-service send): the part in doubt is recorded for
  staff, not resent; the rest of the citizen's outbox still goes, in order.
- A benefit notice (push job, customer-service send): the notice stays claimed, nothing is
  resent, and the push is looked at again once the claim is stale (then the grid worker follows
  up: tests/test_jobs_benefits.py).

Real processes: the RQ worker (the Procfile's command), a private redis-server, SQLite, the
WeChat API emulator. The worker is frozen (SIGSTOP) the moment WeChat has the message and then
killed, so a slow machine cannot let the call time out first; each test checks that the kill
really came while WeChat held the message."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from huimin.benefits.models import SENDING, BenefitNotice
from huimin.benefits.notices import aware
from huimin.benefits.push import STALE_CLAIM
from huimin.platform.db import Database
from huimin.wechat.delivery import SEND, Item, Outbox
from huimin.wechat.models import UndeliveredMessage, WechatUser
from huimin.wechat.undelivered import INTERRUPTED
from huimin.wechat.users import pseudonym
from jobs import benefits as jobs
from jobs.messages import RQDrains
from jobs.queues import PUSH
from scripts.stack import Process, free_port, http_ok, procfile, wait_until
from tests.benefits_fixtures import ELDER, add_resident
from tests.faults import PrivateRedis, kill_tree

SEND_PATH = "/cgi-bin/message/custom/send"
# Abandoned-job detection (the job's heartbeat lapses, jobs.worker: about 65 s) and the retry,
# with room for a loaded machine.
RECOVERY = 300
pytestmark = pytest.mark.timeout(900)


@dataclass
class Rig:
    redis: PrivateRedis
    conn: redis.Redis
    db: Database
    emulator: str
    env: dict[str, str]
    logs: Path
    worker: Process | None = None

    def start_worker(self) -> None:
        self.worker = Process("worker", procfile()["worker"], self.env, self.logs)
        self.worker.start()

    def kill_worker_while_wechat_holds(self, openid: str) -> None:
        """Freeze the worker as soon as WeChat has delivered a message to `openid` (its answer
        still held back), then SIGKILL it, as the kernel's OOM killer would."""
        wait_until(lambda: bool(messages(self.emulator, openid)), 120, "a message at WeChat")
        assert self.worker is not None and self.worker.popen is not None
        kill_tree(self.worker.popen.pid)  # the worker and its work horse
        self.worker.popen.wait()


@pytest.fixture
def rig(tmp_path: Path, sqlite_url: str) -> Iterator[Rig]:
    private = PrivateRedis(tmp_path / "redis")
    private.start()
    port = free_port()
    env = {**os.environ, "EMULATOR_PORT": str(port), "REDIS_URL": private.url,
           "DATABASE_URL": sqlite_url, "WECHAT_API_BASE": f"http://127.0.0.1:{port}",
           "BENEFIT_TEMPLATE_ID": "tmpl-benefit-notice",
           "BENEFIT_QUIET_HOURS": "0-0"}  # tests run at any hour
    emulator = Process("emulator", procfile()["emulator"], env, tmp_path / "logs")
    emulator.start()
    rig = Rig(private, redis.Redis.from_url(private.url), Database(sqlite_url),
              f"http://127.0.0.1:{port}", env, tmp_path / "logs")
    try:
        wait_until(http_ok(rig.emulator + "/_emulator/health"), 60, "emulator")
        yield rig
    finally:
        if rig.worker is not None:
            rig.worker.stop()
        emulator.stop()
        rig.db.engine.dispose()
        private.stop()


def messages(emulator: str, openid: str) -> list[str]:
    found = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                         timeout=10).json()["messages"]
    return [m["body"]["text"]["content"] for m in found]


def wechat_answers_late(emulator: str, seconds: float = 4) -> None:
    """The next customer-service message is delivered at once, WeChat's answer `seconds` later
    (under the WeChat client's 5 s timeout)."""
    requests.post(f"{emulator}/_emulator/faults", json={
        "path": SEND_PATH, "errcode": 0, "delay": seconds, "count": 1},
        timeout=5).raise_for_status()


def interact(emulator: str, openid: str) -> None:
    """The citizen writes to the account: WeChat's 48-hour window opens."""
    requests.post(f"{emulator}/_emulator/envelope",
                  json={"openid": openid, "msg_type": "text", "content": "你好"},
                  timeout=10).raise_for_status()


def test_drain_job_killed_while_wechat_holds_a_part_sends_it_once(rig: Rig):
    openid, sender = "o-kill-drain", "u-kill-drain"
    interact(rig.emulator, openid)
    wechat_answers_late(rig.emulator)
    rig.start_worker()
    parts = [Item(SEND, openid, sender, text, "m-kill") for text in ("第一部分", "第二部分")]
    Outbox(rig.conn).push(sender, parts, RQDrains())

    rig.kill_worker_while_wechat_holds(openid)
    # Killed mid-call: the part is still first in the outbox and marked as being sent.
    head = rig.conn.lindex(Outbox.key(sender), 0)
    assert head is not None and rig.conn.get(Outbox.sending_key(sender)) == head
    assert messages(rig.emulator, openid) == ["第一部分"]

    rig.start_worker()
    wait_until(lambda: rig.conn.llen(Outbox.key(sender)) == 0, RECOVERY,
               "the retried drain job emptying the outbox")
    assert messages(rig.emulator, openid) == ["第一部分", "第二部分"]  # nothing twice
    with rig.db.session() as session:
        rows = session.scalars(select(UndeliveredMessage)).all()
        assert [(r.sender_id, r.text, r.reason) for r in rows] == [
            (sender, "第一部分", INTERRUPTED)]  # staff can see what may not have arrived
    assert rig.conn.get(Outbox.sending_key(sender)) is None


def test_push_job_killed_while_wechat_holds_the_notice_sends_it_once(rig: Rig):
    openid = "o-kill-push"
    resident = add_resident(rig.db, "KILL-PUSH", grid_id="G1", **ELDER)
    with rig.db.session() as s:
        s.add(WechatUser(openid=openid, pseudonym=pseudonym(openid, "k"),
                         resident_id=resident))
    interact(rig.emulator, openid)
    wechat_answers_late(rig.emulator)
    rig.start_worker()
    jobs.enqueue_resident_match(rig.conn, resident, 1)  # matching, then the push

    rig.kill_worker_while_wechat_holds(openid)
    with rig.db.session() as s:
        notice = s.scalars(select(BenefitNotice)).one()
        notice_id, claimed_at = notice.id, aware(notice.push_started_at)
        assert notice.delivery == SENDING  # killed mid-call: the claim is left behind
    started = StartedJobRegistry(queue=Queue(PUSH, connection=rig.conn))
    assert started.get_job_ids() == [f"benefit-push-{notice_id}"]

    rig.start_worker()
    scheduled = ScheduledJobRegistry(queue=Queue(PUSH, connection=rig.conn))
    recheck = f"benefit-push-{notice_id}-{int((claimed_at + STALE_CLAIM).timestamp())}"
    wait_until(lambda: recheck in scheduled.get_job_ids(), RECOVERY,
               "the retried push job scheduling a look once the claim is stale")
    time.sleep(2)  # anything the retry might still send would show by now
    assert len(messages(rig.emulator, openid)) == 1  # nothing twice
    with rig.db.session() as s:
        assert s.get(BenefitNotice, notice_id).delivery == SENDING
