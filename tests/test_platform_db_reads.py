"""`Database.read_one`: reads outside a unit of work on real SQLite and PostgreSQL; they see
committed data only, and a connection the server dropped is replaced by one retry."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from huimin.platform.db import Database
from tests.services import POSTGRES_ADMIN

ROW = text("SELECT external_id FROM residents WHERE id = :id")


def test_reads_see_what_is_committed(db_url: str):
    db = Database(db_url)
    try:
        with db.session() as s:
            s.execute(text("INSERT INTO residents (id, external_id, wechat_channel, "
                           "push_opt_out, facts_version, created_at, updated_at) VALUES "
                           "(1, 'r1', false, false, 1, '2025-01-01', '2025-01-01')"))
            assert db.read_one(ROW, {"id": 1}) is None  # not committed yet
        assert db.read_one(ROW, {"id": 1}) == ("r1",)
        assert db.read_one(ROW, {"id": 2}) is None
    finally:
        db.dispose()


def test_a_dropped_connection_is_replaced_once(postgresql_url: str):
    db = Database(postgresql_url)
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        pid = db.read_one(text("SELECT pg_backend_pid()"), {})[0]
        with admin.connect() as conn:  # the server ends the pooled connection (a restart)
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        again = db.read_one(text("SELECT pg_backend_pid()"), {})[0]
        assert again != pid
    finally:
        admin.dispose()
        db.dispose()
