"""RQ edge for grid-worker notifications (huimin.grid.notify)."""

from __future__ import annotations

import logging
import time

import redis

from huimin.grid import notify
from huimin.platform.keys import pseudonym_secret
from huimin.platform.runtime import Runtime
from huimin.wechat.api import WeChatApi
from jobs.queues import EVER, PUSH, enqueue
from jobs.runtime import with_runtime

log = logging.getLogger(__name__)


@with_runtime
def notify_resident(rt: Runtime, resident_id: int) -> str:
    """Send the resident what was done for them in the last minute; raises (and is retried)
    while WeChat is unavailable."""
    outcome = notify.send_queued(rt.db, WeChatApi(rt.settings, rt.redis), rt.redis, resident_id,
                                 pseudonym_secret(rt.settings))
    log.info("grid notification %s for resident %s", outcome, resident_id)
    return outcome


def schedule(conn: redis.Redis, resident_id: int, line: str, key: str) -> None:
    """Queue the line and a send a minute from now, once per action (``key``) and per
    resident and minute: a retried request does not notify twice."""
    if not notify.queue_line(conn, resident_id, line, key):
        return
    bucket = int(time.time() // notify.DIGEST_DELAY.total_seconds())
    job_id = f"grid-notify-{resident_id}-{bucket}"
    enqueue(conn, PUSH, notify_resident, resident_id, job_id=job_id, once=EVER,
            after=notify.DIGEST_DELAY, result_ttl=86400, failure_ttl=7 * 86400)
