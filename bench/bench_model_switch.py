"""Model activation under traffic: does any request fail, and how long until the new model
answers?

Starts web (the model server), Rasa and the action server from the Procfile on free ports, with a
fresh database. Model A is the one `make train` built; model B is the same network re-packed
with a new model id (a different file, so Rasa really downloads and loads it; `--train` trains a
real one instead, several minutes). While simulated citizens keep talking to Rasa (REST webhook,
one request at a time each, plus a form conversation spanning each switch), B is activated
through the registry, then A is rolled back to. Printed: requests and failures, latency before
and during the switches, time from activation (and rollback) to the new model answering.

`--compare-stock` runs the same with Rasa's stock `rasa run` (which loads a pulled model on its
event loop) for comparison with huimin.ops.rasa_server (which loads it on a thread).

Target: zero failed requests. Run: .venv/bin/python bench/bench_model_switch.py
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.ops import model_store, registry, training  # noqa: E402
from huimin.ops.gate import load_gate_config  # noqa: E402
from huimin.platform.db import Database  # noqa: E402
from huimin.platform.settings import (
    OpsSettings,  # noqa: E402
    load_settings,  # noqa: E402
)
from scripts.stack import ROOT, Process, free_port, http_ok, procfile, stack_env, wait_until  # noqa: E402
from tests.services import claimed_redis_db  # noqa: E402

CITIZENS = 4
SETTLE_SECONDS = 8
SWITCH_TIMEOUT = 600


@dataclass
class Sample:
    at: float
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class Traffic:
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def talk(rasa: str, traffic: Traffic, name: str) -> None:
    """One citizen: greetings, questions and the office form, one message at a time."""
    script = ("你好", "社保局在哪里", "东城区", "谢谢", "失业金怎么领", "再见")
    n = 0
    while not traffic.stop.is_set():
        sender = f"{name}-{n // len(script)}"
        text = script[n % len(script)]
        n += 1
        started = time.monotonic()
        try:
            resp = requests.post(f"{rasa}/webhooks/rest/webhook", timeout=120,
                                 json={"sender": sender, "message": text})
            ok = resp.status_code == 200 and bool(resp.json())
            detail = "" if ok else f"{resp.status_code} {resp.text[:80]}"
        except (requests.RequestException, ValueError) as exc:
            ok, detail = False, repr(exc)[:120]
        traffic.record(Sample(time.time(), time.monotonic() - started, ok, detail))
        time.sleep(0.1)


def repack(source: Path, target: Path) -> str:
    """The same model under a new model id (metadata.json), as a different archive."""
    model_id = uuid.uuid4().hex
    with (
        tarfile.open(source, "r:gz") as src,
        gzip.open(target, "wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w") as dst,
    ):
        for member in src:
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "metadata.json" and data is not None:
                meta = json.load(data)
                meta["model_id"] = model_id
                raw = json.dumps(meta).encode()
                member.size = len(raw)
                dst.addfile(member, io.BytesIO(raw))
            else:
                dst.addfile(member, data)
    return model_id


def status(rasa: str, token: str) -> dict:
    try:
        return requests.get(f"{rasa}/status", params={"token": token}, timeout=5).json()
    except (requests.RequestException, ValueError):
        return {}


def wait_for_model(rasa: str, token: str, model_id: str) -> float:
    started = time.time()
    while status(rasa, token).get("model_id") != model_id:
        if time.time() - started > SWITCH_TIMEOUT:
            raise TimeoutError(f"Rasa did not switch to {model_id}")
        time.sleep(0.25)
    return time.time() - started


def summarise(traffic: Traffic, windows: list[tuple[float, float]]) -> dict:
    def in_window(s: Sample) -> bool:
        return any(a <= s.at <= b + 1 for a, b in windows)

    during = [s.seconds for s in traffic.samples if in_window(s)]
    outside = [s.seconds for s in traffic.samples if not in_window(s)]
    failed = [s for s in traffic.samples if not s.ok]
    return {
        "requests": len(traffic.samples), "failed": len(failed),
        "failures": [s.detail for s in failed[:5]],
        "median_s_outside_switch": round(statistics.median(outside), 3) if outside else None,
        "median_s_during_switch": round(statistics.median(during), 3) if during else None,
        "max_s_during_switch": round(max(during), 3) if during else None,
        "requests_during_switch": len(during),
    }


def run(stock: bool, train: bool) -> dict:
    ops_dir = Path(tempfile.mkdtemp(prefix="huimin-bench-switch-"))
    with claimed_redis_db() as redis_url:
        ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
        env = stack_env(dict(os.environ), ports, redis_url, f"sqlite:///{ops_dir / 'bench.db'}")
        env["OPS_TRAINING_DIR"] = str(ops_dir / "training")
        os.environ["OPS_TRAINING_DIR"] = env["OPS_TRAINING_DIR"]
        flask = [sys.executable, "-m", "flask", "--app", "webapp"]
        for args in (["init-db"], ["seed"], ["model", "install-built"]):
            subprocess.run([*flask, *args], check=True, cwd=ROOT, env=env, capture_output=True)
        commands = procfile()
        if stock:
            commands["rasa"] = commands["rasa"].replace(
                ".venv-rasa/bin/python -m huimin.ops.rasa_server", ".venv-rasa/bin/rasa")
        log_dir = ROOT / "var" / "bench-logs"
        procs = {name: Process(f"switch-{name}", commands[name], env, log_dir)
                 for name in ("web", "rasa", "actions")}
        for proc in procs.values():
            proc.start()
        rasa, token = f"http://127.0.0.1:{ports['rasa']}", env["RASA_TOKEN"]
        db = Database(env["DATABASE_URL"])
        ops = OpsSettings()
        try:
            wait_until(http_ok(f"http://127.0.0.1:{ports['web']}/healthz"), 60, "web")
            wait_until(lambda: bool(status(rasa, token).get("model_id")), 600, "Rasa")
            with db.session() as s:
                model_a = registry.active_model(s)
                a_id, a_rasa, a_sha = model_a.id, model_a.rasa_model_id, model_a.sha256
            a_path = model_store.export(db, a_sha, ops_dir / "model-a.tar.gz")
            if train:
                print("training model B (several minutes) ...", flush=True)
                subprocess.run([*flask, "model", "train"], check=True, cwd=ROOT, env=env)
                with db.session() as s:
                    model_b = registry.list_models(s)[0]
                    b_id, b_rasa = model_b.id, model_b.rasa_model_id
            else:
                # B is A's network: A's held-out evaluation is B's too (and the gate needs one).
                print("evaluating model A on the held-out file ...", flush=True)
                scores = training.evaluate(ops, a_path, ops_dir / "report", lambda _line: None)
                b_file = ops_dir / "model-b.tar.gz"
                b_rasa = repack(a_path, b_file)
                with db.session() as s:
                    s.get(registry.ModelRecord, a_id).evaluation = scores
                    b_id = registry.register(
                        s, b_file, name="huimin-bench-b", origin=registry.TRAINED,
                        started_by="bench", evaluation=scores,
                    ).id
            traffic = Traffic()
            threads = [
                threading.Thread(target=talk, args=(rasa, traffic, f"c{i}-{uuid.uuid4().hex[:4]}"),
                                 daemon=True)
                for i in range(CITIZENS)
            ]
            for t in threads:
                t.start()
            time.sleep(SETTLE_SECONDS)
            gate = load_gate_config(ops.gate_file, ops.gate_tolerance)
            with db.session() as s:
                activated = time.time()
                outcome = registry.activate(s, b_id, gate, "bench")
                if not outcome.ok:
                    raise SystemExit(f"model B refused by the gate: {outcome.message}")
            to_b = wait_for_model(rasa, token, b_rasa)
            switched_b = time.time()
            time.sleep(SETTLE_SECONDS)
            with db.session() as s:
                rolled = time.time()
                assert registry.rollback(s, "bench", a_id).ok
            to_a = wait_for_model(rasa, token, a_rasa)
            switched_a = time.time()
            time.sleep(SETTLE_SECONDS)
            traffic.stop.set()
            for t in threads:
                t.join(130)
            result = summarise(traffic, [(activated, switched_b), (rolled, switched_a)])
            result.update(server="rasa run (stock)" if stock else "huimin.ops.rasa_server",
                          activation_to_answering_s=round(to_b, 1),
                          rollback_to_answering_s=round(to_a, 1))
            return result
        finally:
            db.engine.dispose()
            for proc in procs.values():
                proc.stop()
            shutil.rmtree(ops_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="train model B for real")
    parser.add_argument("--compare-stock", action="store_true",
                        help="also run with Rasa's stock server")
    args = parser.parse_args()
    if not load_settings().rasa_token:
        raise SystemExit("RASA_TOKEN is empty")
    results = [run(stock=False, train=args.train)]
    if args.compare_stock:
        results.append(run(stock=True, train=False))
    for result in results:
        print(json.dumps(result, ensure_ascii=False, indent=2), flush=True)
    return 0 if all(r["failed"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
