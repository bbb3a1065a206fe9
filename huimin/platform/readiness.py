"""Readiness of each part of the stack, reported by /readyz and by `make run`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import redis
import requests
from rq import Worker
from sqlalchemy import text

from huimin.assistant.client import AssistantClient
from huimin.platform.db import Database
from huimin.platform.settings import Settings


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
    """Each component is checked independently; one failure never hides another.

    ``workers``: each worker process's name and the queues it must be serving."""
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: _database(db),
        "redis": lambda: _redis(r),
        "rasa": lambda: _rasa(client),
        "action_server": lambda: _action_server(settings),
    }
    for name, queues in workers.items():
        checks[name] = lambda queues=queues: _serving(r, queues)
    report: dict[str, dict] = {}
    for name, check in checks.items():
        try:
            check()
            report[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            report[name] = {"ok": False, "error": type(exc).__name__}
    return report
