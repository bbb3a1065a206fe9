"""Matching and push jobs with the real RQ worker code, pushing through the real WeChat API
emulator: channel choice, 43101 fallback, opt-out, rate limits, retries that never duplicate,
rule-change and fact-change triggers, the cron schedule."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from huimin.benefits.models import (
    GRID_WORKER,
    MATCHED,
    MINIAPP,
    NOTIFIED,
    OFFICIAL_ACCOUNT,
    QUEUED,
    SENDING,
    WITHHELD,
    BenefitNotice,
)
from huimin.benefits.push import STALE_CLAIM
from huimin.platform.db import Database, utcnow
from huimin.privacy import consent
from huimin.residents.models import Resident
from huimin.wechat.models import WechatUser
from huimin.wechat.users import pseudonym
from jobs import benefits as jobs
from jobs.queues import DEFAULT, PUSH, enqueue
from tests.benefits_fixtures import ELDER, ELDERLY_V2, add_resident, copy_rules

TEMPLATE = "tmpl-benefit-notice"
MINI_APPID = "wx0000000000mini"


@pytest.fixture
def db(sqlite_url, redis_url, emulator, monkeypatch) -> Database:
    """The environment a worker process would have: database, Redis, WeChat emulator."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WECHAT_API_BASE", emulator)
    monkeypatch.setenv("BENEFIT_TEMPLATE_ID", TEMPLATE)
    monkeypatch.setenv("BENEFIT_QUIET_HOURS", "0-0")  # tests run at any hour
    database = Database(sqlite_url)
    yield database
    database.engine.dispose()


def emu(emulator: str, openid: str, **changes) -> None:
    requests.post(f"{emulator}/_emulator/users/{openid}", json=changes,
                  timeout=5).raise_for_status()


def messages(emulator: str, touser: str | None = None) -> list[dict]:
    resp = requests.get(f"{emulator}/_emulator/messages", params={"touser": touser or ""},
                        timeout=5)
    return resp.json()["messages"]


def work(redis_conn) -> None:
    SimpleWorker([PUSH, DEFAULT], connection=redis_conn).work(burst=True)


def follower(db: Database, openid: str, resident_id: int) -> None:
    with db.session() as s:
        s.add(WechatUser(openid=openid, pseudonym=pseudonym(openid, "k"), resident_id=resident_id))


def notice_of(db: Database, resident_id: int) -> BenefitNotice:
    with db.session() as s:
        return s.scalars(select(BenefitNotice).where(BenefitNotice.resident_id == resident_id)
                         ).one()


def test_match_job_pushes_through_each_channel_and_respects_opt_out(db, emulator, redis_conn):
    mini = add_resident(db, "MINI", openid="mini-a", **ELDER)
    emu(emulator, "mini-a", appid=MINI_APPID, accept=[TEMPLATE])
    oa = add_resident(db, "OA", **ELDER)
    follower(db, "oa-b", oa)
    emu(emulator, "oa-b", last_interaction=time.time())
    refused = add_resident(db, "REFUSED", openid="mini-c", grid_id="G1", **ELDER)
    emu(emulator, "mini-c", appid=MINI_APPID)  # never tapped "allow": 43101
    offline = add_resident(db, "OFFLINE", grid_id="G2", **ELDER)
    opted = add_resident(db, "OPTED", openid="mini-e", push_opt_out=True, **ELDER)
    emu(emulator, "mini-e", appid=MINI_APPID, accept=[TEMPLATE])
    withdrew = add_resident(db, "WITHDREW", openid="mini-f", **ELDER)
    emu(emulator, "mini-f", appid=MINI_APPID, accept=[TEMPLATE])
    with db.session() as s:
        consent.grant(s, withdrew, consent.BENEFIT_PUSH, "miniapp")
        consent.withdraw(s, withdrew, consent.BENEFIT_PUSH)

    jobs.enqueue_policy_match(redis_conn, "elderly_allowance", "test")
    work(redis_conn)

    [sub] = messages(emulator, "mini-a")
    assert sub["kind"] == "subscribe" and sub["body"]["template_id"] == TEMPLATE
    data = sub["body"]["data"]
    assert data["thing1"]["value"] == "高龄津贴"  # the catalogue's title
    assert data["thing2"]["value"] == "100元/月"  # the rule's amount for ages 80-89
    assert sub["body"]["page"].endswith(f"?id={notice_of(db, mini).id}")
    [text] = messages(emulator, "oa-b")
    assert text["kind"] == "custom" and "高龄津贴" in text["body"]["text"]["content"]
    assert messages(emulator, "mini-c") == messages(emulator, "mini-e") == []
    assert messages(emulator, "mini-f") == []

    assert (notice_of(db, mini).status, notice_of(db, mini).delivery) == (NOTIFIED, MINIAPP)
    assert notice_of(db, oa).delivery == OFFICIAL_ACCOUNT
    n = notice_of(db, refused)
    assert (n.status, n.delivery) == (MATCHED, GRID_WORKER) and "43101" in n.push_note
    assert notice_of(db, offline).delivery == GRID_WORKER
    assert notice_of(db, offline).push_note == "no WeChat channel"
    assert notice_of(db, opted).delivery == WITHHELD
    assert notice_of(db, withdrew).delivery == WITHHELD


