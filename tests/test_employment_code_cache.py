"""Public scans served from cached verdicts (huimin.employment_code.cache), through the HTTP
endpoint with real Redis: a code is cached when issued, a miss reads the database and fills
the cache, a hit reads no database and still logs the scan with its code and holder, and
every write that changes a verdict (revocation, a facts change, a deleted code) is seen by
the very next scan. Redis down: the database path."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from huimin.employment_code import cache, scan_log, store
from huimin.platform.db import Database
from huimin.platform.ratelimit import WindowLimit
from huimin.residents.models import Resident
from tests.faults import PrivateRedis
from tests.test_employment_code_api import (
    REVOKE,
    VERIFY,
    add_citizen,
    issue,
    key_dir,  # noqa: F401 - autouse fixture: this module's signing key
    verify,
)
from webapp.extensions import services


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every SELECT the public scan path runs outside a unit of work."""
    seen: list[object] = []
    original = Database.read_one

    def counting(self, statement, params):
        seen.append(statement)
        return original(self, statement, params)

    monkeypatch.setattr(Database, "read_one", counting)
    return seen


def logged(app, redis_conn, resident_id: int) -> list[tuple[str, str, int | None]]:
    with app.app_context():
        scan_log.flush(services().db, redis_conn)
        with services().db.session() as s:
            rows = s.scalars(select(store.ScanRecord).where(
                store.ScanRecord.resident_id == resident_id).order_by(store.ScanRecord.id))
            return [(r.reason, r.detail, r.code_id) for r in rows]


def test_an_issued_code_is_cached_and_its_scans_read_no_database(client, app, redis_conn,
                                                                  reads):
    citizen = add_citizen(app, employment_status="unemployed")
    body = issue(client, citizen)
    [key] = redis_conn.keys(f"{cache.PREFIX}:*")
    entry = redis_conn.hgetall(key)
    assert entry[b"rid"] == str(citizen["resident_id"]).encode() and entry[b"x"] == b""
    assert entry[b"day"] == date.today().isoformat().encode()
    assert 0 < redis_conn.ttl(key) <= 60
    for _ in range(3):
        assert verify(client, body["code"])["valid"] is True
    assert reads == []  # three hits
    rows = logged(app, redis_conn, citizen["resident_id"])
    assert len(rows) == 3 and {r[:2] for r in rows} == {("ok", "ok")}
    assert len({r[2] for r in rows}) == 1 and rows[0][2] is not None  # all with the code


def test_a_miss_reads_the_database_and_fills_the_cache(client, app, redis_conn, reads):
    citizen = add_citizen(app, employment_status="unemployed")
    body = issue(client, citizen)
    [key] = redis_conn.keys(f"{cache.PREFIX}:*")
    filled = redis_conn.hgetall(key)
    redis_conn.delete(key)  # expired, or evicted
    assert verify(client, body["code"])["valid"] is True and len(reads) == 1
    refilled = redis_conn.hgetall(key)
    assert {k: refilled[k] for k in (b"sub", b"cid", b"rid", b"x", b"day")} == {
        k: filled[k] for k in (b"sub", b"cid", b"rid", b"x", b"day")}
    assert verify(client, body["code"])["valid"] is True and len(reads) == 1
    assert len(logged(app, redis_conn, citizen["resident_id"])) == 2


def test_an_issue_that_revokes_others_is_not_cached_but_still_right(client, app, redis_conn):
    citizen = add_citizen(app, employment_status="unemployed")
    old = issue(client, citizen)["code"]
    with app.app_context(), services().db.session() as s:
        s.get(Resident, citizen["resident_id"]).employment_status = "employed"
    new = issue(client, citizen)["code"]  # revokes `old` (another status)
    assert verify(client, new)["status"] is None  # employed is shown to verifiers only
    assert verify(client, new)["valid"] is True
    assert verify(client, old)["reason"] == "revoked"


def test_revocation_is_seen_by_the_next_scan_after_hits(client, app, redis_conn, reads):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(2):
        assert verify(client, code)["valid"] is True  # hits (cached at issue)
    assert reads == []
    assert client.post(REVOKE, headers=citizen["headers"]).get_json() == {"revoked": 1}
    for _ in range(2):
        answer = verify(client, code)  # a miss (the holder changed), then a cached refusal
        assert (answer["valid"], answer["reason"], answer["status"]) == (False, "revoked", None)
    assert len(reads) == 1
    assert [r[:2] for r in logged(app, redis_conn, citizen["resident_id"])] == [
        ("ok", "ok"), ("ok", "ok"),
        ("revoked", "revoked_holder_request"), ("revoked", "revoked_holder_request")]


def test_a_facts_change_is_seen_by_the_next_scan(client, app, redis_conn):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(2):
        assert verify(client, code)["valid"] is True
    with app.app_context(), services().db.session() as s:
        s.get(Resident, citizen["resident_id"]).employment_status = "employed"
    answer = verify(client, code)
    assert (answer["valid"], answer["reason"]) == (False, "revoked")
    assert logged(app, redis_conn, citizen["resident_id"])[-1][:2] == (
        "revoked", "revoked_status_change")


