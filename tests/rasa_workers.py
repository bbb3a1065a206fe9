"""Rasa's worker processes seen from outside: each response names its worker (X-Rasa-Worker,
huimin/ops/rasa_server.py), and each worker swaps models on its own poll of the model server,
so "Rasa runs model X" means every worker answers with X."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

HEADER = "X-Rasa-Worker"


def worker_pids(master_pid: int) -> set[int]:
    """The worker processes under the Rasa server's main process."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return {int(c) for c in children}


def status(url: str, token: str) -> tuple[int, str]:
    """(worker pid, model id) from one /status on a new connection; no model id from a worker
    that has no model (Rasa answers 409 then)."""
    resp = requests.get(f"{url}/status", params={"token": token},
                        headers={"Connection": "close"}, timeout=30)
    if resp.status_code == 409:
        return int(resp.headers[HEADER]), ""
    resp.raise_for_status()
    return int(resp.headers[HEADER]), resp.json()["model_id"]


def models_by_worker(url: str, token: str, master_pid: int, want: str, timeout: float,
                     answers: list[str] | None = None) -> dict[int, str]:
    """The model each worker serves, sampled with concurrent requests (so that every worker
    takes some) until every worker serves `want` or `timeout` s pass. Every model id seen
    is appended to `answers` when given."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool:
        while time.monotonic() < deadline:
            for pid, model in pool.map(lambda _: status(url, token), range(16)):
                seen[pid] = model
                if answers is not None:
                    answers.append(model)
            if set(seen) >= worker_pids(master_pid) and all(m == want for m in seen.values()):
                break
            time.sleep(0.5)
    return seen
