"""Shared fixtures: the app (Flask tutorial style), real Redis, SQLite and PostgreSQL, and the
full process stack (web, Rasa, action server, worker, WeChat emulator) for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
import requests

from huimin.platform import migrate
from scripts.stack import ROOT, Process, free_port, http_ok, procfile, stack_env, wait_until
from tests.services import claimed_redis_db, temporary_postgres

pytest_plugins = ["tests.timing_summary"]  # `make test` ends with the time spent per area

# Tests must never touch a developer's real data or settings.
for _name in list(os.environ):
    if _name.startswith(("WECHAT_", "MINIAPP_", "PII_", "DATABASE_URL", "REDIS_URL")):
        del os.environ[_name]
os.environ.setdefault("HUIMIN_ENV", "test")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with claimed_redis_db() as url:
        yield url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head (the real migrations) per test run, which each test
    copies: about 440 tests take a fresh database, and migrating each took 0.3 s on an idle
    machine and 1.5-4 s on a busy disk (every migration's commit is an fsync)."""
    path = tmp_path_factory.mktemp("migrated") / "head.db"
    migrate.upgrade(f"sqlite:///{path}")  # closes its connections: nothing is left in a WAL
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """One PostgreSQL database migrated to head per test run, the template of each test's."""
    with temporary_postgres() as url:
        migrate.upgrade(url)
        yield urlparse(url).path.lstrip("/")


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A fresh SQLite database with the schema at head (a copy of the migrated one)."""
    target = tmp_path / "test.db"
    shutil.copyfile(migrated_sqlite, target)
    return f"sqlite:///{target}"


@pytest.fixture
def postgresql_url(migrated_postgres: str) -> Iterator[str]:
    """A fresh PostgreSQL database with the schema at head (created from the migrated one)."""
    with temporary_postgres(template=migrated_postgres) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL, each freshly migrated."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def app(sqlite_url: str, redis_url: str, redis_conn: redis.Redis):
    from webapp import create_app

    app = create_app(
        {
            "database_url": sqlite_url,
            "redis_url": redis_url,
            "rasa_url": "http://127.0.0.1:9",  # nothing listens: the assistant is "down"
            "action_server_url": "http://127.0.0.1:9",
            "wechat_api_base": "http://127.0.0.1:9",
            "reply_budget_seconds": 1.0,
        }
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class Stack:
    """The real processes from the Procfile, on free ports, sharing one database and Redis."""

    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    def url(self, name: str) -> str:
        key = {"web": "WEB_PORT", "rasa": "RASA_PORT", "actions": "ACTION_PORT",
               "emulator": "EMULATOR_PORT"}[name]
        return f"http://127.0.0.1:{self.env[key]}"

    def start(self, name: str, wait: bool = True) -> None:
        proc = Process(name, procfile()[name], self.env, ROOT / "var" / "test-logs")
        proc.start()
        self.processes[name] = proc
        if wait:
            self.wait(name)

    def stop(self, name: str) -> None:
        self.processes[name].stop()

    def wait(self, name: str, timeout: float = 240) -> None:
        checks = {
            "web": http_ok(self.url("web") + "/healthz"),
            "emulator": http_ok(self.url("emulator") + "/_emulator/calls"),
            "actions": http_ok(self.url("actions") + "/health"),
            "rasa": _rasa_ready(self.url("rasa"), self.env["RASA_TOKEN"]),
            "worker": _worker_ready(self.env["REDIS_URL"], "push"),
            "trainer": _worker_ready(self.env["REDIS_URL"], "training"),
        }
        proc = self.processes[name]

        def check() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{proc.tail()}")
            return checks[name]()

        try:
            wait_until(check, timeout, name)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}\n{proc.tail()}") from exc

    def close(self) -> None:
        for proc in self.processes.values():
            proc.stop()


def _rasa_ready(url: str, token: str):
    def check() -> bool:
        try:
            resp = requests.get(f"{url}/status", params={"token": token}, timeout=2)
            return resp.ok and bool(resp.json().get("model_file"))
        except (requests.RequestException, ValueError):
            return False

    return check


def _worker_ready(url: str, queue: str):
    from rq import Worker

    def check() -> bool:
        workers = Worker.all(connection=redis.Redis.from_url(url))
        return any(queue in w.queue_names() for w in workers)

    return check


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Starts the full stack once per test session (Rasa takes ~30 s to load its model).

    It has a Redis database of its own, so its RQ worker never takes jobs that in-process
    tests enqueue and expect to find."""
    with claimed_redis_db() as redis_url:
        yield from _run_stack(redis_url, tmp_path_factory)


def _run_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not list((ROOT / "models").glob("*.tar.gz")):
        pytest.fail("no trained model: run `make train` (make test does it)")
    db_path = tmp_path_factory.mktemp("stack") / "stack.db"
    database_url = f"sqlite:///{db_path}"
    ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
    env = stack_env(dict(os.environ), ports, redis_url, database_url)
    env["SIMULATOR_ENABLED"] = "1"
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    subprocess.run([*flask, "init-db"], check=True, cwd=ROOT, env=env, capture_output=True)
    subprocess.run([*flask, "seed"], check=True, cwd=ROOT, env=env, capture_output=True)
    s = Stack(env=env)
    try:
        names = ("rasa", "emulator", "actions", "worker", "trainer", "web")
        for name in names:
            s.start(name, wait=False)
        for name in names:
            s.wait(name)
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """The WeChat API emulator as a real process (the same Procfile command as `make run`)."""
    port = free_port()
    env = {**os.environ, "EMULATOR_PORT": str(port)}
    proc = Process("emulator-tests", procfile()["emulator"], env, ROOT / "var" / "test-logs")
    proc.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ok(url + "/_emulator/health"), 30, "emulator")
        yield url
    finally:
        proc.stop()


@pytest.fixture
def emulator(emulator_url: str) -> str:
    requests.post(f"{emulator_url}/_emulator/reset", timeout=5).raise_for_status()
    return emulator_url


@pytest.fixture
def api_app(sqlite_url: str, redis_url: str, redis_conn: redis.Redis, emulator: str):
    """The app with the mini-program API talking to the WeChat emulator (tests/api_fixtures)."""
    from tests.api_fixtures import make_api_app

    return make_api_app(sqlite_url, redis_url, emulator)


@pytest.fixture
def api_client(api_app):
    return api_app.test_client()


@pytest.fixture(scope="module")
def catalogue():
    """The real policy catalogue (policies/), loaded once per test module."""
    from huimin.catalogue import load_catalogue

    return load_catalogue(ROOT / "policies")


@pytest.fixture(scope="module")
def names(catalogue) -> tuple[str, ...]:
    """Every name of every policy: what aspect detection ignores (`aspect_of(ignore=...)`)."""
    return tuple(n for p in catalogue for n in p.names)


@pytest.fixture(scope="module")
def referrals():
    """The real referral table (referrals/), loaded once per test module."""
    from huimin.catalogue.referrals import load_referrals

    return load_referrals(ROOT / "referrals")
