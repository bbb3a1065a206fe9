"""Employment-code verification as a verifier gets it: `POST /api/v1/employment-code/verify`
over HTTP under concurrent load, compared in the same run with `GET /healthz` on the same
server, on SQLite and PostgreSQL.

The server is gunicorn (gthread, `--workers 2` by default so both cores serve), started here
on a free port with the per-address verify limit raised for the run (every request comes
from 127.0.0.1). The scan-log flusher (`jobs.employment_code.flush_scans`, as the worker runs
it, but every second) runs beside it, so the database writes are paid in the run; every scan
must be in the database. N closed-loop clients (keep-alive, spread over 2 processes) send
requests for a fixed time after a warm-up. The offline figure (signature check only, with
the JWKS, in-process, one core) is printed beside it, labelled.

The web tier's CPU time per request (gunicorn master and workers, from /proc) is printed with
each rate: on a shared machine it moves far less than the rates do.

Targets (2 cores): verify >= 0.6x the /healthz rate, verify p99 < 50 ms, every scan logged.
The machine may be shared: the load average is printed before and after; re-run on a quiet
machine for figures to publish.
Run: .venv/bin/python bench/bench_verify.py [--db sqlite,postgresql] [--clients 16]
     [--seconds 10] [--workers 2] [--threads 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.employment_code import EmploymentCodes, generate_key, scan_log, store  # noqa: E402
from huimin.platform import schema as _models  # noqa: E402, F401 - every mapper configured
from huimin.platform.db import Database  # noqa: E402
from huimin.residents.models import Resident  # noqa: E402
from scripts.stack import ROOT, free_port, http_ok, wait_until  # noqa: E402
from tests.services import claimed_redis_db, migrated_database  # noqa: E402

RATIO_TARGET = 0.6
P99_TARGET_MS = 50.0
HOLDERS = 300
STATUSES = ("employed", "unemployed", "flexible")
VERIFY = "/api/v1/employment-code/verify"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- the load generator (runs in child processes) --------------------------------------------


def _client(port: int, method: str, path: str, bodies: list[bytes], stop_at: float,
            record_from: float, out: list[float], errors: list[int], ok: list[int],
            offset: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if method == "POST" else {}
    i = offset
    while (now := time.perf_counter()) < stop_at:
        body = bodies[i % len(bodies)] if bodies else None
        i += 1
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 599
        done = time.perf_counter()
        if status == 200:
            ok[0] += 1
        if now >= record_from:
            out.append(done - now)
            if status != 200:
                errors.append(status)
    conn.close()


def _load_process(
    args: tuple[int, str, str, list[bytes], int, float, float, int],
) -> tuple[list[float], list[int], int]:
    port, method, path, bodies, threads, warmup, seconds, seed = args
    start = time.perf_counter()
    record_from, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    errors: list[int] = []
    oks = [[0] for _ in range(threads)]
    workers = [
        threading.Thread(target=_client, args=(port, method, path, bodies, stop_at, record_from,
                                               latencies, errors, oks[n], seed * 1000 + n))
        for n in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies, errors, sum(o[0] for o in oks)


def run_load(port: int, method: str, path: str, bodies: list[bytes], clients: int,
             warmup: float, seconds: float) -> dict[str, float]:
    """Closed loop: `clients` connections, each sending its next request on the answer."""
    procs = 2 if clients > 1 else 1
    split = [clients // procs + (1 if n < clients % procs else 0) for n in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        results = pool.map(_load_process, [
            (port, method, path, bodies, n, warmup, seconds, seed)
            for seed, n in enumerate(split)])
    latencies = sorted(x for lat, _, _ in results for x in lat)
    errors = [e for _, err, _ in results for e in err]
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"n": len(latencies), "rate": len(latencies) / seconds, "p50": q[49] * 1000,
            "p99": q[98] * 1000, "errors": len(errors), "ok": sum(r[2] for r in results)}


# ---- the server and its data ------------------------------------------------------------------


def seed(url: str, codes: EmploymentCodes) -> list[bytes]:
    """Holders with codes of each status; the request bodies, one per code."""
    db = Database(url)
    bodies = []
    with db.session() as s:
        residents = [Resident(external_id=f"bench-{n}", employment_status=STATUSES[n % 3])
                     for n in range(HOLDERS)]
        s.add_all(residents)
        s.flush()
        for r in residents:
            issued = store.issue_code(s, codes, r.id)
            bodies.append(json.dumps({"code": issued.code}).encode())
    db.engine.dispose()
    return bodies


def web_cpu_seconds(master: int) -> float:
    """CPU time (user + system) used so far by the gunicorn master `master` and its
    workers: on a shared machine, CPU per request is steadier than requests per second."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == master or int(fields[1]) == master:  # pid or ppid
                total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def measured(web: tuple[int, int], method: str, path: str, bodies: list[bytes],
             args: argparse.Namespace) -> dict[str, float]:
    """`run_load`, plus the web tier's CPU milliseconds per answered request (warm-up
    included in both counts)."""
    port, master = web
    cpu = web_cpu_seconds(master)
    result = run_load(port, method, path, bodies, args.clients, args.warmup, args.seconds)
    result["cpu_ms"] = (web_cpu_seconds(master) - cpu) * 1000 / max(result["ok"], 1)
    return result


