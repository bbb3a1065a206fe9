"""RQ jobs for policy matching and benefit pushes (the domain is huimin.benefits).

Every job is safe to run twice: matching inserts a notice once per resident, policy and rule
version, and a push claims its notice before calling WeChat. Job ids keep duplicates from
queueing in the first place:

    benefits-match-<policy>-<rule fingerprint>     a policy's rule changed
    benefits-resident-<id>-f<facts_version>        one resident's facts changed
    benefits-residents-<token>-<n>                 residents changed by one import
    benefit-push-<notice id>[-<epoch>]             a push (or its deferred retry)
(RQ allows letters, digits, _ and - in job ids.)

Schedules (jobs/cron.py, run by jobs/cron_runner.py): `nightly` every night and `watch_rules`
every few minutes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import redis
from sqlalchemy import and_, or_, select, update

from huimin.benefits.matching import run_matching
from huimin.benefits.models import MATCHED, PENDING, QUEUED, BenefitNotice
from huimin.benefits.notices import expire_overdue
from huimin.benefits.push import Outcome, Pusher, PushLimiter
from huimin.benefits.sources import policy_title
from huimin.benefits.triggers import changed_policies, mark_seen
from huimin.platform.db import Database, utcnow
from huimin.platform.runtime import Runtime
from huimin.rules import load_rules
from huimin.wechat.api import WeChatApi
from jobs.queues import DEFAULT, PUSH, enqueue, enqueue_many
from jobs.runtime import with_runtime

log = logging.getLogger(__name__)

MATCH_TIMEOUT = 3 * 3600  # a million residents take minutes; leave room
RESIDENT_CHUNK = 500
DISPATCH_CHUNK = 1000
STUCK_AFTER = timedelta(days=2)  # a queued push with no outcome by then is queued again


# ---- triggers --------------------------------------------------------------------------------


def enqueue_resident_match(conn: redis.Redis, resident_id: int, facts_version: int):
    """A resident's facts changed: match that resident only."""
    return enqueue(conn, DEFAULT, match_residents, [resident_id],
                   job_id=f"benefits-resident-{resident_id}-f{facts_version}")


def enqueue_residents_match(conn: redis.Redis, resident_ids: Sequence[int]) -> int:
    """Many residents changed (an import): match them in chunks; returns the job count."""
    token = uuid.uuid4().hex[:12]
    ids = sorted(set(resident_ids))
    chunks = [ids[i:i + RESIDENT_CHUNK] for i in range(0, len(ids), RESIDENT_CHUNK)]
    for n, chunk in enumerate(chunks):
        enqueue(conn, DEFAULT, match_residents, chunk,
                job_id=f"benefits-residents-{token}-{n}")
    return len(chunks)


def enqueue_policy_match(conn: redis.Redis, policy: str, fingerprint: str):
    return enqueue(conn, DEFAULT, match_policy, policy,
                   job_id=f"benefits-match-{policy}-{fingerprint}", job_timeout=MATCH_TIMEOUT)


# ---- jobs ------------------------------------------------------------------------------------


@with_runtime
def match_policy(
    rt: Runtime, policy: str | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """Match one policy's rule in force (or all) against every resident, then push."""
    day = date.fromisoformat(as_of) if as_of else date.today()
    benefits = rt.settings.benefits
    report = run_matching(rt.db, load_rules(benefits.rules_dir), day, policy=policy,
                          valid_days=benefits.notice_valid_days)
    queued = dispatch_pushes(rt.redis, rt.db)
    for line in report.lines():
        log.info("matching %s: %s", day, line)
    return {"as_of": day.isoformat(), "created": report.created, "pushes_queued": queued}


@with_runtime
def match_residents(
    rt: Runtime, resident_ids: list[int], as_of: str | None = None
) -> dict[str, Any]:
    """Match these residents only (their facts changed), then push what is new."""
    day = date.fromisoformat(as_of) if as_of else date.today()
    benefits = rt.settings.benefits
    report = run_matching(rt.db, load_rules(benefits.rules_dir), day,
                          resident_ids=resident_ids, valid_days=benefits.notice_valid_days)
    queued = dispatch_pushes(rt.redis, rt.db)
    return {"residents": len(resident_ids), "created": report.created, "pushes_queued": queued}


@with_runtime
def nightly(rt: Runtime) -> dict[str, Any]:
    """Every night: close overdue notices, match everyone against every rule in force, and
    push (again) what is waiting. Recording the rules seen avoids a second run by watch_rules."""
    today = date.today()
    benefits = rt.settings.benefits
    with rt.db.session() as s:
        expired = expire_overdue(s)
    book = load_rules(benefits.rules_dir)
    changes = changed_policies(rt.redis, book, today)
    report = run_matching(rt.db, book, today, valid_days=benefits.notice_valid_days)
    mark_seen(rt.redis, changes)
    queued = dispatch_pushes(rt.redis, rt.db)
    for line in report.lines():
        log.info("nightly matching %s: %s", today, line)
    return {"expired": expired, "created": report.created, "pushes_queued": queued}


@with_runtime
def watch_rules(rt: Runtime) -> list[str]:
    """Queue a matching run for every policy whose rule in force changed since last seen."""
    benefits = rt.settings.benefits
    book = load_rules(benefits.rules_dir)
    changes = changed_policies(rt.redis, book, date.today())
    for policy, fingerprint in changes.items():
        enqueue_policy_match(rt.redis, policy, fingerprint)
        log.info("rule of %s changed (%s): matching queued", policy, fingerprint)
    mark_seen(rt.redis, changes)
    return sorted(changes)


@with_runtime
def push_notice(rt: Runtime, notice_id: int) -> str:
    """Push one notice (see huimin.benefits.push); a deferred push is scheduled again."""
    benefits = rt.settings.benefits
    limiter = PushLimiter(rt.redis, benefits)
    pusher = Pusher(
        rt.db, limiter,
        miniapp=WeChatApi(rt.settings, rt.redis, miniapp=True),
        official_account=WeChatApi(rt.settings, rt.redis),
        settings=benefits,
        title=lambda key: policy_title(rt.settings.policies_dir, key),
    )
    outcome: Outcome = pusher.push(notice_id)
    if outcome.action == "later" and outcome.retry_at is not None:
        enqueue(
            rt.redis, PUSH, push_notice, notice_id, at=outcome.retry_at,
            job_id=f"benefit-push-{notice_id}-{int(outcome.retry_at.timestamp())}",
        )
    return f"{outcome.action}: {outcome.note}".rstrip(": ")


def dispatch_pushes(conn: redis.Redis, db: Database) -> int:
    """Queue a push job for every notice waiting for one (new, or queued long ago with no
    outcome, e.g. its job failed for good); returns how many were queued."""
    total = 0
    while True:
        now = utcnow()
        with db.session() as s:
            n = BenefitNotice
            ids = list(s.scalars(
                select(n.id).where(n.status == MATCHED, or_(
                    n.delivery == PENDING,
                    and_(n.delivery == QUEUED, n.updated_at < now - STUCK_AFTER),
                )).order_by(n.id).limit(DISPATCH_CHUNK)
            ))
            if not ids:
                return total
            enqueue_many(conn, PUSH, push_notice, [((i,), f"benefit-push-{i}") for i in ids])
            s.execute(update(n).where(n.id.in_(ids)).values(delivery=QUEUED, updated_at=now))
        total += len(ids)
