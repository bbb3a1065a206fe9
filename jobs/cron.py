"""Periodic jobs, for RQ's cron scheduler as run by jobs.cron_runner (the `cron` line of the
Procfile). The scheduler only enqueues; the worker runs the jobs. Add other periodic jobs here.
"""

from __future__ import annotations

from rq import cron

from huimin.platform.settings import load_settings
from jobs import benefits, employment_code, messages
from jobs.queues import DEFAULT

_settings = load_settings().benefits  # jobs.cron_runner built the runtime (and checked) first

# Batch matching of every resident against every rule in force, and overdue notices closed.
cron.register(benefits.nightly, DEFAULT, cron=_settings.nightly_cron,
              job_timeout=benefits.MATCH_TIMEOUT)
# A rule file with a new version (or one coming into force today): match that policy.
cron.register(benefits.watch_rules, DEFAULT, interval=_settings.rules_check_seconds)
# Verifier scans queued on the Redis stream, written to the database in batches.
cron.register(employment_code.flush_scans, DEFAULT, interval=employment_code.FLUSH_SECONDS)
# Answers owed by a web host that died after replying "success": handed to the worker.
cron.register(messages.reclaim_owed_answers, DEFAULT, interval=messages.RECLAIM_SECONDS)
