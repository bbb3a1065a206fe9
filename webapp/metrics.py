"""Prometheus metrics: request counts and latencies, queue lengths, open undelivered WeChat
messages (so an alert can tell staff that citizens are waiting for a follow-up)."""

from __future__ import annotations

import time

import structlog
from apiflask import APIBlueprint
from flask import Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from rq import Queue

from huimin.wechat import undelivered
from jobs.queues import QUEUE_NAMES
from webapp.extensions import services

REQUESTS = Counter(
    "huimin_http_requests_total", "HTTP requests", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "huimin_http_request_seconds",
    "HTTP request latency",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
)
QUEUE_LENGTH = Gauge("huimin_queue_length", "Jobs waiting in an RQ queue", ["queue"])
UNDELIVERED_OPEN = Gauge(
    "huimin_wechat_undelivered_open",
    "WeChat messages refused or not queued that staff have not marked handled yet",
)


log = structlog.get_logger("http")
bp = APIBlueprint("metrics", __name__, enable_openapi=False)


@bp.before_app_request
def _start_timer() -> None:
    g._started = time.perf_counter()


@bp.after_app_request
def _record(response):
    endpoint = request.endpoint or "unknown"
    started = g.get("_started")
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    if endpoint != "metrics.metrics":
        log.info("request", method=request.method, path=request.path, endpoint=endpoint,
                 status=response.status_code,
                 ms=round((time.perf_counter() - started) * 1000, 1) if started else None)
    return response


@bp.get("/metrics")
def metrics() -> Response:
    r = services().redis
    for name in QUEUE_NAMES:
        try:
            QUEUE_LENGTH.labels(name).set(len(Queue(name, connection=r)))
        except Exception:  # noqa: BLE001 - Redis down must not break the scrape
            QUEUE_LENGTH.labels(name).set(float("nan"))
    try:
        with services().db.session() as s:
            UNDELIVERED_OPEN.set(undelivered.count_open(s))
    except Exception:  # noqa: BLE001 - database down must not break the scrape either
        log.warning("metrics_undelivered_count_failed")
        UNDELIVERED_OPEN.set(float("nan"))
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
