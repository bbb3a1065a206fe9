"""The audit log on SQLite and PostgreSQL: chaining, tamper detection (SQL edits, deletions,
insertions), the CLI check, masking, retention and concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from huimin.platform.db import Database, utcnow
from huimin.privacy import audit
from tests.api_fixtures import make_api_app


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.engine.dispose()


def write_entries(db: Database, n: int) -> None:
    for i in range(n):
        with db.session() as s:
            audit.record(s, f"staff:{i % 3 + 1}", "resident.view_masked", f"resident:{i}",
                         audit.OK, "10.0.0.1", {"i": i})


def problems(db: Database) -> list[str]:
    with db.session() as s:
        return [str(p) for p in audit.verify_chain(s)]


def sql(db: Database, statement: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement))


def test_entries_are_chained_and_verify(db):
    write_entries(db, 5)
    with db.session() as s:
        entries = s.query(audit.AuditEntry).order_by(audit.AuditEntry.seq).all()
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert problems(db) == []


def test_empty_log_verifies(db):
    assert problems(db) == []


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("UPDATE audit_log SET actor = 'staff:99' WHERE seq = 3", "entry seq 3: content"),
        ("UPDATE audit_log SET result = 'ok', action = 'nothing' WHERE seq = 2",
         "entry seq 2: content"),
        ("UPDATE audit_log SET detail = NULL WHERE seq = 4", "entry seq 4: content"),
        ("DELETE FROM audit_log WHERE seq = 3", "entry seq 4: expected seq 3"),
        ("DELETE FROM audit_log WHERE seq = 5", "audit_head: head says"),
        ("UPDATE audit_log SET seq = seq + 100 WHERE seq = 5", "entry seq 105"),
    ],
)
def test_tampering_with_sql_is_reported(db, statement, expected):
    write_entries(db, 5)
    sql(db, statement)
    found = problems(db)
    assert any(p.startswith(expected) for p in found), found


def test_rewriting_a_row_with_a_fresh_hash_still_breaks_the_chain(db):
    write_entries(db, 4)
    with db.session() as s:
        entry = s.query(audit.AuditEntry).filter_by(seq=2).one()
        entry.actor = "staff:42"
        entry.hash = audit.entry_hash(seq=entry.seq, at=entry.at, actor=entry.actor,
                                      action=entry.action, target=entry.target,
                                      result=entry.result, ip=entry.ip, detail=entry.detail,
                                      prev_hash=entry.prev_hash)
    assert any(p.startswith("entry seq 3: prev_hash") for p in problems(db))


def test_details_are_masked(db):
    with db.session() as s:
        entry = audit.record(s, "staff:1", "note", "resident:1", audit.OK,
                             detail={"text": "电话13812345678 身份证340104199001011234"})
        assert entry.detail == {"text": "电话138****5678 身份证3401**********1234"}
    assert problems(db) == []


def test_purge_keeps_the_retention_period_and_the_chain(db):
    write_entries(db, 6)
    with db.session() as s, pytest.raises(ValueError, match="at least 183 days"):
        audit.purge_older_than(s, 30)
    # Backdate the first four entries by a year (their stored hashes no longer match: the
    # purge removes them, and what remains must still verify).
    old = (utcnow() - timedelta(days=400)).strftime("%Y-%m-%d %H:%M:%S")
    sql(db, f"UPDATE audit_log SET at = '{old}' WHERE seq <= 4")
    with db.session() as s:
        assert audit.purge_older_than(s, 365) == 4
    with db.session() as s:
        assert [e.seq for e in s.query(audit.AuditEntry).order_by(audit.AuditEntry.seq)] == [5, 6]
    assert problems(db) == []
    write_entries(db, 1)
    assert problems(db) == []


def test_concurrent_writers_do_not_fork_the_chain(db):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                with db.session() as s:
                    audit.record(s, f"staff:{n}", "x", f"resident:{i}", audit.OK)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        assert audit.count(s) == 32
    assert problems(db) == []


def test_cli_verify(db_url, redis_url, redis_conn):
    app = make_api_app(db_url, redis_url, "http://127.0.0.1:9")
    runner = app.test_cli_runner()
    db = Database(db_url)
    write_entries(db, 3)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "3 entries verified" in result.output
    sql(db, "UPDATE audit_log SET target = 'resident:0' WHERE seq = 2")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "TAMPERED entry seq 2: content does not match its hash" in result.output
    result = runner.invoke(args=["audit", "purge", "--older-than-days", "10"])
    assert result.exit_code == 1 and "at least 183 days" in result.output
    db.engine.dispose()
