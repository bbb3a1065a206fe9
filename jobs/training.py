"""Training runs on the `training` queue: a thin RQ edge over huimin.ops.training."""

from __future__ import annotations

import redis

from huimin.ops import training
from huimin.platform.runtime import Runtime
from jobs.queues import EVER, TRAINING, enqueue
from jobs.runtime import with_runtime


@with_runtime
def train_model(rt: Runtime, run_id: int) -> str:
    """Export, validate, train, evaluate and register; the run row records progress and log.

    Not retried by RQ: a failed step (invalid data, a bad model) fails the same way again, and
    the console shows why; the staff member starts a new run after fixing it.
    """
    return training.execute(rt.db, rt.settings, rt.settings.ops, run_id)


def enqueue_training(conn: redis.Redis, run_id: int, timeout_seconds: int) -> str:
    """Queue the run's job (one job id per run, so a repeated request does not train twice)."""
    job_id = f"training-run-{run_id}"
    enqueue(conn, TRAINING, train_model, run_id, job_id=job_id, once=EVER, retry=None,
            job_timeout=timeout_seconds + 300, result_ttl=7 * 86400, failure_ttl=7 * 86400)
    return job_id
