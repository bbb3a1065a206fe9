"""WeChat callback under load, against the full stack, compared with Rasa's own REST webhook.

Starts the Procfile's processes (web under gunicorn, Rasa, action server, RQ worker, WeChat
emulator) on free ports, as the tests do. N simulated citizens each send a fixed count of
messages from a realistic mix (MIX: more than half policy questions, whose long answers are
split over several messages, then guides, benefit checks, the office form and small talk),
one after another (each waits for its answer); the same load is sent straight to Rasa's REST
webhook in alternating rounds. Requests are real signed, encrypted WeChat envelopes built by
the emulator; late answers (customer-service messages sent after the passive reply's window)
are read back from the emulator's log to count them, duplicates and lost messages.

Without pauses (--think 0, the default) both sides are saturated, and the channel's overhead
shows as the saturation ratio (channel msg/s over Rasa's). With pauses the ratio only measures
the pauses, so it is not reported; latency and the late-answer count are.

Each measured path also reports every stack process's CPU time per message (its process
group's user + system time, from /proc): on a shared machine rates follow the other work, CPU
per message much less.

Targets (2 cores): zero 5xx, zero duplicate answers, zero lost messages, p99 < 1 s at 20
citizens with pauses, saturation ratio >= 0.8.
Run: .venv/bin/python bench/bench_callback.py [--users 20] [--messages 20] [--think 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests
import xmltodict
from sqlalchemy import create_engine, text
from wechatpy.crypto import WeChatCrypto

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import load_settings  # noqa: E402
from huimin.wechat import users as wechat_users  # noqa: E402
from huimin.wechat.channel import RATE_LIMITED  # noqa: E402
from huimin.wechat.conversation import FALLBACK_TEXT  # noqa: E402
from scripts.stack import (  # noqa: E402
    ROOT,
    Process,
    free_port,
    http_ok,
    procfile,
    stack_env,
    wait_until,
)
from tests.services import claimed_redis_db  # noqa: E402

# What citizens send, in proportion: 11 of 20 policy questions (long answers split over several
# messages), 3 guides (a step-by-step session: start, then a step answered), 2 benefit checks,
# the office form (2 turns) and small talk. Each citizen goes through it in its own order.
MIX = (
    "失业金怎么领", "灵活就业人员社保怎么交", "退休金什么时候发", "医保卡丢了怎么办",
    "养老保险交满多少年才能领", "高校毕业生有什么就业补贴", "工伤怎么认定",
    "创业担保贷款怎么申请", "失业保险金能领多久", "生育津贴怎么算", "职业技能培训有补贴吗",
    "教我做养老金认证", "下一步", "带我办失业登记",
    "我失业了 能申请什么补贴", "我退休了 还有什么待遇能领",
    "社保局在哪里", "东城区",
    "你好", "谢谢",
)
P99_TARGET_S = 1.0
RATIO_TARGET = 0.8


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    passive: dict[str, int] = field(default_factory=dict)  # openid -> real passive answers
    apologies: int = 0  # the assistant-down apology (the answer follows later)
    limited: int = 0  # the rate-limit notice (the citizen is asked to send again)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds used

    def merge(self, other: Run) -> None:
        self.latencies += other.latencies
        for name, used in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + used
        self.statuses += other.statuses
        self.seconds += other.seconds
        for openid, n in other.passive.items():
            self.passive[openid] = self.passive.get(openid, 0) + n
        self.apologies += other.apologies
        self.limited += other.limited

    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]


def start_stack(env: dict[str, str], app_root: Path = ROOT) -> dict[str, Process]:
    log_dir = ROOT / "var" / "bench-logs"
    procs = {name: Process(name, cmd, env, log_dir, cwd=app_root)
             for name, cmd in procfile(app_root / "Procfile").items() if name in
             ("rasa", "emulator", "actions", "worker", "web")}
    for proc in procs.values():
        proc.start()
    conn = redis.Redis.from_url(env["REDIS_URL"])
    checks: dict[str, Callable[[], bool]] = {
        "web": http_ok(f"http://127.0.0.1:{env['WEB_PORT']}/healthz"),
        "emulator": http_ok(f"http://127.0.0.1:{env['EMULATOR_PORT']}/_emulator/health"),
        "actions": http_ok(f"http://127.0.0.1:{env['ACTION_PORT']}/health"),
        "worker": lambda: bool(conn.keys("rq:worker:*")),
        "rasa": lambda: _rasa_ready(env),
    }
    try:
        for name, check in checks.items():
            proc = procs[name]

            def alive_and_ready(p: Process = proc, c: Callable[[], bool] = check) -> bool:
                if not p.alive():
                    raise RuntimeError(f"{p.name} exited:\n{p.tail()}")
                return c()

            wait_until(alive_and_ready, 600, name)
    except BaseException:  # a stack that never came up leaves no processes behind
        for proc in procs.values():
            proc.stop()
        raise
    return procs


def _rasa_ready(env: dict[str, str]) -> bool:
    try:
        resp = requests.get(f"{env['RASA_URL']}/status", params={"token": env["RASA_TOKEN"]},
                            timeout=2)
        return resp.ok and bool(resp.json().get("model_file"))
    except (requests.RequestException, ValueError):
        return False


def message(user: int, n: int) -> str:
    """The n-th message of citizen `user`: the mix in an order of that citizen's own (a
    guide's start stays before its next step, the office question before the district)."""
    order = list(range(len(MIX)))
    random.Random(user).shuffle(order)
    pairs = {MIX.index("下一步"): MIX.index("教我做养老金认证"), MIX.index("东城区"):
             MIX.index("社保局在哪里")}
    for second, first in pairs.items():
        order.remove(second)
        order.insert(order.index(first) + 1, second)
    return MIX[order[n % len(order)]]


