"""RQ job for the employment-code scan log (the domain is huimin.employment_code.scan_log).

`flush_scans` writes the scans queued on the Redis stream to the database; jobs/cron.py
runs it every 30 seconds. Safe to run twice at once: a lock lets one flusher work.
"""

from __future__ import annotations

from huimin.employment_code import scan_log
from huimin.platform.runtime import Runtime
from jobs.runtime import with_runtime

FLUSH_SECONDS = 30
"""How often the scan log is flushed. The holder's own page flushes before reading, so this
only bounds how long scans wait on the stream; each run is a forked work horse, so not more
often than the batches need."""


@with_runtime
def flush_scans(rt: Runtime) -> int:
    """Write queued verifier scans to the database; returns how many were written."""
    return scan_log.flush(rt.db, rt.redis)