def test_a_change_not_about_facts_keeps_the_cache(client, app, redis_conn, reads):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    verify(client, code)
    with app.app_context(), services().db.session() as s:
        s.get(Resident, citizen["resident_id"]).push_opt_out = True
    assert verify(client, code)["valid"] is True and reads == []


def test_a_deleted_code_is_seen_by_the_next_scan(client, app, redis_conn):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(2):
        verify(client, code)
    with app.app_context(), services().db.session() as s:
        for record in s.scalars(select(store.IssuedCodeRecord)):
            s.delete(record)
    assert verify(client, code)["reason"] == "revoked"  # unknown_code: not ours any more


def test_a_fill_racing_with_a_change_is_dropped(redis_conn):
    verdicts = cache.VerdictCache(60)
    limit = WindowLimit("t", "100/minute")
    found = verdicts.lookup(redis_conn, limit, "ip:t", jti="j1", sub="s", today=date.today(),
                            in_time=True, scan='{"v":1}')
    assert isinstance(found, str)  # a miss: the token
    cache.mark_holders(redis_conn, {7})  # the holder changed while the database was read
    verdicts.fill(redis_conn, found, jti="j1", sub="s", today=date.today(),
                  verdict=cache.Verdict(1, 7, ""), append=("t:stream", {"v": "{}"}))
    assert not redis_conn.exists(f"{cache.PREFIX}:j1") and redis_conn.xlen("t:stream") == 1
    found = verdicts.lookup(redis_conn, limit, "ip:t", jti="j1", sub="s", today=date.today(),
                            in_time=True, scan='{"v":1}')
    verdicts.fill(redis_conn, found, jti="j1", sub="s", today=date.today(),
                  verdict=cache.Verdict(1, 7, ""), append=("t:stream", {"v": "{}"}))
    hit = verdicts.lookup(redis_conn, limit, "ip:t", jti="j1", sub="s", today=date.today(),
                          in_time=True, scan='{"v":1}')
    assert hit == cache.Verdict(1, 7, "")
    # Another day, or another subject for that jti: a miss.
    for day, sub in ((date.today() + timedelta(days=1), "s"), (date.today(), "other")):
        assert isinstance(verdicts.lookup(redis_conn, limit, "ip:t", jti="j1", sub=sub,
                                          today=day, in_time=True, scan="{}"), str)


def test_redis_down_takes_the_database_path(client, app, sqlite_url, tmp_path: Path,
                                             redis_conn, reads):
    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    verify(client, code)  # cached in the Redis that goes away below
    client.post(REVOKE, headers=citizen["headers"])
    dead = PrivateRedis(tmp_path / "redis")
    dead.start()
    dead.stop()
    from webapp import create_app

    down = create_app({"database_url": sqlite_url, "redis_url": dead.url}).test_client()
    answer = down.post(VERIFY, json={"code": code}).get_json()
    assert answer["reason"] == "revoked" and len(reads) == 1
    assert sorted(r[:2] for r in logged(app, redis_conn, citizen["resident_id"])) == [
        ("ok", "ok"), ("revoked", "revoked_holder_request")]  # written directly, then flushed


def test_the_cache_can_be_turned_off(sqlite_url, redis_url, redis_conn, monkeypatch, reads):
    monkeypatch.setenv("EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS", "0")
    from webapp import create_app

    off = create_app({"database_url": sqlite_url, "redis_url": redis_url})
    client = off.test_client()
    citizen = add_citizen(off, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    for _ in range(2):
        assert verify(client, code)["valid"] is True
    assert len(reads) == 2 and not redis_conn.keys(f"{cache.PREFIX}:*")
    assert len(logged(off, redis_conn, citizen["resident_id"])) == 2


def test_many_holders_are_marked_in_chunks(redis_conn, monkeypatch):
    monkeypatch.setattr(cache, "_MARK_CHUNK", 3)
    cache.mark_holders(redis_conn, set(range(10)))
    assert len(redis_conn.keys(f"{cache.HOLDER_PREFIX}*")) == 10


def test_an_import_that_changes_facts_is_seen_by_the_next_scan(client, app, redis_conn,
                                                                 tmp_path: Path):
    from huimin.residents.importer import import_residents

    citizen = add_citizen(app, employment_status="unemployed")
    code = issue(client, citizen)["code"]
    assert verify(client, code)["valid"] is True
    with app.app_context(), services().db.session() as s:
        external_id = s.get(Resident, citizen["resident_id"]).external_id
    path = tmp_path / "facts.csv"
    path.write_text(f"external_id,employment_status\n{external_id},employed\n")
    with app.app_context():
        report = import_residents(services().db, path, None)
    assert not report.problems
    assert verify(client, code)["reason"] == "revoked"
