"""Where a public employment-code scan's CPU goes, against `/healthz` on the same app: the
budget behind issue 16's "verify >= 0.6x the /healthz rate" target.

On 2 busy cores a request rate is the cores' time divided by the CPU one request costs, so
the ratio verify/healthz is about healthz's CPU over verify's. This measures both in one
process (Flask's test client, one thread, `time.thread_time`, no HTTP server: labelled as
such), and inside a verification the parts it cannot drop: the Ed25519 signature check and
the one Redis round trip (limit windows, cached verdict, scan appended). Real Redis and a
real database (SQLite or PostgreSQL), 300 seeded codes, the limit raised for the run.

Run: .venv/bin/python bench/bench_verify_cpu.py [--db sqlite|postgresql] [--requests 4000]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_verify import RATIO_TARGET, VERIFY, load, machine, seed  # noqa: E402
from huimin.employment_code import EmploymentCodes, generate_key  # noqa: E402
from huimin.employment_code.cache import VerdictCache  # noqa: E402
from tests.services import claimed_redis_db, migrated_database  # noqa: E402


def timing(owner: Any, name: str, spent: dict[str, float], label: str) -> None:
    """Wrap `owner.name` so that the thread CPU time spent inside it adds up in `spent`."""
    real: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(real)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.thread_time() - start

    setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average before: {load()}")
    key_dir = Path(tempfile.mkdtemp(prefix="huimin_keys_")) / "keys"
    generate_key("bench1", key_dir, activates_at=datetime.now(UTC) - timedelta(hours=1))
    codes = EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": str(key_dir)})
    with claimed_redis_db() as redis_url, migrated_database(args.db) as url:
        bodies = seed(url, codes)
        redis.Redis.from_url(redis_url).flushdb()
        os.environ.update(DATABASE_URL=url, REDIS_URL=redis_url,
                          EMPLOYMENT_CODE_KEY_DIR=str(key_dir),
                          EMPLOYMENT_CODE_VERIFY_RATE_LIMIT="100000000/minute,100000000/hour")
        from webapp import create_app

        client = create_app().test_client()
        spent: dict[str, float] = {}
        timing(EmploymentCodes, "verify", spent, "Ed25519 signature check and claims")
        timing(VerdictCache, "lookup", spent, "the Redis round trip (EVALSHA), client side")

        def verify(i: int) -> int:
            return client.post(VERIFY, data=bodies[i % len(bodies)],
                               headers={"Content-Type": "application/json"}).status_code

        for i in range(2 * len(bodies)):  # warm-up: every code's verdict cached
            verify(i)
            client.get("/healthz")
        cpu: dict[str, float] = {}
        for name, call in (("GET /healthz", lambda i: client.get("/healthz").status_code),
                           ("POST verify", verify)):
            spent.clear()
            start = time.thread_time()
            statuses = {call(i) for i in range(args.requests)}
            cpu[name] = (time.thread_time() - start) / args.requests
            print(f"  {args.db:<10} {name:<13} {cpu[name] * 1e6:6.0f} µs CPU per request "
                  f"(in-process, test client; statuses {sorted(statuses)})")
        for label, seconds in spent.items():
            print(f"  {args.db:<10}   of which {label}: {seconds / args.requests * 1e6:.0f} µs")
        health, scan = cpu["GET /healthz"], cpu["POST verify"]
        print(f"  {args.db:<10} CPU ratio healthz/verify = {health / scan:.2f}; verify may cost "
              f"at most {health / RATIO_TARGET * 1e6:.0f} µs for the {RATIO_TARGET}x target "
              f"(it costs {(scan - health) * 1e6:.0f} µs more than /healthz)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
