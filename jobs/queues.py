"""Queue names and the one way jobs are enqueued (with retries and backoff)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Retry

DEFAULT, PUSH, TRAINING = "default", "push", "training"
QUEUE_NAMES = (PUSH, DEFAULT, TRAINING)
# Which process serves which queues (most urgent first): a training takes minutes of CPU, so it
# has a process of its own and never holds up a push or a late chat answer.
WORKERS: dict[str, tuple[str, ...]] = {"worker": (PUSH, DEFAULT), "trainer": (TRAINING,)}

# Backoff for transient failures (WeChat busy, database locked): 10 s, 30 s, 2 min, 5 min.
RETRY = Retry(max=4, interval=[10, 30, 120, 300])


def enqueue(
    connection: redis.Redis,
    queue: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str | None = None,
    **kwargs: Any,
):
    """Enqueue once per job_id: a retried caller does not create a second job."""
    q = Queue(queue, connection=connection)
    if job_id is not None:
        existing = q.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=True) not in {
            "failed",
            "stopped",
            "canceled",
        }:
            return existing
    return q.enqueue(func, args=args, kwargs=kwargs, job_id=job_id, retry=RETRY)
