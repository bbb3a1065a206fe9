"""Worker entry point: `python -m jobs.worker [worker|trainer]` serves that process's queues
(jobs.queues.WORKERS), most urgent first.

RQ's worker quits when Redis times out or its loop meets an error it does not expect; a Redis
stall or restart is ordinary in production, so this process starts a fresh worker after a
backoff instead of exiting. It stops only when asked to (SIGTERM, SIGINT)."""

from __future__ import annotations

import signal
import sys
import time

import redis
import structlog
from rq import Worker

from huimin.platform.logs import configure_logging
from huimin.platform.runtime import build_runtime
from jobs.queues import WORKERS

log = structlog.get_logger("worker")

# A killed worker's job is found abandoned (and retried, see RQ's StartedJobRegistry) once its
# heartbeat expires: about a minute with these, instead of RQ's defaults of up to 10 minutes.
JOB_MONITORING_INTERVAL = 5
MAINTENANCE_INTERVAL = 15
# The worker's TTL (settings.worker_ttl_seconds, 60 s): RQ's worker waits for jobs in BLPOP
# calls of TTL - 15 s on a socket that times out after TTL - 5 s. With RQ's default (420 s) a
# Redis that stops answering without closing the connection (a failover to another host, a
# frozen server) held the worker for 7 minutes before RQ noticed, quit, and this process started
# a fresh one; with 60 s it is under a minute. It also bounds how long a dead worker stays
# listed (TTL + 60 s), which /readyz reads.
BACKOFF = (1, 2, 5, 10, 20, 30)


def main(argv: list[str]) -> None:
    role = argv[0] if argv else "worker"
    if role not in WORKERS:
        sys.exit(f"unknown worker role {role!r}; expected one of {', '.join(WORKERS)}")
    configure_logging()
    # Refuses development secrets with HUIMIN_ENV=production, before any connection.
    runtime = build_runtime(socket_connect_timeout=5, health_check_interval=30)
    conn, worker_ttl = runtime.redis, runtime.settings.worker_ttl_seconds
    failures = 0
    while True:
        started, worker = time.monotonic(), None
        try:
            worker = Worker(list(WORKERS[role]), connection=conn, worker_ttl=worker_ttl,
                            job_monitoring_interval=JOB_MONITORING_INTERVAL,
                            maintenance_interval=MAINTENANCE_INTERVAL)
            worker.work(with_scheduler=True)
        except redis.RedisError as exc:  # raised while starting (naming, bootstrap, registering)
            log.warning("worker_redis_unavailable", error=type(exc).__name__)
        if worker is not None and worker._shutdown_requested_date is not None:
            return  # SIGTERM/SIGINT: asked to stop
        failures = 0 if time.monotonic() - started > 60 else failures + 1
        wait = BACKOFF[min(failures, len(BACKOFF) - 1)]
        log.warning("worker_restarting", role=role, after_seconds=wait)
        _sleep_unless_stopped(wait)


def _sleep_unless_stopped(seconds: float) -> None:
    """RQ's handlers are gone between two workers: a signal now ends the process at once."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    time.sleep(seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
