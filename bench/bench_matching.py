"""Batch matching vs a per-resident Python loop, on SQLite and PostgreSQL.

For each size and database, a fresh child process generates N synthetic residents
(streamed insert), then times, over the same data in the same run:
  - SQL batch matching of every rule in force (eligible residents, `match_all`),
  - SQL batch matching streaming every status (N x rules rows),
  - a plain Python loop: stream residents, `evaluate` every rule for each one,
and checks that SQL and Python found the same eligible (resident, policy, amount) set.
Peak RSS is read in the child after each phase; comparing sizes shows it stays flat.

    .venv/bin/python bench/bench_matching.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from huimin.platform.db import Base, make_engine  # noqa: E402
from huimin.residents.facts import FACT_NAMES, Facts  # noqa: E402
from huimin.residents.synthetic import insert_residents, synthetic_residents  # noqa: E402
from huimin.rules import evaluate, load_rules, match_all  # noqa: E402
from huimin.rules.sql import ALL_STATUSES, RESIDENTS  # noqa: E402

AS_OF = date(2025, 6, 30)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(backend: str, n: int, pg_admin_url: str, seed: int) -> dict:
    """Run one (database, size) measurement in this process; returns the figures."""
    tmp = None
    db_name = None
    if backend == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="huimin_bench_")
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        admin = make_engine(pg_admin_url).execution_options(isolation_level="AUTOCOMMIT")
        db_name = f"huimin_bench_{secrets.token_hex(4)}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{db_name}"'))
        url = make_url(pg_admin_url).set(database=db_name).render_as_string(hide_password=False)
    engine = make_engine(url)
    out: dict = {"backend": backend, "n": n}
    try:
        Base.metadata.create_all(engine, tables=[RESIDENTS])
        t0 = time.perf_counter()
        with engine.begin() as conn:
            insert_residents(conn, synthetic_residents(n, seed=seed, as_of=AS_OF))
        with engine.connect() as conn:  # fresh statistics, as autovacuum would give
            conn.execute(text("ANALYZE" if backend == "sqlite" else "ANALYZE residents"))
            conn.commit()
        out["insert_s"] = time.perf_counter() - t0
        out["rss_after_insert_mb"] = _rss_mb()

        book = load_rules()
        rules = book.in_force(AS_OF)
        out["rules"] = len(rules)

        t0 = time.perf_counter()
        eligible = 0
        digest = 0
        with engine.connect() as conn:
            for m in match_all(conn, book, AS_OF):
                eligible += 1
                digest += hash((m.resident_id, m.policy, m.amount))
        out["sql_s"] = time.perf_counter() - t0
        out["sql_eligible"] = eligible
        sql_digest = digest & 0xFFFFFFFFFFFF
        out["rss_after_sql_mb"] = _rss_mb()

        t0 = time.perf_counter()
        rows = 0
        with engine.connect() as conn:
            for _ in match_all(conn, book, AS_OF, statuses=ALL_STATUSES):
                rows += 1
        out["sql_all_statuses_s"] = time.perf_counter() - t0
        out["sql_all_statuses_rows"] = rows
        out["rss_after_sql_all_mb"] = _rss_mb()

        t0 = time.perf_counter()
        eligible = 0
        digest = 0
        cols = [RESIDENTS.c.id, *(RESIDENTS.c[f] for f in FACT_NAMES)]
        with engine.connect() as conn:
            result = conn.execution_options(yield_per=10_000).execute(select(*cols))
            for row in result:
                facts = Facts(*row[1:])
                for rule in rules:
                    r = evaluate(rule, facts, AS_OF, explain=False)
                    if r.status == "eligible":
                        eligible += 1
                        digest += hash((row[0], r.policy, r.amount))
        out["python_s"] = time.perf_counter() - t0
        out["python_eligible"] = eligible
        out["same_answers"] = (
            eligible == out["sql_eligible"] and (digest & 0xFFFFFFFFFFFF) == sql_digest
        )
        out["rss_after_python_mb"] = _rss_mb()
    finally:
        engine.dispose()
        if tmp is not None:
            tmp.cleanup()
        if db_name is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            admin.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="a database to connect to for CREATE/DROP DATABASE of the scratch database",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        backend, n = args.worker[0], int(args.worker[1])
        print(json.dumps(worker(backend, n, args.pg_admin_url, args.seed)))
        return

    print(f"as_of {AS_OF}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    header = (
        f"{'db':<10} {'residents':>10} {'insert s':>9} {'SQL s':>7} {'SQL res/s':>11} "
        f"{'all-status s':>12} {'Python s':>9} {'Py res/s':>9} {'ratio':>6} {'same':>5} "
        f"{'RSS MB ins/sql/all/py':>24}"
    )
    print(header)
    for backend in args.backends:
        for n in args.sizes:
            cmd = [sys.executable, __file__, "--worker", backend, str(n)]
            cmd += ["--pg-admin-url", args.pg_admin_url, "--seed", str(args.seed)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{backend} {n}: failed\n{done.stderr}", file=sys.stderr)
                sys.exit(1)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rss = "/".join(
                f"{r[k]:.0f}"
                for k in (
                    "rss_after_insert_mb",
                    "rss_after_sql_mb",
                    "rss_after_sql_all_mb",
                    "rss_after_python_mb",
                )
            )
            print(
                f"{backend:<10} {n:>10,} {r['insert_s']:>9.1f} {r['sql_s']:>7.2f} "
                f"{n / r['sql_s']:>11,.0f} {r['sql_all_statuses_s']:>12.1f} "
                f"{r['python_s']:>9.1f} {n / r['python_s']:>9,.0f} "
                f"{r['python_s'] / r['sql_s']:>5.0f}x {str(r['same_answers']):>5} {rss:>24}",
                flush=True,
            )
    print(
        "SQL: match_all over every rule in force, eligible residents; all-status: every "
        "(resident, policy) status streamed; Python: evaluate() per resident per rule "
        "(explain=False), residents streamed from the same database. RSS is the child's peak."
    )


if __name__ == "__main__":
    main()
