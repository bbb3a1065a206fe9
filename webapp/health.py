"""Liveness and readiness probes."""

from __future__ import annotations

from apiflask import APIBlueprint

from huimin.platform.readiness import check_all
from jobs.queues import WORKERS
from webapp.extensions import services

bp = APIBlueprint("health", __name__, enable_openapi=False)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    svc = services()
    report = check_all(svc.settings, svc.db, svc.redis, svc.assistant, WORKERS)
    ready = all(item["ok"] for item in report.values())
    return {"status": "ready" if ready else "not_ready", "components": report}, (
        200 if ready else 503
    )