_TICK = os.sysconf("SC_CLK_TCK")


def group_cpu(procs: dict[str, Process]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each stack process's process group (Rasa's
    worker processes, gunicorn's workers): a steadier figure than rates on a shared machine,
    where the run queue sets latency and throughput."""
    groups = {p.popen.pid: name for name, p in procs.items() if p.popen is not None}
    used = dict.fromkeys(groups.values(), 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        name = groups.get(int(fields[2]))  # the process group
        if name is not None:
            used[name] += (int(fields[11]) + int(fields[12])) / _TICK
    return used


def run_threads(users: int, work: Callable[[int, Run, threading.Lock], None],
                procs: dict[str, Process] | None = None) -> Run:
    run, lock = Run(), threading.Lock()
    barrier = threading.Barrier(users + 1)

    def body(i: int) -> None:
        barrier.wait()
        work(i, run, lock)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    cpu_before = group_cpu(procs) if procs else {}
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - started
    if procs:
        run.cpu = {k: v - cpu_before[k] for k, v in group_cpu(procs).items()}
    return run


def pause(think: float, rng: random.Random) -> None:
    """A citizen reads the answer and types the next message (0: no pause, full load)."""
    if think > 0:
        time.sleep(rng.uniform(0.5 * think, 1.5 * think))


def arrive(think: float, rng: random.Random) -> None:
    """With pauses, citizens start at random moments within one pause, as real ones do; the
    all-at-once burst is what the no-pause runs measure."""
    if think > 0:
        time.sleep(rng.uniform(0, think))


def rasa_direct(env: dict[str, str], senders: list[str], messages: int, think: float,
                procs: dict[str, Process] | None = None) -> Run:
    url = f"{env['RASA_URL']}/webhooks/rest/webhook"

    def work(i: int, run: Run, lock: threading.Lock) -> None:
        http, sender = requests.Session(), senders[i]
        rng = random.Random(i)
        arrive(think, rng)
        for n in range(messages):
            t0 = time.perf_counter()
            # A connection per message, as the channel sends them (huimin/assistant/client.py).
            resp = http.post(url, json={"sender": sender, "message": message(i, n)},
                             headers={"Connection": "close"}, timeout=30)
            took = time.perf_counter() - t0
            with lock:
                run.latencies.append(took)
                run.statuses.append(resp.status_code)
            pause(think, rng)

    return run_threads(len(senders), work, procs)


def channel(env: dict[str, str], openids: list[str], messages: int, think: float,
            procs: dict[str, Process] | None = None) -> Run:
    settings = load_settings()
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    url = f"http://127.0.0.1:{env['WEB_PORT']}/wechat/callback"
    emulator = f"http://127.0.0.1:{env['EMULATOR_PORT']}/_emulator/envelope"

    def work(i: int, run: Run, lock: threading.Lock) -> None:
        http, openid, rng = requests.Session(), openids[i], random.Random(i)
        answers = apologies = limited = 0
        arrive(think, rng)
        for n in range(messages):
            # The emulator plays WeChat's servers: it builds the signed, encrypted envelope
            # and notes the citizen's message (WeChat's customer-service window and quota).
            built = http.post(emulator, json={"openid": openid, "msg_type": "text",
                                              "content": message(i, n)},
                              timeout=10).json()
            t0 = time.perf_counter()
            resp = http.post(url, params=built["query"], data=built["body"].encode(),
                             headers={"Content-Type": "text/xml"}, timeout=30)
            took = time.perf_counter() - t0
            content = ""
            if resp.status_code == 200 and resp.text != "success":
                outer = xmltodict.parse(resp.text)["xml"]
                inner = crypto.decrypt_message(resp.text, outer["MsgSignature"],
                                               outer["TimeStamp"], outer["Nonce"])
                content = xmltodict.parse(inner)["xml"]["Content"] or ""
            if content == FALLBACK_TEXT:
                apologies += 1
            elif content == RATE_LIMITED:
                limited += 1
            elif content:
                answers += 1
            with lock:
                run.latencies.append(took)
                run.statuses.append(resp.status_code)
            pause(think, rng)
        with lock:
            run.passive[openid] = answers
            run.apologies += apologies
            run.limited += limited

    return run_threads(len(openids), work, procs)


def late_answers(env: dict[str, str], openids: list[str], expected: int, passive: dict[str, int],
                 settle: float) -> tuple[dict[str, int], int, int]:
    """Customer-service answers per citizen, once every message is answered or recorded for
    staff (or after `settle` s); also (recorded for staff, items still queued)."""
    conn = redis.Redis.from_url(env["REDIS_URL"])
    engine = create_engine(env["DATABASE_URL"])
    secret = pseudonym_secret(load_settings())
    outboxes = [f"huimin:wechat:outbox:{wechat_users.pseudonym(o, secret)}" for o in openids]
    emulator = f"http://127.0.0.1:{env['EMULATOR_PORT']}"

    def state() -> tuple[dict[str, int], int, int]:
        msgs = requests.get(f"{emulator}/_emulator/messages", timeout=10).json()["messages"]
        counts = dict.fromkeys(openids, 0)
        for m in msgs:
            if m["touser"] in counts:
                counts[m["touser"]] += 1
        with engine.connect() as db:
            recorded = db.execute(text(
                "SELECT count(*) FROM wechat_undelivered WHERE openid LIKE 'o-bench-%'"
            )).scalar_one()
        return counts, recorded, sum(conn.llen(k) for k in outboxes)

    deadline = time.monotonic() + settle
    while True:
        counts, recorded, queued = state()
        done = sum(passive.values()) + sum(counts.values()) + recorded >= expected
        if (done and not queued) or time.monotonic() > deadline:
            break
        time.sleep(1)
    time.sleep(3)  # anything arriving now would be a duplicate
    result = state()
    engine.dispose()
    return result


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i}-{uuid.uuid4().hex[:8]}" for i in range(n)]


def report(label: str, run: Run) -> None:
    errors = sum(1 for s in run.statuses if s >= 500)
    print(f"{label:<26} n={len(run.latencies):<5} p50={run.quantile(50) * 1000:7.1f} ms  "
          f"p95={run.quantile(95) * 1000:7.1f} ms  p99={run.quantile(99) * 1000:7.1f} ms  "
          f"max={max(run.latencies) * 1000:7.1f} ms  {run.rate():6.1f} msg/s  5xx={errors}")
    if run.cpu:
        n = len(run.latencies)
        print(f"{'':<26} CPU per message: " + "  ".join(
            f"{name} {used / n * 1000:.1f} ms" for name, used in sorted(run.cpu.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20, help="messages per user")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating rounds the messages are split into")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a user pauses between messages (0: full load)")
    parser.add_argument("--app-root", type=Path, default=ROOT, help=(
        "serve the app from this tree (e.g. an export of an older commit, with its venv links "
        "and trained model) to compare it under the same load"))
    args = parser.parse_args()
    if not list((args.app_root / "models").glob("*.tar.gz")):
        sys.exit("no trained model: run `make train` first")
    print(f"bench_callback  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.node()} "
          f"{os.cpu_count()} cores; command: {' '.join(sys.argv)}; app: {args.app_root}; "
          f"load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    with claimed_redis_db() as redis_url, tempfile.TemporaryDirectory() as tmp:
        ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
        env = stack_env(dict(os.environ), ports, redis_url, f"sqlite:///{tmp}/bench.db")
        flask = [sys.executable, "-m", "flask", "--app", "webapp"]
        for command in ("init-db", "seed"):
            subprocess.run([*flask, command], check=True, cwd=args.app_root, env=env,
                           capture_output=True)
        print("starting the stack (Rasa loads its model: about a minute) ...", flush=True)
        procs = start_stack(env, args.app_root)
        try:
            print(f"warming up; then {args.users} users x {args.messages} messages, "
                  f"think time {args.think} s; load average {os.getloadavg()[0]:.1f}",
                  flush=True)
            rasa_direct(env, ids("warm", args.users), len(MIX), 0)
            channel(env, ids("o-warm", args.users), len(MIX), 0)
            time.sleep(10)  # let late warm-up answers finish before measuring
            solo_rasa = rasa_direct(env, ids("solo", 1), 30, 0)
            solo_chan = channel(env, ids("o-solo", 1), 30, 0)
            # The same load both ways, in alternating rounds (A B B A ...), so that other work
            # on the machine weighs on both alike.
            senders, openids = ids("bench", args.users), ids("o-bench", args.users)
            rasa, chan = Run(), Run()
            per_round = max(1, args.messages // args.rounds)
            for r in range(args.rounds):
                phases = [(rasa, lambda: rasa_direct(env, senders, per_round, args.think,
                                                     procs)),
                          (chan, lambda: channel(env, openids, per_round, args.think, procs))]
                for total, phase in phases if r % 2 == 0 else reversed(phases):
                    total.merge(phase())
            sent = per_round * args.rounds
            late, recorded, queued = late_answers(
                env, openids, args.users * sent - chan.limited, chan.passive, settle=300)
        finally:
            for proc in procs.values():
                proc.stop()

    report("1 user: Rasa webhook", solo_rasa)
    report("1 user: WeChat callback", solo_chan)
    report("Rasa REST webhook", rasa)
    report("WeChat callback", chan)
    print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine)")
    answered = {o: chan.passive.get(o, 0) + late[o] for o in openids}
    duplicates = sum(max(0, n - sent) for n in answered.values())
    # Not lost: messages recorded for staff follow-up, and rate-limited ones (the citizen was
    # told to send again).
    unanswered = sum(max(0, sent - n) for n in answered.values())
    lost = max(0, unanswered - chan.limited - recorded)
    errors = sum(1 for s in chan.statuses if s >= 500)
    saturated = args.think == 0
    ratio = chan.rate() / rasa.rate()
    print(f"answers: passive {sum(chan.passive.values())}, late (customer-service) "
          f"{sum(late.values())}, apologies {chan.apologies}, rate-limit notices {chan.limited}, "
          f"recorded for staff {recorded}, still queued {queued}; "
          f"duplicates {duplicates}, lost {lost}")
    if saturated:
        print(f"saturation ratio channel/Rasa = {ratio:.2f} ({chan.rate():.1f} vs "
              f"{rasa.rate():.1f} msg/s, no pauses: both saturated)")
    else:
        print(f"with {args.think} s pauses no throughput ratio is reported (it measures the "
              f"pauses); late answers: {sum(late.values())} of {args.users * sent}")
    checks = {
        "zero 5xx": errors == 0,
        "zero duplicates": duplicates == 0,
        "zero lost": lost == 0,
    }
    if saturated:
        checks[f"saturation ratio >= {RATIO_TARGET}"] = ratio >= RATIO_TARGET
    else:
        checks[f"p99 < {P99_TARGET_S:.0f} s"] = chan.quantile(99) < P99_TARGET_S
    print("targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in checks.items()))


if __name__ == "__main__":
    main()
