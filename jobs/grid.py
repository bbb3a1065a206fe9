"""RQ edge for grid-worker notifications (huimin.grid.notify)."""

from __future__ import annotations

import logging
import time

import redis

from huimin.grid import notify
from huimin.platform.config import load_settings
from huimin.platform.db import Database
from huimin.wechat.api import WeChatApi
from jobs.queues import EVER, PUSH, enqueue

log = logging.getLogger(__name__)


def notify_resident(resident_id: int) -> str:
    """Send the resident what was done for them in the last minute; raises (and is retried)
    while WeChat is unavailable."""
    settings = load_settings()
    conn = redis.Redis.from_url(settings.redis_url)
    db = Database(settings.database_url)
    try:
        outcome = notify.send_queued(db, WeChatApi(settings, conn), conn, resident_id,
                                     settings.secret_key)
    finally:
        db.engine.dispose()
        conn.close()
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