@contextmanager
def server(env: dict[str, str], workers: int, threads: int, log: Path,
           root: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    cmd = [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--worker-class",
           "gthread", "--workers", str(workers), "--threads", str(threads), "--timeout", "60",
           "--log-level", "warning", "webapp:create_app()"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/healthz"), 120, "gunicorn")
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


@contextmanager
def flusher(env: dict[str, str], log: Path, root: Path) -> Iterator[None]:
    """The worker's flush job in a loop, in its own process, every second (not the cron's
    half minute), so that writing the scans to the database is paid inside the timed run."""
    if not (root / "jobs" / "employment_code.py").exists():
        yield  # an older checkout: it writes each scan in the request
        return
    code = ("import time\nfrom jobs.employment_code import flush_scans\n"
            "while True:\n    flush_scans()\n    time.sleep(1)\n")
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def bench_db(kind: str, args: argparse.Namespace, redis_url: str, key_dir: Path,
             workdir: Path) -> None:
    codes = EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": str(key_dir)})
    with migrated_database(kind) as url:
        bodies = seed(url, codes)
        conn = redis.Redis.from_url(redis_url)
        conn.flushdb()
        env = dict(os.environ, DATABASE_URL=url, REDIS_URL=redis_url,
                   EMPLOYMENT_CODE_KEY_DIR=str(key_dir),
                   EMPLOYMENT_CODE_VERIFY_RATE_LIMIT="100000000/minute,100000000/hour",
                   PYTHONUNBUFFERED="1", SQLALCHEMY_SILENCE_UBER_WARNING="1")
        log = workdir / f"{kind}.log"
        root = args.app_root
        with server(env, args.workers, args.threads, log, root) as web, \
                flusher(env, log, root):
            health = measured(web, "GET", "/healthz", [], args)
            verify = measured(web, "POST", VERIFY, bodies, args)
            time.sleep(1)
        written = scan_log.flush(Database(url), conn)
        with Database(url).session() as s:
            logged = s.scalar(select(func.count()).select_from(store.ScanRecord))
        ratio = verify["rate"] / health["rate"]
        print(f"  {kind:<10} web CPU per request verify/healthz = "
              f"{verify['cpu_ms'] / health['cpu_ms']:.2f}")
        for name, r in (("GET /healthz", health), ("POST verify", verify)):
            print(f"  {kind:<10} {name:<13} {r['rate']:8.0f} req/s  p50={r['p50']:6.1f} ms  "
                  f"p99={r['p99']:6.1f} ms  non-200={r['errors']}  "
                  f"web CPU {r['cpu_ms']:.2f} ms/request")
        verdict = "OK" if ratio >= RATIO_TARGET and verify["p99"] < P99_TARGET_MS else "MISSED"
        print(f"  {kind:<10} ratio verify/healthz = {ratio:.2f} (target >= {RATIO_TARGET}), "
              f"verify p99 {verify['p99']:.1f} ms (target < {P99_TARGET_MS:.0f}): {verdict}")
        lost = verify["ok"] - logged
        verdict = "every scan logged" if lost == 0 else f"{lost} MISSING"
        print(f"  {kind:<10} verifications answered 200: {verify['ok']}, scans in the database: "
              f"{logged} (flushed at the end: {written}; on the stream: "
              f"{scan_log.pending(conn)}): {verdict}")
        conn.flushdb()


def offline(key_dir: Path, seconds: float) -> float:
    """Signature check alone, with the JWKS, in this process (one core)."""
    codes = EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": str(key_dir)})
    from huimin.employment_code import Status, new_subject_id

    batch = [codes.issue(new_subject_id(), s).code for s in list(Status) * 16]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for code in batch:
            assert codes.verify(code).valid
        done += len(batch)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--app-root", type=Path, default=ROOT, help=(
        "the checkout whose web app is served (default: this one); e.g. an export of an "
        "older commit, to compare before and after under the same conditions"))
    args = parser.parse_args()
    print(f"bench_verify  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"app: {args.app_root}; gunicorn gthread --workers {args.workers} "
          f"--threads {args.threads}; "
          f"{args.clients} clients, keep-alive, {args.warmup:.0f} s warm-up + "
          f"{args.seconds:.0f} s each; load average before: {load()}")
    with tempfile.TemporaryDirectory() as tmp, claimed_redis_db() as redis_url:
        workdir = Path(tmp)
        key_dir = workdir / "keys"
        generate_key("bench1", key_dir, activates_at=datetime.now(UTC) - timedelta(hours=1))
        for kind in args.db.split(","):
            bench_db(kind, args, redis_url, key_dir, workdir)
        rate = offline(key_dir, 3.0)
        print(f"  offline (JWKS-only signature check, in-process, 1 core, no HTTP/DB/log): "
              f"{rate:,.0f} verifications/s")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
