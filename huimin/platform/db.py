"""Database engine, session factory and the declarative base shared by all models."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import Executable

# Deterministic constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    return datetime.now(UTC)


PG_CONNECT_TIMEOUT = 3  # seconds
PG_POOL_TIMEOUT = 5  # seconds to wait for a free pooled connection


def make_engine(url: str, *, reads: bool = False) -> Engine:
    """The engine for `url`. `reads`: an AUTOCOMMIT engine without pre-ping, for
    `Database.read_one` (which retries a read that met a dropped connection instead)."""
    kwargs: dict = {"future": True, "pool_pre_ping": not reads}
    if reads:
        kwargs["isolation_level"] = "AUTOCOMMIT"
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif url.startswith("postgresql"):
        # A database that is down or unreachable fails fast instead of hanging each caller;
        # pool_pre_ping replaces connections the server terminated (a restart, a failover).
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT}
        kwargs["pool_timeout"] = PG_POOL_TIMEOUT
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the web, worker and action server read while one of them writes.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Database:
    """One engine and session factory per process, built from a URL."""

    def __init__(self, url: str, *, session_info: Mapping[str, Any] | None = None) -> None:
        """`session_info`: put in every session's `info`, e.g. the runtime's Redis client
        for after-commit hooks (huimin.employment_code.cache)."""
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(
            self.engine, expire_on_commit=False, info=dict(session_info or {}))
        self._reads = make_engine(url, reads=True)  # connects on first use only

    def read_one(self, statement: Executable, params: Mapping[str, Any]) -> Row[Any] | None:
        """The first row of one read-only statement, outside any unit of work: for hot
        public reads (an employment-code scan), where a session's BEGIN, COMMIT, isolation
        reset and pre-ping cost more than the SELECT (on PostgreSQL, three extra round
        trips). It sees only committed data. A connection the server dropped (a restart)
        fails the read, which invalidates the pool's old connections and is retried once on
        a fresh one: safe, since it only reads."""
        try:
            return self._read_one(statement, params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return self._read_one(statement, params)

    def _read_one(self, statement: Executable, params: Mapping[str, Any]) -> Row[Any] | None:
        with self._reads.connect() as conn:
            return conn.execute(statement, params).first()

    def dispose(self) -> None:
        """Close every pooled connection (both engines)."""
        self.engine.dispose()
        self._reads.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()