def test_subscribe_refused_falls_back_to_customer_service(db, emulator, redis_conn):
    rid = add_resident(db, "BOTH", openid="mini-g", **ELDER)
    emu(emulator, "mini-g", appid=MINI_APPID)  # not subscribed
    follower(db, "oa-g", rid)
    emu(emulator, "oa-g", last_interaction=time.time())
    jobs.enqueue_resident_match(redis_conn, rid, 1)
    work(redis_conn)
    n = notice_of(db, rid)
    assert (n.status, n.delivery) == (NOTIFIED, OFFICIAL_ACCOUNT)
    assert "43101" in n.push_note
    assert len(messages(emulator, "oa-g")) == 1


def test_window_passed_goes_to_the_grid_worker(db, emulator, redis_conn):
    rid = add_resident(db, "LATE", grid_id="G9", **ELDER)
    follower(db, "oa-h", rid)
    emu(emulator, "oa-h", last_interaction=time.time() - 3 * 86400)  # 45015
    jobs.enqueue_resident_match(redis_conn, rid, 1)
    work(redis_conn)
    n = notice_of(db, rid)
    assert n.delivery == GRID_WORKER and "45015" in n.push_note
    assert messages(emulator, "oa-h") == []


def _requeue_scheduled(redis_conn) -> None:
    """Run RQ's backoff retries now instead of in 10 seconds."""
    queue = Queue(PUSH, connection=redis_conn)
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_job_ids():
        registry.remove(job_id)
        queue.enqueue_job(Job.fetch(job_id, connection=redis_conn))


def test_transient_failure_is_retried_and_never_duplicated(db, emulator, redis_conn):
    rid = add_resident(db, "RETRY", openid="mini-r", **ELDER)
    emu(emulator, "mini-r", appid=MINI_APPID, accept=[TEMPLATE, TEMPLATE])
    requests.post(f"{emulator}/_emulator/faults", json={
        "path": "/cgi-bin/message/subscribe/send", "errcode": -1, "count": 1}, timeout=5)
    jobs.enqueue_resident_match(redis_conn, rid, 1)
    work(redis_conn)
    notice = notice_of(db, rid)
    assert (notice.status, notice.delivery) == (MATCHED, QUEUED)  # claim released
    assert "-1" in notice.push_note and messages(emulator, "mini-r") == []
    job = Job.fetch(f"benefit-push-{notice.id}", connection=redis_conn)
    assert job.get_status() == "scheduled" and job.retries_left == 3

    _requeue_scheduled(redis_conn)
    work(redis_conn)
    assert len(messages(emulator, "mini-r")) == 1
    assert notice_of(db, rid).status == NOTIFIED

    # The same push run again (a retry after a lost acknowledgement, a second dispatch):
    # the notice is delivered, so nothing is sent although a subscription is still left.
    enqueue(redis_conn, PUSH, jobs.push_notice, notice.id, job_id="again")
    work(redis_conn)
    assert Job.fetch("again", connection=redis_conn).return_value().startswith("skipped")
    assert len(messages(emulator, "mini-r")) == 1
    assert jobs.dispatch_pushes(redis_conn, db) == 0


def test_a_claimed_notice_is_not_sent_twice(db, emulator, redis_conn):
    rid = add_resident(db, "CLAIM", openid="mini-s", grid_id="G1", **ELDER)
    emu(emulator, "mini-s", appid=MINI_APPID, accept=[TEMPLATE])
    jobs.match_residents([rid])  # notices created, pushes queued (not run yet)
    claimed_at = utcnow()
    with db.session() as s:
        notice = s.scalars(select(BenefitNotice)).one()
        notice.delivery, notice.push_started_at = SENDING, claimed_at  # another worker sends
    work(redis_conn)
    assert messages(emulator, "mini-s") == [] and notice_of(db, rid).delivery == SENDING
    # Looked at again once the claim is stale (should that worker have died mid-call).
    [later] = ScheduledJobRegistry(queue=Queue(PUSH, connection=redis_conn)).get_job_ids()
    assert later.startswith(f"benefit-push-{notice.id}-")
    assert int(later.rsplit("-", 1)[1]) == int((claimed_at + STALE_CLAIM).timestamp())

    with db.session() as s:  # that worker died mid-call: the outcome is unknown
        s.get(BenefitNotice, notice.id).push_started_at = utcnow() - timedelta(minutes=11)
    jobs.push_notice(notice.id)
    n = notice_of(db, rid)
    assert messages(emulator, "mini-s") == []
    assert n.delivery == GRID_WORKER and "not resent" in n.push_note


