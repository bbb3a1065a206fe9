"""`make run`'s launcher on a machine with no Redis at REDIS_URL: it starts one, migrates,
seeds, starts every process and prints the simulator URL; a process that dies is restarted
while the rest keeps answering; Ctrl-C stops everything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis
import requests

from scripts.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


class Console:
    """`make run`'s output, read on a thread of its own (a full pipe would stall the stack)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            self.lines.append(raw.decode(errors="replace"))

    def text(self) -> str:
        return "".join(self.lines)

    def tail(self) -> str:
        return "".join(self.lines[-40:])


@pytest.mark.timeout(900)  # a whole stack's start, twice a process restart, on a shared machine
def test_run_starts_its_own_redis_and_announces_the_simulator(tmp_path):
    redis_port = free_port()
    ports = {k: free_port() for k in ("WEB_PORT", "RASA_PORT", "ACTION_PORT", "EMULATOR_PORT")}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"}
    proc = subprocess.Popen([sys.executable, "scripts/run.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    console = Console(proc)
    try:
        deadline = time.monotonic() + 600
        while "Open the chat simulator" not in console.text():
            assert proc.poll() is None, console.tail()
            assert time.monotonic() < deadline, "no simulator URL printed:\n" + console.tail()
            time.sleep(0.5)
        assert f"no Redis at redis://127.0.0.1:{redis_port}/0" in console.text()
        assert redis.Redis(port=redis_port).ping()
        web = f"http://127.0.0.1:{ports['WEB_PORT']}"
        assert f"Open the chat simulator: {web}/" in console.text()
        assert requests.get(f"{web}/readyz", timeout=10).status_code == 200
        assert "惠民" in requests.get(f"{web}/", timeout=5).text
        _console_is_one_line_per_stage(console.text())
        _killed_processes_come_back(proc, console, web, ports)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=redis_port, socket_connect_timeout=1).ping()


def _supervised_pid(web_port: int, name: str) -> int:
    """The pid supervisord reports for `name` (0 while it is not running)."""
    conf = ROOT / "var" / f"supervisor-{web_port}" / "supervisord.conf"
    assert conf.stat().st_mode & 0o077 == 0  # it holds the control socket's password
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "supervisorctl"), "-c", str(conf), "pid",
                          name], capture_output=True, text=True, timeout=10).stdout.strip()
    return int(out) if out.isdigit() else 0


def _killed_processes_come_back(proc, console: Console, web: str, ports: dict) -> None:
    """SIGKILL the worker, then the action server: supervisord reports each exit and starts it
    again; meanwhile the stack is not stopped, the web app and Rasa keep answering, and
    /readyz turns green again."""
    rasa = f"http://127.0.0.1:{ports['RASA_PORT']}"
    for name in ("worker", "actions"):
        old = _supervised_pid(ports["WEB_PORT"], name)
        assert old > 0, console.tail()
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, console.tail()  # the stack was not stopped
            assert requests.get(f"{web}/healthz", timeout=5).status_code == 200
            assert requests.get(f"{rasa}/", timeout=5).status_code == 200
            new = _supervised_pid(ports["WEB_PORT"], name)
            if new not in (0, old) and requests.get(f"{web}/readyz", timeout=5).ok:
                break
            assert time.monotonic() < deadline, f"{name} not back:\n" + console.tail()
            time.sleep(0.5)
        assert f"exited: {name} (terminated by SIGKILL; not expected)" in console.text()


def _console_is_one_line_per_stage(text: str) -> None:
    """Each stage is one line with its elapsed time; the processes' output (library warnings,
    access logs) is in var/log/<name>.log, not on the console."""
    for stage in ("migrating the database", "loading demo data", "registering the trained model"):
        assert re.search(rf"==> {stage}.* \.\.\. done \(\d+\.\d s\)", text), text
    assert re.search(r"==> ready after \d+ s", text), text
    assert "Warning" not in text and "Traceback" not in text, text
    assert "CRIT" not in text, text  # supervisord's "running as root" / "no authentication"
    assert len(text.splitlines()) < 40, text
    for name in ("web", "rasa", "actions", "worker"):
        log = ROOT / "var" / "log" / f"{name}.log"
        assert log.exists() and log.stat().st_size > 0, f"{log} empty"
    assert "init-db" in (ROOT / "var" / "log" / "setup.log").read_text(encoding="utf-8")
