"""Employment code, in-process: issue (sign + QR PNG) and verify latency and throughput.

Targets (2 cores): issue p99 < 50 ms; verify >= 2,000/s.
Run: .venv/bin/python bench/bench_employment_code.py [--issue-n 500] [--verify-n 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.employment_code import (  # noqa: E402
    EmploymentCodes,
    Status,
    generate_key,
    load_keyring,
    new_subject_id,
    qr_png,
    qr_svg,
)
from huimin.platform.settings import EmploymentCodeSettings  # noqa: E402

ISSUE_P99_TARGET_MS = 50.0
VERIFY_TARGET_PER_S = 2000.0


def measure(label: str, n: int, op: Callable[[int], object]) -> tuple[float, float]:
    """Run `op` n times; print p50/p95/p99 (ms) and ops/s; return (p99 ms, ops/s)."""
    samples = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter_ns()
        op(i)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(samples, n=100, method="inclusive")
    rate = n / elapsed
    print(
        f"{label:<28} n={n:<6} p50={q[49]:7.3f} ms  p95={q[94]:7.3f} ms  "
        f"p99={q[98]:7.3f} ms  max={max(samples):7.3f} ms  {rate:9.0f} ops/s"
    )
    return q[98], rate


def _verify_worker(args: tuple[str, list[str], float]) -> tuple[int, float]:
    key_dir, batch, seconds = args
    codes = EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": key_dir})
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for code in batch:
            if not codes.verify(code).valid:
                raise SystemExit("verification failed in worker")
        done += len(batch)
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issue-n", type=int, default=500)
    parser.add_argument("--verify-n", type=int, default=20000)
    parser.add_argument("--processes", type=int, default=2, help="for the parallel verify run")
    parser.add_argument("--seconds", type=float, default=3.0, help="parallel verify duration")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        generate_key("bench-1", tmp)
        settings = EmploymentCodeSettings(key_dir=Path(tmp))
        codes = EmploymentCodes(load_keyring(settings), settings)
        subjects = [new_subject_id() for _ in range(64)]
        statuses = list(Status)
        issued = [codes.issue(s, statuses[i % 4]).code for i, s in enumerate(subjects)]
        for code in issued[:20]:  # warm-up: imports, caches
            qr_png(code)
            codes.verify(code)

        cpus = os.cpu_count()
        print(f"employment code bench — Python {sys.version.split()[0]}, {cpus} CPUs")
        print(f"code length {len(issued[0])} characters")

        def issue_op(i: int) -> None:
            code = codes.issue(subjects[i % 64], statuses[i % 4]).code
            qr_png(code)

        measure(
            "sign only", args.verify_n, lambda i: codes.issue(subjects[i % 64], Status.EMPLOYED)
        )
        measure("QR PNG only", args.issue_n, lambda i: qr_png(issued[i % 64]))
        measure("QR SVG only", args.issue_n, lambda i: qr_svg(issued[i % 64]))
        issue_p99, _ = measure("issue (sign + QR PNG)", args.issue_n, issue_op)

        def verify_op(i: int) -> None:
            if not codes.verify(issued[i % 64]).valid:
                raise SystemExit("verification failed")

        _, verify_rate = measure("verify (1 thread)", args.verify_n, verify_op)

        with ProcessPoolExecutor(args.processes) as pool:
            work = [(tmp, issued, args.seconds)] * args.processes
            results = list(pool.map(_verify_worker, work))
        parallel = sum(n for n, _ in results) / max(t for _, t in results)
        label = f"verify ({args.processes} processes)"
        print(f"{label:<28} n={sum(n for n, _ in results):<6} {parallel:>70.0f} ops/s")

    print()
    ok_issue = issue_p99 < ISSUE_P99_TARGET_MS
    ok_verify = max(verify_rate, parallel) >= VERIFY_TARGET_PER_S
    print(
        f"target issue p99 < {ISSUE_P99_TARGET_MS:.0f} ms: {issue_p99:.2f} ms "
        f"{'MET' if ok_issue else 'MISSED'}"
    )
    print(
        f"target verify >= {VERIFY_TARGET_PER_S:.0f}/s: {verify_rate:.0f}/s single thread, "
        f"{parallel:.0f}/s with {args.processes} processes {'MET' if ok_verify else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
