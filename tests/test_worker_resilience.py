"""The RQ worker process (jobs.worker) against a private redis-server: it outlives Redis going
away for longer than redis-py's own retries, and Redis going silent for longer than RQ's socket
timeout (RQ's worker quits; jobs.worker starts a new one), takes jobs again when Redis is
back, and stops only when asked (SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from rq import Queue, Worker

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


def serving(conn: redis.Redis) -> bool:
    try:
        return any(DEFAULT in w.queue_names() for w in Worker.all(connection=conn))
    except redis.RedisError:
        return False


def start_worker(redis_url: str, log, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "worker"], cwd=ROOT,
                            env={**os.environ, "REDIS_URL": redis_url, **env},
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def runs_a_job(conn: redis.Redis) -> None:
    job = Queue(DEFAULT, connection=conn).enqueue("builtins.len", "abc")
    wait_until(lambda: job.get_status(refresh=True) == "finished", 60, "job done")
    assert job.return_value() == 3


def test_worker_outlives_a_redis_outage_and_works_after_it(private_redis, tmp_path):
    conn = redis.Redis.from_url(private_redis.url)
    log = tmp_path / "worker.log"
    proc = start_worker(private_redis.url, log)
    try:
        wait_until(lambda: serving(conn), 30, "worker registered")
        private_redis.stop()
        time.sleep(25)
        assert proc.poll() is None, log.read_text()[-3000:]
        private_redis.start()
        runs_a_job(conn)
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert "could not connect to Redis" in log.read_text()  # the outage was felt


def test_worker_quits_on_a_redis_timeout_and_a_fresh_one_takes_over(private_redis, tmp_path):
    """Redis stops answering but keeps the connection open (a frozen server, a failover that
    leaves clients on the old primary): RQ's worker times out (its socket timeout is
    the worker TTL - 5 s) and quits; jobs.worker starts a fresh worker, which works once Redis
    answers again. The wait is on the log lines, not on a clock, so a slow machine only
    makes it longer. The worker runs with a 20 s TTL (socket timeout 15 s) instead of the
    production 60 s: the same timeout path, waited out in a third of the time."""
    conn = redis.Redis.from_url(private_redis.url)
    log = tmp_path / "worker.log"
    ttl = 20
    proc = start_worker(private_redis.url, log, WORKER_TTL_SECONDS=str(ttl))
    try:
        wait_until(lambda: serving(conn), 60, "worker registered")
        # RQ keeps a worker's key for its TTL + 60 s: the shorter TTL reached RQ.
        assert all(0 < conn.ttl(w.key) <= ttl + 60 for w in Worker.all(connection=conn))
        # A job done first: the worker is past its start-up (which a freeze also times out,
        # but outside RQ's loop) and in the loop that waits for jobs.
        runs_a_job(conn)
        private_redis.freeze()
        try:
            wait_until(lambda: b"Redis connection timeout, quitting" in log.read_bytes(),
                       ttl + 120, "RQ's worker quitting on the Redis timeout")
            assert proc.poll() is None, log.read_text()[-3000:]
        finally:
            private_redis.thaw()
        wait_until(lambda: b"worker_restarting" in log.read_bytes(), 60, "a fresh worker")
        runs_a_job(conn)
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_the_worker_ttl_is_a_setting_and_a_bad_value_names_the_variable(monkeypatch):
    from huimin.platform.settings import Settings

    monkeypatch.delenv("WORKER_TTL_SECONDS", raising=False)
    assert Settings().worker_ttl_seconds == 60
    monkeypatch.setenv("WORKER_TTL_SECONDS", "25")
    assert Settings().worker_ttl_seconds == 25
    for bad in ("10", "a minute"):
        monkeypatch.setenv("WORKER_TTL_SECONDS", bad)
        with pytest.raises(ValueError, match="WORKER_TTL_SECONDS"):
            Settings()
