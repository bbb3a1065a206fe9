"""Real backing services for tests: a Redis database number and databases of their own.

Several test runs may share this machine (developers and CI), so each run claims a free Redis
database number and creates uniquely named PostgreSQL databases, and cleans up afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse

import redis
from sqlalchemy import create_engine, text

REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def claimed_redis_db() -> Iterator[str]:
    """A Redis URL on a database number no other concurrent test run is using."""
    parsed = urlparse(REDIS_BASE)
    admin = redis.Redis.from_url(urlunparse(parsed._replace(path="/0")))
    token = uuid.uuid4().hex
    for number in range(15, 0, -1):
        if admin.set(f"huimin:test-claim:{number}", token, nx=True, ex=3 * 3600):
            url = urlunparse(parsed._replace(path=f"/{number}"))
            conn = redis.Redis.from_url(url)
            conn.flushdb()
            try:
                yield url
            finally:
                conn.flushdb()
                if admin.get(f"huimin:test-claim:{number}") == token.encode():
                    admin.delete(f"huimin:test-claim:{number}")
            return
    raise RuntimeError("no free Redis database number (1-15) for this test run")


@contextmanager
def temporary_postgres(template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; a copy of database `template` if given
    (which nothing may be connected to)."""
    name = f"huimin_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    except Exception as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN} (set TEST_POSTGRES_URL): {exc}"
        ) from exc
    url = urlunparse(urlparse(POSTGRES_ADMIN)._replace(path=f"/{name}"))
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_database(backend: str) -> Iterator[str]:
    """A fresh database with the schema at head: a SQLite file (`sqlite`) or a PostgreSQL
    database (`postgresql`), removed afterwards. For benchmarks, which pick the backend."""
    from huimin.platform import migrate  # the app's migrations; tests import this lazily

    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="huimin_db_") as tmp:
            url = f"sqlite:///{tmp}/huimin.db"
            migrate.upgrade(url)
            yield url
    else:
        with temporary_postgres() as url:
            migrate.upgrade(url)
            yield url
