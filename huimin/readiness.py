"""Readiness of each part of the stack, reported by /readyz and by `make run`."""

from __future__ import annotations

from collections.abc import Callable

import redis
import requests
from rq import Worker
from sqlalchemy import text

from huimin.assistant import AssistantClient
from huimin.config import Settings
from huimin.db import Database


def _database(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis(r: redis.Redis) -> None:
    r.ping()


def _worker(r: redis.Redis) -> None:
    if not Worker.all(connection=r):
        raise RuntimeError("no RQ worker is registered")


def _action_server(settings: Settings) -> None:
    resp = requests.get(f"{settings.action_server_url.rstrip('/')}/health", timeout=2)
    resp.raise_for_status()


def _rasa(client: AssistantClient) -> None:
    if not client.is_ready():
        raise RuntimeError("assistant not reachable or no model loaded")


def check_all(
    settings: Settings, db: Database, r: redis.Redis, client: AssistantClient
) -> dict[str, dict]:
    """Each component is checked independently; one failure never hides another."""
    checks: dict[str, Callable[[], None]] = {
        "database": lambda: _database(db),
        "redis": lambda: _redis(r),
        "rasa": lambda: _rasa(client),
        "action_server": lambda: _action_server(settings),
        "worker": lambda: _worker(r),
    }
    report: dict[str, dict] = {}
    for name, check in checks.items():
        try:
            check()
            report[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            report[name] = {"ok": False, "error": type(exc).__name__}
    return report
