"""Throughput and p99 through the load balancer, with two Rasa replicas and then one, in one run.

Builds the hosts of deploy/netns/topology.py (network namespaces; needs root): HAProxy in
front of web-1..2 and rasa-1..2, the rest as in production. N simulated citizens send WeChat
messages through the load balancer, each waiting for its answer (a closed loop), for a fixed
time; then rasa-2's host is stopped (HAProxy takes it out) and the same load runs against one
replica. A question answered passively counts; an apology or "success" (answer later) counts as
not answered in time. The load balancer's cost per message: the same request (GET /healthz,
and a WeChat message) straight to a web host and through HAProxy, alternating.

On a 2-core machine the second replica may add little: Rasa, the web hosts and the load
generator share the same two cores. The figures say what it does here.
Run: sudo .venv/bin/python bench/bench_scaleout.py [--users 8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.netns.topology import Topology  # noqa: E402
from huimin.wechat.channel import RATE_LIMITED, SORRY  # noqa: E402
from huimin.wechat.conversation import FALLBACK_TEXT  # noqa: E402

QUESTIONS = ("失业金怎么领", "灵活就业社保怎么交", "医保卡丢了怎么办", "你好",
             "养老保险交满多少年", "工伤怎么认定", "社保局在哪里", "谢谢")


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # answered in time, seconds
    late: int = 0  # apology or "success": the answer was not in the passive reply
    errors: int = 0  # 5xx or no response
    seconds: float = 0.0

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        return (f"| {self.name} | {len(lat) / self.seconds:.2f} | {p50 * 1000:.0f} | "
                f"{p99 * 1000:.0f} | {len(lat)} | {self.late} | {self.errors} |")


def deliver(hosts: Topology, base: str, text: str) -> tuple[float, str]:
    """One WeChat message to `base` (the lb or a web host): (seconds, opened passive reply)."""
    openid = f"o-bench-{uuid.uuid4().hex[:12]}"
    env = requests.post(f"{hosts.wechat_url}/_emulator/envelope",
                        json={"openid": openid, "msg_type": "text", "content": text,
                              "msg_id": str(10**15 + secrets.randbelow(9 * 10**15))},
                        timeout=10).json()
    started = time.monotonic()
    resp = requests.post(f"{base}/wechat/callback", params=env["query"],
                         data=env["body"].encode(), headers={"Content-Type": "text/xml"},
                         timeout=10)
    took = time.monotonic() - started
    if resp.status_code >= 500:
        return took, "5xx"
    if resp.text == "success":
        return took, ""
    opened = requests.post(f"{hosts.wechat_url}/_emulator/open",
                           json={"body": resp.text, "query": env["query"]}, timeout=10).json()
    return took, opened.get("content", "")


def load(hosts: Topology, phase: Phase, users: int, seconds: float) -> Phase:
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def citizen(index: int) -> None:
        turn = index
        while time.monotonic() < stop:
            try:
                took, reply = deliver(hosts, hosts.lb_url, QUESTIONS[turn % len(QUESTIONS)])
            except requests.RequestException:
                took, reply = 0.0, "5xx"
            turn += 1
            with lock:
                if reply == "5xx":
                    phase.errors += 1
                elif reply in ("", FALLBACK_TEXT, SORRY, RATE_LIMITED):
                    phase.late += 1
                else:
                    phase.latencies.append(took)

    started = time.monotonic()
    threads = [threading.Thread(target=citizen, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.monotonic() - started
    return phase


def lb_cost(hosts: Topology, rounds: int) -> tuple[float, float, float, float]:
    """Median seconds of GET /healthz and of a WeChat message, direct to web-1 and via lb."""
    direct_h, via_h, direct_m, via_m = [], [], [], []
    web = hosts.host_url("web-1")
    for i in range(rounds):
        for base, into in ((web, direct_h), (hosts.lb_url, via_h)):
            started = time.monotonic()
            requests.get(f"{base}/healthz", timeout=5)
            into.append(time.monotonic() - started)
        text = QUESTIONS[i % len(QUESTIONS)]
        for base, into in ((web, direct_m), (hosts.lb_url, via_m)):
            took, reply = deliver(hosts, base, text)
            if reply not in ("", "5xx", FALLBACK_TEXT, SORRY):
                into.append(took)
    med = statistics.median
    return med(direct_h), med(via_h), med(direct_m or [0]), med(via_m or [0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=60, help="lb cost: requests per kind")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="huimin-bench-scaleout-"))
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"building the hosts in {workdir} (several minutes) ...", flush=True)
    with Topology(workdir, web_hosts=2) as t:
        for text in QUESTIONS:  # warm both replicas (first answers load lazily)
            deliver(t, t.lb_url, text)
        direct_h, via_h, direct_m, via_m = lb_cost(t, args.rounds)
        two = load(t, Phase("2 Rasa replicas"), args.users, args.seconds)
        t.roles["rasa-2"].stop()
        time.sleep(4)  # HAProxy marks it down (2 failed checks, 1 s apart)
        one = load(t, Phase("1 Rasa replica"), args.users, args.seconds)
    print(f"\n## Scale-out through the load balancer ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n")
    print(f"command: sudo .venv/bin/python bench/bench_scaleout.py --users {args.users} "
          f"--seconds {args.seconds:g} --rounds {args.rounds}; machine: {platform.machine()}, "
          f"{os.cpu_count()} cores, "
          f"{platform.platform()}; load average before {load_before}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine)\n")
    print("| phase | answered/s | p50 ms | p99 ms | answered | late (apology/success) | 5xx |")
    print("|---|---|---|---|---|---|---|")
    print(two.row())
    print(one.row())
    print(f"\nload balancer cost (median of {args.rounds}): GET /healthz "
          f"{direct_h * 1000:.1f} ms direct, {via_h * 1000:.1f} ms via HAProxy "
          f"({(via_h - direct_h) * 1000:+.1f} ms); WeChat message {direct_m * 1000:.0f} ms "
          f"direct, {via_m * 1000:.0f} ms via HAProxy ({(via_m - direct_m) * 1000:+.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
