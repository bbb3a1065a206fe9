"""Customer-service delivery of WeChat answers (see huimin.wechat.delivery): a thin RQ edge."""

from __future__ import annotations

import redis
from redis.client import Pipeline
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from huimin.assistant.client import AssistantClient
from huimin.platform.runtime import Runtime
from huimin.wechat.api import WeChatApi
from huimin.wechat.choices import ChoiceStore
from huimin.wechat.conversation import AssistantHealth
from huimin.wechat.delivery import Courier, Outbox, reclaim_owed
from huimin.wechat.safe_redis import SafeRedis
from jobs.queues import PUSH, enqueue
from jobs.runtime import with_runtime

# Until the assistant answers (or WeChat takes the message): quickly at first, then every
# 30 s. Items older than WeChat's 48-hour window are recorded for staff, which ends the loop.
DRAIN_RETRY = Retry(max=10_000, interval=[2, 5, 10, 20, 30])
# How often owed answers are looked for: with the lease (huimin.wechat.dedup), a dead host's
# citizen waits at most about half a minute more.
RECLAIM_SECONDS = 10
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@with_runtime
def drain_outbox(rt: Runtime, sender: str) -> int:
    """Deliver everything queued for one citizen, in order; raises (and is retried) while the
    assistant or WeChat is unavailable."""
    courier = Courier(
        db=rt.db,
        assistant=AssistantClient(rt.settings),
        wechat=WeChatApi(rt.settings, rt.redis),
        choices=ChoiceStore(SafeRedis(rt.redis)),
        health=AssistantHealth(SafeRedis(rt.redis)),
    )
    return Outbox(rt.redis).drain(sender, courier)


@with_runtime
def reclaim_owed_answers(rt: Runtime) -> int:
    """Periodic (jobs.cron): questions owed by web hosts that died after replying "success"
    go to their citizens' outboxes, to be answered by the drain jobs."""
    return reclaim_owed(rt.redis, RQDrains())


class RQDrains:
    """Drain jobs on the `push` queue (huimin.wechat.delivery.DrainScheduler)."""

    def is_alive(self, conn: redis.Redis, job_id: str) -> bool:
        try:
            return Job.fetch(job_id, connection=conn).get_status(refresh=True) in _ALIVE
        except NoSuchJobError:
            return False

    def schedule(self, conn: redis.Redis, pipe: Pipeline, sender: str) -> str:
        job = enqueue(
            conn, PUSH, drain_outbox, sender, retry=DRAIN_RETRY, job_timeout=600, result_ttl=600,
            failure_ttl=7 * 24 * 3600, pipeline=pipe,
        )
        return job.id
