"""Readiness of each part of the stack, reported by /readyz and by `make run`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout

import redis
import requests
from rq import Worker
from sqlalchemy import text

from huimin.assistant.client import AssistantClient
from huimin.platform.db import Database
from huimin.platform.settings import Settings

# A stalled part (a paused database answers nothing, and no client timeout cuts that short)
# makes its own check "timeout" without holding up the probe or hiding the other parts.
CHECK_TIMEOUT = 3.0
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="readiness")
_running: dict[tuple[str, int], Future] = {}
_running_lock = threading.Lock()


def _start(name: str, app_id: int, check: Callable[[], None]) -> Future:
    """A check still stuck from an earlier probe is waited on again, not started anew, so
    frequent probes of a stalled part never use up the pool."""
    with _running_lock:
        future = _running.get((name, app_id))
        if future is None or future.done():
            future = _running[(name, app_id)] = _pool.submit(check)
        return future


def _database(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis(r: redis.Redis) -> None:
    r.ping()


def _serving(r: redis.Redis, queues: Sequence[str]) -> None:
    served = {name for worker in Worker.all(connection=r) for name in worker.queue_names()}
    missing = [q for q in queues if q not in served]
    if missing:
        raise RuntimeError(f"no RQ worker serves {', '.join(missing)}")


def _action_server(settings: Settings) -> None:
    resp = requests.get(f"{settings.action_server_url.rstrip('/')}/health", timeout=2)
    resp.raise_for_status()


def _rasa(client: AssistantClient) -> None:
    if not client.is_ready():
        raise RuntimeError("assistant not reachable or no model loaded")


def check_all(
    settings: Settings, db: Database, r: redis.Redis, client: AssistantClient,
    workers: Mapping[str, Sequence[str]],
) -> dict[str, dict]:
    """Each component is checked independently and at once, within CHECK_TIMEOUT seconds; one
    failure never hides another.

    ``workers``: each worker process's name and the queues it must be serving."""
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: _database(db),
        "redis": lambda: _redis(r),
        "rasa": lambda: _rasa(client),
        "action_server": lambda: _action_server(settings),
    }
    for name, queues in workers.items():
        checks[name] = lambda queues=queues: _serving(r, queues)
    futures = {name: _start(name, id(settings), check) for name, check in checks.items()}
    deadline = time.monotonic() + CHECK_TIMEOUT
    report: dict[str, dict] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            report[name] = {"ok": True}
        except FuturesTimeout:
            report[name] = {"ok": False, "error": "timeout"}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            report[name] = {"ok": False, "error": type(exc).__name__}
    return report
