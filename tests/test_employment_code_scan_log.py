"""The scan log through the Redis stream: every public scan reaches the database, with the
worker down and then up, with the database failing mid-flush, and with Redis down (then
the scan is written directly). A revocation ends the code's cached verdict, so it is seen
at once (tests/test_employment_code_cache.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import SimpleWorker
from sqlalchemy import func, select

from huimin.employment_code import scan_log, store
from huimin.platform.db import Database, utcnow
from huimin.residents.models import Resident
from jobs.queues import DEFAULT, enqueue
from tests.faults import PrivateRedis
from tests.test_employment_code_api import (
    REVOKE,
    SCANS,
    VERIFY,
    add_citizen,
    add_staff,
    issue,
    key_dir,  # noqa: F401 - autouse fixture: this module's signing key
    verify,
)
from webapp.extensions import services


def scans_in_db(app, resident_id: int | None = None) -> int:
    with app.app_context(), services().db.session() as s:
        query = select(func.count()).select_from(store.ScanRecord)
        if resident_id is not None:
            query = query.where(store.ScanRecord.resident_id == resident_id)
        return s.scalar(query)


def test_public_scans_are_queued_and_the_holder_still_sees_every_one(client, app, redis_conn):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(3):
        assert verify(client, code)["valid"] is True
    verify(client, "not-a-code")
    assert scans_in_db(app) == 0 and scan_log.pending(redis_conn) == 4
    page = client.get(SCANS, headers=citizen["headers"]).get_json()
    assert page["total"] == 3
    assert {(i["verifier_kind"], i["result"]) for i in page["items"]} == {("public", "ok")}
    assert scan_log.pending(redis_conn) == 0 and scans_in_db(app) == 4


def test_staff_scans_are_written_at_once_for_the_audit(client, app, redis_conn):
    citizen = add_citizen(app, employment_status="employed")
    employer = add_staff(app, "hr_direct", ["verifier"])
    verify(client, issue(client, citizen)["code"], employer["headers"])
    assert scans_in_db(app, citizen["resident_id"]) == 1 and scan_log.pending(redis_conn) == 0


def test_scans_wait_for_the_worker_and_none_is_lost(
    client, app, redis_conn, sqlite_url, redis_url, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)  # the job builds its runtime from env
    monkeypatch.setenv("REDIS_URL", redis_url)
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(25):
        verify(client, code)
    # The worker is down: the flush job waits in its queue and the stream keeps the scans.
    job = enqueue(redis_conn, DEFAULT, "jobs.employment_code.flush_scans")
    assert scan_log.pending(redis_conn) == 25 and scans_in_db(app) == 0
    for _ in range(5):
        verify(client, code)
    # The worker comes up and writes everything, in batches.
    monkeypatch.setattr(scan_log, "BATCH", 7)
    SimpleWorker([DEFAULT], connection=redis_conn).work(burst=True)
    assert job.get_status(refresh=True) == "finished" and job.return_value() == 30
    assert scans_in_db(app, citizen["resident_id"]) == 30 and scan_log.pending(redis_conn) == 0


def test_a_flush_that_fails_keeps_the_scans_for_the_next(client, app, redis_conn, tmp_path: Path):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(4):
        verify(client, code)
    broken = Database(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    with pytest.raises(Exception, match="unable to open database file"):
        scan_log.flush(broken, redis_conn)
    assert scan_log.pending(redis_conn) == 4 and scans_in_db(app) == 0
    with app.app_context():
        assert scan_log.flush(services().db, redis_conn) == 4  # the lock was released
    assert scans_in_db(app, citizen["resident_id"]) == 4 and scan_log.pending(redis_conn) == 0


def test_only_one_flusher_writes_at_a_time(client, app, redis_conn):
    verify(client, "not-a-code")
    redis_conn.set(scan_log.LOCK, "another-flusher", px=5000)
    with app.app_context():
        assert scan_log.flush(services().db, redis_conn) == 0
        assert scan_log.pending(redis_conn) == 1
        redis_conn.delete(scan_log.LOCK)
        assert scan_log.flush(services().db, redis_conn) == 1


def test_queued_scans_follow_the_deletes_made_meanwhile(client, app, redis_conn):
    gone = add_citizen(app, employment_status="unemployed")
    kept = add_citizen(app, employment_status="employed")
    verify(client, issue(client, gone)["code"])
    verify(client, issue(client, kept)["code"])
    with app.app_context(), services().db.session() as s:
        s.delete(s.get(Resident, gone["resident_id"]))  # its scans go (ON DELETE CASCADE)
        for record in s.scalars(select(store.IssuedCodeRecord).where(
                store.IssuedCodeRecord.resident_id == kept["resident_id"])):
            s.delete(record)  # the scan stays, without its code (ON DELETE SET NULL)
    with app.app_context():
        assert scan_log.flush(services().db, redis_conn) == 2
    with app.app_context(), services().db.session() as s:
        [scan] = s.scalars(select(store.ScanRecord)).all()
        assert scan.resident_id == kept["resident_id"] and scan.code_id is None


def test_redis_down_writes_the_scan_directly(app, tmp_path: Path):
    dead = PrivateRedis(tmp_path / "redis")
    dead.start()
    conn = redis.Redis.from_url(dead.url, socket_timeout=1)
    dead.stop()
    with app.app_context(), services().db.session() as s:
        scan = store.Scan(scanned_at=utcnow(), code_id=None, resident_id=None,
                          reason="malformed", detail="bad", verifier_kind="public")
        assert scan_log.record(s, conn, scan) is False and scan.id is not None
    assert scans_in_db(app) == 1


def test_redis_down_the_endpoint_answers_logs_to_the_database_and_still_limits(
    client, app, sqlite_url, tmp_path: Path, monkeypatch
):
    citizen = add_citizen(app, employment_status="unemployed")
    ended = issue(client, citizen)["code"]
    other = issue(client, add_citizen(app, employment_status="employed"))["code"]
    client.post(REVOKE, headers=citizen["headers"])  # ends `ended`
    live = issue(client, citizen)["code"]
    dead = PrivateRedis(tmp_path / "redis")
    dead.start()
    dead.stop()
    from webapp import create_app

    monkeypatch.setenv("EMPLOYMENT_CODE_VERIFY_RATE_LIMIT", "3/minute")
    down = create_app({"database_url": sqlite_url, "redis_url": dead.url}).test_client()
    answers = [down.post(VERIFY, json={"code": c}) for c in (live, ended, other)]
    assert [(a.status_code, a.get_json()["reason"]) for a in answers] == [
        (200, "ok"), (200, "revoked"), (200, "ok")]
    assert scans_in_db(app, citizen["resident_id"]) == 2  # written directly, no stream
    assert scans_in_db(app) == 3
    over = down.post(VERIFY, json={"code": live})  # the limit, counted in the process
    assert over.status_code == 429 and over.get_json()["error"]["code"] == "rate_limited"
    assert scans_in_db(app) == 3


def test_revocation_is_seen_by_the_next_scan(client, app):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    assert verify(client, code)["valid"] is True
    client.post(REVOKE, headers=citizen["headers"])
    assert verify(client, code)["reason"] == "revoked"
    with app.app_context(), services().db.session() as s:
        s.get(Resident, citizen["resident_id"]).employment_status = "employed"
    fresh = issue(client, citizen)["code"]
    with app.app_context(), services().db.session() as s:
        s.get(Resident, citizen["resident_id"]).employment_status = "unemployed"
    assert verify(client, fresh)["reason"] == "revoked"  # facts changed: status stale
