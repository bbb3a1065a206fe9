"""Chaos: citizens' questions through the WeChat callback while parts of the stack fail.

Starts the whole stack (web, Rasa, actions, worker, trainer, WeChat emulator) on a private
redis-server and a private PostgreSQL cluster (initdb/pg_ctl), both on free ports, so that
pausing, killing or terminating them disturbs nothing else on this machine. Then, one fault at
a time, citizens ask questions as WeChat delivers them (a retry after 5 s without an answer),
and each question is followed to its end: answered once (passively, or later as a
customer-service message), the apology then the answer, recorded for staff, or lost.

    .venv/bin/python bench/chaos.py [--rate 1.0] [--only redis-paused,...]

Prints one row per fault; lost, duplicated and replies over 5 s must all be 0. "/readyz green
after" counts from the fault's end; for Rasa killed, from Rasa serving its model again (how
long Rasa took to start is printed beside it).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults import (  # noqa: E402
    FaultStack,
    Outcome,
    PrivatePostgres,
    PrivateRedis,
    kill_worker_mid_drain,
    restart_rasa,
    scenario,
)


def _frozen(stack: FaultStack, name: str, seconds: float) -> None:
    stack.signal(name, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        stack.signal(name, signal.SIGCONT)


def faults(stack: FaultStack, redis: PrivateRedis, pg: PrivatePostgres
           ) -> dict[str, tuple[str, Callable[[], None], float]]:
    """name -> (description, the fault, how long the traffic lasts)."""

    def rasa_killed() -> None:
        # Down 2 s (a supervisor's restart delay); returns once Rasa serves its model again,
        # so "/readyz green after" counts from Rasa's return, as the 30 s bound does.
        took = restart_rasa(stack, down=2)
        print(f"    (Rasa served its model {took:.1f} s after it was started again)", flush=True)

    def actions_killed() -> None:
        stack.kill("actions")
        time.sleep(3)
        stack.start("actions")

    def redis_paused() -> None:
        redis.pause(15)
        time.sleep(15)

    def pg_terminated() -> None:
        for _ in range(3):
            pg.terminate_connections()
            time.sleep(2)

    def worker_killed() -> None:
        if not kill_worker_mid_drain(stack):
            print("    (no drain job was running at the kill)", flush=True)

    def wechat_5xx() -> None:
        requests.post(f"{stack.url('emulator')}/_emulator/faults", json={
            "path": "/cgi-bin/message/custom/send", "errcode": -1, "status": 503,
            "count": 20}, timeout=5).raise_for_status()
        _frozen(stack, "rasa", 10)  # answers go out late, through the failing API

    def wechat_timeout() -> None:
        stack.signal("rasa", signal.SIGSTOP)
        try:
            time.sleep(6)
            _frozen(stack, "emulator", 15)  # WeChat's API takes no calls at all
        finally:
            stack.signal("rasa", signal.SIGCONT)

    return {
        "rasa-frozen": ("Rasa frozen 30 s (SIGSTOP)", lambda: _frozen(stack, "rasa", 30), 36),
        "rasa-killed": ("Rasa killed, restarted", rasa_killed, 30),
        "actions-killed": ("action server killed, restarted after 3 s", actions_killed, 20),
        "redis-paused": ("Redis paused 15 s (CLIENT PAUSE ALL)", redis_paused, 20),
        "redis-restarted": ("Redis restarted", redis.restart, 15),
        "pg-terminated": ("PostgreSQL connections terminated", pg_terminated, 15),
        "pg-paused": ("PostgreSQL paused 15 s (SIGSTOP)", lambda: pg.pause(15), 20),
        "worker-killed": ("worker SIGKILL mid-job", worker_killed, 25),
        "wechat-5xx": ("WeChat API answering 503", wechat_5xx, 14),
        "wechat-timeout": ("WeChat API not answering 15 s", wechat_timeout, 14),
    }


def print_table(outcomes: list[Outcome]) -> None:
    columns = ["asked", "answered once", "apology, then answered", "recorded for staff",
               "still queued", "lost", "duplicated", "replies over 5 s", "5xx"]
    print("| fault | " + " | ".join(columns) + " | /readyz green after |")
    print("|---" * (len(columns) + 2) + "|")
    for o in outcomes:
        row = o.tally.row()
        ready = "never" if o.ready_after == float("inf") else f"{o.ready_after:.1f} s"
        print(f"| {o.fault} | " + " | ".join(str(row[c]) for c in columns) + f" | {ready} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1.0, help="questions per second")
    parser.add_argument("--only", default="", help="comma-separated fault names")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="huimin-chaos-"))
    redis, pg = PrivateRedis(work / "redis"), PrivatePostgres()
    redis.start()
    pg.start()
    stack = FaultStack(redis.url, pg.url, work / "logs")
    outcomes: list[Outcome] = []
    started = datetime.now(UTC)
    try:
        stack.prepare()
        stack.start_all()
        chosen = faults(stack, redis, pg)
        names = [n for n in args.only.split(",") if n] or list(chosen)
        for name in names:
            description, fault, duration = chosen[name]
            print(f"==> {description}", flush=True)
            outcome = scenario(stack, description, fault, duration=duration, rate=args.rate,
                               start_after=3, settle=180)
            outcomes.append(outcome)
            print(f"    {outcome.tally.row()} ready after {outcome.ready_after:.1f} s"
                  + (f" lost: {outcome.tally.lost_openids}" if outcome.tally.lost else ""),
                  flush=True)
    finally:
        stack.close()
        pg.stop()
        redis.stop()
    print(f"\nbench/chaos.py --rate {args.rate}, {started:%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()} ({os.cpu_count()} cores), load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; logs in {work}/logs\n")
    print_table(outcomes)
    bad = [o for o in outcomes if o.tally.lost or o.tally.duplicated or o.tally.slow]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
