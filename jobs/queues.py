"""Queue names and the one way jobs are enqueued (with retries and backoff)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job

DEFAULT, PUSH, TRAINING = "default", "push", "training"
QUEUE_NAMES = (PUSH, DEFAULT, TRAINING)
# Which process serves which queues (most urgent first): a training takes minutes of CPU, so it
# has a process of its own and never holds up a push or a late chat answer.
WORKERS: dict[str, tuple[str, ...]] = {"worker": (PUSH, DEFAULT), "trainer": (TRAINING,)}

# Backoff for transient failures (WeChat busy, database locked): 10 s, 30 s, 2 min, 5 min.
RETRY = Retry(max=4, interval=[10, 30, 120, 300])

# Which existing job with the same id stops a new one: one still alive, or any RQ still knows.
LIVE, EVER = "live", "ever"
_REPLACEABLE = frozenset({"failed", "stopped", "canceled"})


def enqueue(
    connection: redis.Redis,
    queue: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str | None = None,
    retry: Retry | None = RETRY,
    once: str = LIVE,
    at: datetime | None = None,
    after: timedelta | None = None,
    **options: Any,
) -> Job:
    """Enqueue ``func(*args)`` on ``queue``, once per ``job_id``: a retried caller does not
    create a second job. ``once=LIVE`` returns a job with that id that is still alive (a failed
    or stopped one is replaced); ``once=EVER`` returns any job with that id RQ still knows.
    ``at`` / ``after`` schedule the job; ``options`` are RQ's job options (``job_timeout``,
    ``result_ttl``, ``failure_ttl``, ``pipeline``)."""
    q = Queue(queue, connection=connection)
    if job_id is not None:
        existing = q.fetch_job(job_id)
        if existing is not None and (
            once == EVER or existing.get_status(refresh=True) not in _REPLACEABLE
        ):
            return existing
    options.update(job_id=job_id, retry=retry)
    if at is not None:
        return q.enqueue_at(at, func, *args, **options)
    if after is not None:
        return q.enqueue_in(after, func, *args, **options)
    return q.enqueue_call(func, args=args, **_call_options(options))


def enqueue_many(
    connection: redis.Redis,
    queue: str,
    func: Callable[..., Any],
    calls: Iterable[tuple[tuple[Any, ...], str]],
    retry: Retry | None = RETRY,
) -> list[Job]:
    """Enqueue ``func(*args)`` for each ``(args, job_id)`` in one round trip."""
    q = Queue(queue, connection=connection)
    return q.enqueue_many([
        Queue.prepare_data(func, args=args, job_id=job_id, retry=retry) for args, job_id in calls
    ])


def _call_options(options: dict[str, Any]) -> dict[str, Any]:
    """``Queue.enqueue_call`` names the job timeout ``timeout``."""
    if "job_timeout" in options:
        options["timeout"] = options.pop("job_timeout")
    return options
