"""Customer-service delivery of WeChat answers (see huimin.delivery): a thin RQ edge."""

from __future__ import annotations

import redis
from rq import Queue, Retry

from huimin.assistant import AssistantClient
from huimin.choices import ChoiceStore
from huimin.config import load_settings
from huimin.conversation import AssistantHealth
from huimin.db import Database
from huimin.delivery import Courier, Outbox
from huimin.safe_redis import SafeRedis
from huimin.wechat_api import WeChatApi
from jobs.queues import PUSH

# Until the assistant answers (or WeChat takes the message): quickly at first, then every
# 30 s. Items older than WeChat's 48-hour window are recorded for staff, which ends the loop.
DRAIN_RETRY = Retry(max=10_000, interval=[2, 5, 10, 20, 30])


def _queued_flag(sender: str) -> str:
    return f"huimin:wechat:drain-queued:{sender}"


def drain_outbox(sender: str) -> int:
    """Deliver everything queued for one citizen, in order; raises (and is retried) while the
    assistant or WeChat is unavailable."""
    settings = load_settings()
    conn = redis.Redis.from_url(settings.redis_url)
    conn.delete(_queued_flag(sender))  # items pushed from now on need another job
    db = Database(settings.database_url)
    try:
        courier = Courier(
            db=db,
            assistant=AssistantClient(settings),
            wechat=WeChatApi(settings, conn),
            choices=ChoiceStore(SafeRedis(conn)),
            health=AssistantHealth(SafeRedis(conn)),
        )
        return Outbox(conn).drain(sender, courier)
    finally:
        db.engine.dispose()
        conn.close()


def schedule_drain(conn: redis.Redis, sender: str) -> None:
    """Queue a drain job unless one for this citizen is queued and not started yet (it will
    deliver the new item too). Extra jobs would be harmless: one drains, the rest find the
    outbox empty."""
    if not conn.set(_queued_flag(sender), 1, nx=True, ex=300):
        return
    Queue(PUSH, connection=conn).enqueue(
        drain_outbox, sender, retry=DRAIN_RETRY, job_timeout=600, result_ttl=600,
        failure_ttl=7 * 24 * 3600,
    )
