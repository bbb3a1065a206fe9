"""The RQ worker process (jobs.worker) against a private redis-server: it outlives Redis going
away for longer than redis-py's own retries, takes jobs again when Redis is back, and stops
only when asked (SIGTERM). (Should RQ's worker quit on a Redis timeout, jobs.worker starts a
new one with backoff.)"""

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


def test_worker_outlives_a_redis_outage_and_works_after_it(private_redis, tmp_path):
    conn = redis.Redis.from_url(private_redis.url)
    log = tmp_path / "worker.log"
    proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "worker"], cwd=ROOT,
                            env={**os.environ, "REDIS_URL": private_redis.url},
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait_until(lambda: serving(conn), 30, "worker registered")
        private_redis.stop()
        time.sleep(25)
        assert proc.poll() is None, log.read_text()[-3000:]
        private_redis.start()
        job = Queue(DEFAULT, connection=conn).enqueue("builtins.len", "abc")
        wait_until(lambda: job.get_status(refresh=True) == "finished", 60, "job done")
        assert job.return_value() == 3
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 0
    assert "could not connect to Redis" in log.read_text()  # the outage was felt
