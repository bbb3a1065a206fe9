"""Waits until every component is ready, then prints the chat simulator's URL and the time
since `make run` started its stack (HUIMIN_RUN_STARTED, set by scripts/run.py)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.platform.settings import load_settings  # noqa: E402

url = f"http://127.0.0.1:{load_settings().ports.web}"
deadline = time.monotonic() + 600
last = None
while time.monotonic() < deadline:
    try:
        resp = requests.get(f"{url}/readyz", timeout=3)
        waiting = sorted(k for k, v in resp.json()["components"].items() if not v["ok"])
        if resp.status_code == 200:
            break
    except (requests.RequestException, ValueError, KeyError):
        waiting = ["web"]
    if waiting != last:
        print(f"==> waiting for: {', '.join(waiting)}", flush=True)
        last = waiting
    time.sleep(2)
else:
    print("some components did not become ready; see their logs in var/log/", flush=True)

started = float(os.environ.get("HUIMIN_RUN_STARTED", time.time()))
print(f"==> ready after {time.time() - started:.0f} s (processes' logs: var/log/<name>.log)")
print(f"\n  惠民助手 is ready. Open the chat simulator: {url}/\n", flush=True)
signal.pause()