def test_per_resident_limit_defers_to_a_scheduled_push(db, emulator, redis_conn, monkeypatch):
    monkeypatch.setenv("BENEFIT_PUSHES_PER_RESIDENT_PER_DAY", "1")
    rid = add_resident(db, "TWO", openid="mini-t", resident_pension_insured=True,
                       pension_contribution_years=20, receiving_pension=False, **ELDER)
    emu(emulator, "mini-t", appid=MINI_APPID, accept=[TEMPLATE, TEMPLATE])
    jobs.enqueue_resident_match(redis_conn, rid, 1)
    work(redis_conn)
    with db.session() as s:
        found = list(s.scalars(select(BenefitNotice).order_by(BenefitNotice.id)))
    assert sorted(n.policy for n in found) == ["elderly_allowance", "residents_basic_pension"]
    assert len(messages(emulator, "mini-t")) == 1
    [sent] = [n for n in found if n.status == NOTIFIED]
    [waiting] = [n for n in found if n.status == MATCHED]
    assert waiting.delivery == QUEUED
    scheduled = ScheduledJobRegistry(queue=Queue(PUSH, connection=redis_conn)).get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith(f"benefit-push-{waiting.id}-")
    at = datetime.fromtimestamp(int(scheduled[0].rsplit("-", 1)[1]), ZoneInfo("Asia/Shanghai"))
    # The next local day, from the end of the quiet hours (none in these tests: midnight).
    assert at.hour == 0 and at.date() > datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert sent.id != waiting.id


def test_fact_change_matches_that_resident_only(db, emulator, redis_conn):
    changed = add_resident(db, "CHANGED", birth_date=date(1940, 3, 1))
    other = add_resident(db, "OTHER", **ELDER)
    with db.session() as s:
        resident = s.get(Resident, changed)
        resident.local_hukou = True
        resident.facts_version = 2
    job = jobs.enqueue_resident_match(redis_conn, changed, 2)
    assert jobs.enqueue_resident_match(redis_conn, changed, 2).id == job.id  # queued once
    work(redis_conn)
    with db.session() as s:
        owners = set(s.scalars(select(BenefitNotice.resident_id)))
    assert owners == {changed} and other not in owners


def test_watch_rules_queues_a_policy_when_its_rule_changes(db, redis_conn, tmp_path,
                                                           monkeypatch):
    rules_dir = copy_rules(tmp_path)
    monkeypatch.setenv("RULES_DIR", str(rules_dir))
    first = jobs.watch_rules()
    assert "elderly_allowance" in first and len(first) == 8  # first run: every policy
    assert jobs.watch_rules() == []
    (rules_dir / "elderly_allowance.yml").write_text(ELDERLY_V2, encoding="utf-8")  # v2 today
    assert jobs.watch_rules() == ["elderly_allowance"]
    ids = Queue(DEFAULT, connection=redis_conn).get_job_ids()
    assert sum(i.startswith("benefits-match-elderly_allowance-v2-") for i in ids) == 1


def test_nightly_expires_matches_and_pushes(db, emulator, redis_conn):
    rid = add_resident(db, "NIGHT", openid="mini-n", **ELDER)
    emu(emulator, "mini-n", appid=MINI_APPID, accept=[TEMPLATE])
    result = jobs.nightly()
    assert result["created"] >= 1 and result["pushes_queued"] == result["created"]
    work(redis_conn)
    assert notice_of(db, rid).status == NOTIFIED
    with db.session() as s:
        s.get(BenefitNotice, notice_of(db, rid).id).expires_at = utcnow() - timedelta(days=1)
    assert jobs.nightly()["expired"] == 1


def test_cron_config_schedules_nightly_matching_and_rule_watching(redis_conn):
    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file("jobs.cron")
    registered = {job.func_name: job for job in scheduler.get_jobs()}
    nightly = registered["jobs.benefits.nightly"]
    assert nightly.cron == "30 18 * * *"  # 02:30 in Beijing and nightly.queue_name == DEFAULT
    assert registered["jobs.benefits.watch_rules"].interval == 300


def test_a_push_whose_answer_timed_out_is_not_resent(db, emulator, redis_conn):
    """WeChat sends the subscribe message but answers after the client's 5 s read timeout:
    the resident may have it, so no channel is tried again and nothing is retried; the grid
    worker checks with the resident instead."""
    rid = add_resident(db, "LATE", openid="mini-l", grid_id="G1", **ELDER)
    emu(emulator, "mini-l", appid=MINI_APPID, accept=[TEMPLATE, TEMPLATE])
    emu(emulator, "oa-l", last_interaction=time.time())
    follower(db, "oa-l", rid)
    requests.post(f"{emulator}/_emulator/faults", json={
        "path": "/cgi-bin/message/subscribe/send", "errcode": 0, "delay": 7, "count": 1},
        timeout=5).raise_for_status()
    jobs.enqueue_resident_match(redis_conn, rid, 1)
    work(redis_conn)
    notice = notice_of(db, rid)
    assert len(messages(emulator, "mini-l")) == 1  # WeChat did deliver it
    assert messages(emulator, "oa-l") == []  # no second channel
    assert (notice.status, notice.delivery) == (MATCHED, GRID_WORKER)
    assert "timed out" in notice.push_note and "not resent" in notice.push_note
    _requeue_scheduled(redis_conn)  # nothing was scheduled to try again
    work(redis_conn)
    assert len(messages(emulator, "mini-l")) == 1
