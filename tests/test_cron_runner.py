"""The cron process (jobs.cron_runner) against a private redis-server: it rides out a Redis
stall and a Redis outage without exiting, and enqueues each periodic job once per period
however often it is restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rq import Queue

from jobs.queues import DEFAULT
from scripts.stack import ROOT, wait_until
from tests.faults import PrivateRedis


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_cron(redis_url: str, log_path) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": redis_url, "BENEFIT_RULES_CHECK_SECONDS": "3600"}
    return subprocess.Popen([sys.executable, "-m", "jobs.cron_runner"], cwd=ROOT, env=env,
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115


def watch_rules_jobs(conn) -> list[str]:
    queue = Queue(DEFAULT, connection=conn)
    return [j.func_name for j in queue.get_jobs() if j.func_name.endswith("watch_rules")]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_cron_survives_stall_and_restart_and_enqueues_once_per_period(private_redis, tmp_path):
    import redis

    conn = redis.Redis.from_url(private_redis.url)
    proc = start_cron(private_redis.url, tmp_path / "cron.log")
    try:
        wait_until(lambda: len(watch_rules_jobs(conn)) == 1, 30, "first watch_rules job")
        # A restart within the same hour-long period enqueues nothing more.
        stop(proc)
        proc = start_cron(private_redis.url, tmp_path / "cron2.log")
        wait_until(lambda: b"cron_period_already_enqueued" in (tmp_path / "cron2.log")
                   .read_bytes(), 30, "second scheduler skipping the claimed period")
        # Redis stalls for longer than the scheduler's socket timeout, then restarts.
        private_redis.pause(12)
        time.sleep(13)
        assert proc.poll() is None, (tmp_path / "cron2.log").read_text()
        private_redis.stop()  # down for longer than redis-py's own retries last
        time.sleep(20)
        assert proc.poll() is None, (tmp_path / "cron2.log").read_text()
        private_redis.start()
        # Still alive and scheduling: its heartbeat comes back to the registry.
        conn.delete("rq:cron_schedulers")
        wait_until(lambda: conn.zcard("rq:cron_schedulers") >= 1, 30, "cron heartbeat")
        assert len(watch_rules_jobs(conn)) == 1
    finally:
        stop(proc)
    assert proc.returncode == 0
