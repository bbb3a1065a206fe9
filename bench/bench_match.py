"""The nightly matching job as a city runs it (`flask benefits match --no-push`, i.e.
`run_matching` over every rule in force), on a fresh migrated database of N synthetic residents.

Phases, each timed on its own (the insert of the residents is reported apart):
  first    the first run: every eligible resident gets a notice;
  again    the same night again (the steady state: nothing new, nothing written);
  changed  after 1% of residents changed facts (some no longer eligible: withdrawn) and 1% of
           notices were confirmed (kept, not asked again): the next night's run;
  all      the "all statuses" pass the calculator and grid pages use (`match_all` with every
           status, streamed: N x rules rows);
  push     optional (--push): queueing one push job per new notice (`dispatch_pushes`).
Peak RSS of this process is printed after each phase: it stays flat as N grows.

Targets (2 cores): whole job over 1M residents <= 20 s, over 10M <= 200 s, memory flat.
The load average is printed before and after; re-run on a quiet machine to publish.
Run: .venv/bin/python bench/bench_match.py [--sizes 1000000] [--backend postgresql] [--push]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.benefits.matching import MatchReport, run_matching  # noqa: E402
from huimin.benefits.models import CONFIRMED, MATCHED, BenefitNotice  # noqa: E402
from huimin.platform import schema as _models  # noqa: E402, F401 - every mapper configured
from huimin.platform.db import Database  # noqa: E402
from huimin.residents.models import Resident  # noqa: E402
from huimin.residents.synthetic import insert_residents, synthetic_residents  # noqa: E402
from huimin.rules import load_rules, match_all  # noqa: E402
from huimin.rules.sql import ALL_STATUSES  # noqa: E402
from tests.services import claimed_redis_db, migrated_database  # noqa: E402

AS_OF = date(2025, 6, 30)
TARGET_S = {1_000_000: 20.0, 10_000_000: 200.0}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(label: str, n: int, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"  {label:<8} {seconds:8.1f} s  {n / seconds:>11,.0f} residents/s  "
          f"peak RSS {rss_mb():6.0f} MB", end="", flush=True)
    return result, seconds


def summary(report: MatchReport) -> str:
    p = report.policies
    return (f"created {sum(x.created for x in p):,}, reopened {sum(x.reopened for x in p):,}, "
            f"kept {sum(x.kept for x in p):,}, superseded {sum(x.superseded for x in p):,}, "
            f"withdrawn {sum(x.withdrawn for x in p):,}")


def change_some(db: Database, n: int) -> None:
    """1% of residents move away (local_hukou false: many rules then fail) and 1% of the
    open notices are confirmed, as a day's work would do."""
    step = 100
    with db.session() as s:
        s.execute(update(Resident).where(Resident.id % step == 7).values(local_hukou=False))
        s.execute(update(BenefitNotice).where(BenefitNotice.id % step == 3,
                                              BenefitNotice.status == MATCHED)
                  .values(status=CONFIRMED, confirmed_at=datetime.now(UTC)))


def all_statuses(db: Database) -> int:
    rows = 0
    with db.engine.connect() as conn:
        for _ in match_all(conn, load_rules(), AS_OF, statuses=ALL_STATUSES):
            rows += 1
    return rows


def bench(backend: str, n: int, push: bool) -> None:
    print(f"{backend}, {n:,} residents (load average {load()})")
    with migrated_database(backend) as url:
        db = Database(url)
        start = time.perf_counter()
        with db.engine.begin() as conn:
            insert_residents(conn, synthetic_residents(n, seed=1, as_of=AS_OF))
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        print(f"  insert   {time.perf_counter() - start:8.1f} s  (not part of the job)")
        book = load_rules()
        for phase in ("first", "again", "changed"):
            if phase == "changed":
                change_some(db, n)
            report, seconds = timed(phase, n, run_matching, db, book, AS_OF)
            target = TARGET_S.get(n)
            verdict = "" if target is None else (
                f"  (target <= {target:.0f} s: {'OK' if seconds <= target else 'MISSED'})")
            print(f"  {summary(report)}{verdict}")
        with db.session() as s:
            notices = s.scalar(select(func.count()).select_from(BenefitNotice))
        print(f"  notices in the database: {notices:,}")
        rows, _ = timed("all", n, all_statuses, db)
        print(f"  {rows:,} (resident, policy) statuses streamed")
        if push:
            from jobs.benefits import dispatch_pushes

            with claimed_redis_db() as redis_url:
                import redis

                conn = redis.Redis.from_url(redis_url)
                queued, _ = timed("push", n, dispatch_pushes, conn, db)
                print(f"  {queued:,} push jobs queued")
                conn.flushdb()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--push", action="store_true", help="also time dispatch_pushes")
    args = parser.parse_args()
    print(f"bench_match  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.node()} "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; as_of {AS_OF}")
    print(f"command: {' '.join(sys.argv)}")
    for n in args.sizes:
        bench(args.backend, n, args.push)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
