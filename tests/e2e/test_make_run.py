"""`make run`'s launcher on a machine with no Redis at REDIS_URL: it starts one, migrates,
seeds, starts every process and prints the simulator URL; Ctrl-C stops everything."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest
import redis
import requests

from scripts.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


def test_run_starts_its_own_redis_and_announces_the_simulator(tmp_path):
    redis_port = free_port()
    ports = {k: free_port() for k in ("WEB_PORT", "RASA_PORT", "ACTION_PORT", "EMULATOR_PORT")}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"}
    proc = subprocess.Popen([sys.executable, "scripts/run.py"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                line = proc.stdout.readline().decode(errors="replace")
                output.append(line)
                if "Open the chat simulator" in line:
                    break
            assert proc.poll() is None, "".join(output[-40:])
        else:
            pytest.fail("no simulator URL printed:\n" + "".join(output[-40:]))
        assert f"no Redis at redis://127.0.0.1:{redis_port}/0" in "".join(output)
        assert redis.Redis(port=redis_port).ping()
        web = f"http://127.0.0.1:{ports['WEB_PORT']}"
        assert f"{web}/" in line
        assert requests.get(f"{web}/readyz", timeout=10).status_code == 200
        assert "惠民" in requests.get(f"{web}/", timeout=5).text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=redis_port, socket_connect_timeout=1).ping()
