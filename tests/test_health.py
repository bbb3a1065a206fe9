"""Health, readiness and metrics endpoints against real Redis and SQLite."""

from __future__ import annotations


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_each_component_and_503_when_one_is_down(client):
    resp = client.get("/readyz")
    assert resp.status_code == 503
    components = resp.json["components"]
    assert set(components) == {"database", "redis", "rasa", "action_server", "worker",
                               "trainer"}
    assert components["database"]["ok"] and components["redis"]["ok"]
    assert not components["rasa"]["ok"] and not components["worker"]["ok"]
    assert not components["trainer"]["ok"]


def test_readyz_wants_each_queue_served(client, redis_conn):
    from rq import Worker

    worker = Worker(["push", "default"], connection=redis_conn)
    worker.register_birth()
    try:
        components = client.get("/readyz").json["components"]
        assert components["worker"]["ok"]
        assert not components["trainer"]["ok"]  # nobody serves the training queue yet
    finally:
        worker.register_death()


def test_metrics_count_requests_and_queue_lengths(client, app, redis_conn):
    from rq import Queue

    Queue("push", connection=redis_conn).enqueue("builtins.print", "x")
    client.get("/healthz")
    body = client.get("/metrics").data.decode()
    assert 'huimin_http_requests_total{endpoint="health.healthz",method="GET",status="200"}' in body
    assert 'huimin_queue_length{queue="push"} 1.0' in body
    assert "huimin_http_request_seconds_bucket" in body


def test_unknown_path_is_json_not_html(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert resp.is_json
