"""The periodic-job scheduler (the `cron` line of the Procfile): `python -m jobs.cron_runner`.

RQ's cron scheduler (`rq cron`) exits on the first Redis error, and a restarted one enqueues
every interval job at once. This runs the same scheduler, with the jobs registered in jobs.cron,
but it rides out a Redis stall or restart (backoff, then carry on) and enqueues each periodic
job once per period, however often it is restarted and however many schedulers run: each
period is claimed in Redis (SET NX) before its job is enqueued.
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import datetime

import redis
import structlog
from rq.cron import CronJob, CronScheduler
from rq.exceptions import StopRequested
from rq.utils import now

from huimin.platform.logs import configure_logging
from huimin.platform.runtime import build_runtime

log = structlog.get_logger("cron")

BACKOFF = (1, 2, 5, 10, 20, 30)
CLAIM_PREFIX = "huimin:cron:period"


def period_key(job: CronJob, at: datetime) -> tuple[str, int]:
    """The Redis key naming the period `job` is due for, and how long to keep it."""
    if job.cron:  # the scheduled time itself names the period
        due = job.next_enqueue_time or at
        return f"{CLAIM_PREFIX}:{job.name}:{int(due.timestamp())}", 2 * 24 * 3600
    interval = job.interval or 60
    return f"{CLAIM_PREFIX}:{job.name}:{int(at.timestamp()) // interval}", 2 * interval


class OncePerPeriodScheduler(CronScheduler):
    def enqueue_jobs(self) -> list[CronJob]:
        """Like RQ's, but a period already claimed (by us before a restart, or by another
        scheduler) is skipped; a failed enqueue gives its claim back, to be tried again."""
        at = now()
        enqueued: list[CronJob] = []
        for job in self._cron_jobs:
            if not job.should_run():
                continue
            key, ttl = period_key(job, at)
            if self.connection.set(key, self.name, nx=True, ex=ttl):
                try:
                    job.enqueue(self.connection)
                except redis.RedisError:
                    with contextlib.suppress(redis.RedisError):
                        self.connection.delete(key)
                    raise
                enqueued.append(job)
            else:
                log.info("cron_period_already_enqueued", job=job.name)
            job.set_enqueue_time(at)
        return enqueued

    def run(self) -> None:
        """RQ's loop, but a Redis error means wait and try again, never exit."""
        self._install_signal_handlers()
        born, failures = False, 0
        try:
            while True:
                try:
                    if not born:
                        self.register_birth()
                        born = True
                    if self.enqueue_jobs():
                        self.save()
                    self.heartbeat()
                    failures = 0
                except redis.RedisError as exc:
                    wait = BACKOFF[min(failures, len(BACKOFF) - 1)]
                    failures += 1
                    log.warning("cron_redis_unavailable", error=type(exc).__name__,
                                retry_in=wait)
                    time.sleep(wait)
                    continue
                time.sleep(max(0.0, min(self.calculate_sleep_interval(), 5.0)))
        except (KeyboardInterrupt, StopRequested):
            log.info("cron_stopping")
        finally:
            with contextlib.suppress(redis.RedisError):
                self.register_death()


def main() -> None:
    configure_logging()
    # The one runtime builder: production checks first, then the scheduler's Redis client.
    conn = build_runtime(socket_timeout=10, socket_connect_timeout=5,
                         health_check_interval=30).redis
    scheduler = OncePerPeriodScheduler(connection=conn)
    scheduler.load_config_from_file("jobs.cron")
    scheduler.run()


if __name__ == "__main__":
    main()
    sys.exit(0)
