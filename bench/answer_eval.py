"""End-to-end answer evaluation: realistic citizen questions through the real WeChat path.

Starts the Procfile's processes (web, Rasa with the trained model, action server, RQ worker,
WeChat emulator) on free ports with their own Redis database and SQLite file, as the tests do.
Each case is one citizen (its own openid): its messages go out in order as signed, encrypted
WeChat envelopes (built by the emulator, as WeChat would) to /wechat/callback; the reply to the
last message is the passive reply plus the customer-service messages the emulator received for
it, in order — what the citizen's phone shows. The judge (huimin/ops/answer_eval.py) labels it.

Writes reports/answer-eval.json and reports/answer-eval.md (figures overall and per category,
the worst 20 cases with their reply text) and prints the figures.

Run: .venv/bin/python bench/answer_eval.py [--set tests/eval] [--concurrency 4] [--limit N]
(`make eval`, `make eval SET=tests/dev`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from huimin.ops.answer_eval import (  # noqa: E402
    Case,
    Judge,
    Result,
    load_cases,
    load_policies,
    report,
    result_of,
    worst,
)
from scripts.stack import ROOT, Process, free_port, http_ok, procfile, stack_env  # noqa: E402
from tests.services import claimed_redis_db  # noqa: E402

# The gate, which `make test` holds (tests/e2e/test_answer_eval.py), and its targets.
# Session 10 (2026-12-04, model 3f9ffc02): direct-right 0.896, wrong 0.006, so the gate holds
# by about 17 cases and 6 wrong answers, more than a model retrained elsewhere moves (a few
# cases); until then `make test` held a floor below it (0.83 / 0.025).
GATE = {"direct_right": 0.85, "wrong": 0.02}
TARGETS = {"direct_right": 0.92, "wrong": 0.01, "menu": 0.06, "referral_right": 0.90}
LATE_ANSWER_SECONDS = 60.0  # the assistant was late: wait this long for the follow-up message
SETTLE_SECONDS = 1.0  # after an answer, how long more parts (long answers) may take to arrive
STACK = ("rasa", "emulator", "actions", "worker", "web")


class Citizen:
    """One WeChat user talking to the callback; reads what its phone would show."""

    def __init__(self, web: str, emulator: str) -> None:
        self.web, self.emulator = web, emulator
        self.openid = f"o-eval-{uuid.uuid4().hex[:12]}"
        self.http = requests.Session()

    def _pushed(self) -> list[str]:
        msgs = self.http.get(f"{self.emulator}/_emulator/messages",
                             params={"touser": self.openid}, timeout=10).json()["messages"]
        return [m["body"]["text"]["content"] for m in msgs if m["body"].get("text")]

    def say(self, words: str) -> str:
        """Send one message; the passive reply and the customer-service messages for it."""
        before = len(self._pushed())
        env = self.http.post(f"{self.emulator}/_emulator/envelope",
                             json={"openid": self.openid, "msg_type": "text", "content": words},
                             timeout=10).json()
        resp = self.http.post(f"{self.web}/wechat/callback", params=env["query"],
                              data=env["body"].encode(), headers={"Content-Type": "text/xml"},
                              timeout=30)
        resp.raise_for_status()
        opened = self.http.post(f"{self.emulator}/_emulator/open",
                                json={"body": resp.text, "query": env["query"]},
                                timeout=10).json()
        passive = (opened.get("content") or "").strip()
        late = not passive or "助手现在有点忙" in passive
        deadline = time.monotonic() + (LATE_ANSWER_SECONDS if late else SETTLE_SECONDS)
        later: list[str] = []
        while time.monotonic() < deadline:
            now = self._pushed()[before:]
            if len(now) > len(later):  # a part arrived: give further parts a moment
                later, deadline = now, time.monotonic() + SETTLE_SECONDS
            time.sleep(0.25)
        return "\n".join([p for p in [passive] if p] + later)


def run_cases(cases: Sequence[Case], judge: Judge, web: str, emulator: str,
              concurrency: int = 4, progress: Callable[[int, int], None] | None = None,
              ) -> list[Result]:
    """Each case as its own citizen, `concurrency` citizens at a time."""
    done = 0

    def one(case: Case) -> Result:
        nonlocal done
        citizen = Citizen(web, emulator)
        started = time.monotonic()
        reply = ""
        for turn in case.turns:
            reply = citizen.say(turn)
        result = result_of(case, reply, judge.judge(case.expect, reply),
                           time.monotonic() - started)
        done += 1
        if progress:
            progress(done, len(cases))
        return result

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, cases))


# ---- the stack ---------------------------------------------------------------------------------


def _rasa_ready(env: dict[str, str]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            resp = requests.get(f"{env['RASA_URL']}/status",
                                params={"token": env["RASA_TOKEN"]}, timeout=2)
            return resp.ok and bool(resp.json().get("model_file"))
        except (requests.RequestException, ValueError):
            return False

    return check


@contextmanager
def running_stack() -> Iterator[dict[str, str]]:
    """The Procfile's processes on free ports, own Redis DB and SQLite file; yields URLs."""
    if not list((ROOT / "models").glob("*.tar.gz")):
        raise SystemExit("no trained model: run `make train`")
    with claimed_redis_db() as redis_url, tempfile.TemporaryDirectory() as tmp:
        ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
        env = stack_env(dict(os.environ), ports, redis_url, f"sqlite:///{tmp}/eval.db")
        flask = [sys.executable, "-m", "flask", "--app", "webapp"]
        for command in ("init-db", "seed"):
            subprocess.run([*flask, command], check=True, cwd=ROOT, env=env,
                           capture_output=True)
        procs = {n: Process(n, procfile()[n], env, ROOT / "var" / "eval-logs") for n in STACK}
        conn = redis.Redis.from_url(redis_url)
        checks: dict[str, Callable[[], bool]] = {
            "web": http_ok(f"http://127.0.0.1:{ports['web']}/healthz"),
            "emulator": http_ok(f"http://127.0.0.1:{ports['emulator']}/_emulator/health"),
            "actions": http_ok(f"http://127.0.0.1:{ports['actions']}/health"),
            "worker": lambda: bool(conn.keys("rq:worker:*")),
            "rasa": _rasa_ready(env),
        }
        try:
            for proc in procs.values():
                proc.start()
            for name, check in checks.items():
                _wait(procs[name], check)
            yield {"web": f"http://127.0.0.1:{ports['web']}",
                   "emulator": f"http://127.0.0.1:{ports['emulator']}"}
        finally:
            for proc in procs.values():
                proc.stop()
            conn.flushdb()


def _wait(proc: Process, check: Callable[[], bool], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s\n{proc.tail()}")


# ---- reports -----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def markdown(summary: dict, results: Sequence[Result], meta: dict) -> str:
    lines = [
        "# Answer evaluation", "",
        f"Set `{meta['set']}` ({meta['cases']} cases), {meta['date']}, {meta['seconds']:.0f} s, "
        f"concurrency {meta['concurrency']}, load average before {meta['load_before']}, "
        f"after {meta['load_after']}.", "",
        "| | cases | direct-right | menu | right first | wrong | referral right "
        "| oos handled | labels |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("overall", summary["overall"]), *summary["categories"].items()]
    for name, f in rows:
        labels = ", ".join(f"{k} {v}" for k, v in f["labels"].items())
        lines.append(
            f"| {name} | {f['cases']} | {_pct(f['direct_right'])} | {_pct(f['menu'])} | "
            f"{_pct(f['menu_right_first'])} | {_pct(f['wrong'])} | {_pct(f['referral_right'])} "
            f"| {_pct(f['oos_handled'])} | {labels} |")
    lines += ["", "## Worst 20", ""]
    for r in worst(results):
        first = "" if r.right_first is None else f", right policy first: {r.right_first}"
        lines += [f"### {r.id} ({r.category}) — {r.label}{first}",
                  f"Asked: {' → '.join(r.turns)}  ",
                  f"Expected: `{json.dumps(r.expect, ensure_ascii=False)}`", "", "```",
                  r.reply or "(nothing)", "```", ""]
    return "\n".join(lines)


def gate_failures(overall: dict, limits: dict[str, float] = GATE) -> list[str]:
    """Which of `limits` (by default the issue's gate) the figures break."""
    failures = []
    if (overall["direct_right"] or 0) < limits["direct_right"]:
        failures.append(f"direct-right {overall['direct_right']} < {limits['direct_right']}")
    if (overall["wrong"] or 0) > limits["wrong"]:
        failures.append(f"wrong {overall['wrong']} > {limits['wrong']}")
    return failures


def evaluate(case_dir: Path, urls: dict[str, str], concurrency: int, limit: int | None,
             out_dir: Path) -> tuple[dict, list[Result]]:
    """Run the set against a running stack, write the reports, return (summary, results)."""
    policies = load_policies(ROOT / "policies")
    cases = load_cases(case_dir, policies)[:limit]
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            print(f"  {done}/{total} cases", flush=True)

    results = run_cases(cases, Judge(policies), urls["web"], urls["emulator"], concurrency,
                        progress)
    meta = {"set": str(case_dir.relative_to(ROOT) if case_dir.is_relative_to(ROOT)
                       else case_dir),
            "cases": len(results), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": round(time.monotonic() - started, 1), "concurrency": concurrency,
            "load_before": load_before,
            "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "machine": f"{os.cpu_count()} cores"}
    summary = report(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "answer-eval.json").write_text(json.dumps(
        {"meta": meta, "gate": GATE, "targets": TARGETS, **summary,
         "results": [asdict(r) for r in results]}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    (out_dir / "answer-eval.md").write_text(markdown(summary, results, meta), encoding="utf-8")
    return summary, results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="tests/eval", help="directory of case files")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    parser.add_argument("--out", default="reports")
    args = parser.parse_args(argv)
    case_dir = (ROOT / args.set).resolve()
    print(f"==> starting the stack, then {case_dir.name} with {args.concurrency} citizens at once")
    with running_stack() as urls:
        summary, _ = evaluate(case_dir, urls, args.concurrency, args.limit, ROOT / args.out)
    overall = summary["overall"]
    for name, f in [("overall", overall), *summary["categories"].items()]:
        print(f"{name:13} n={f['cases']:3}  direct-right {_pct(f['direct_right']):>6}  "
              f"menu {_pct(f['menu']):>6}  wrong {_pct(f['wrong']):>6}  "
              f"referral {_pct(f['referral_right']):>6}  oos {_pct(f['oos_handled']):>6}  "
              + ", ".join(f"{k} {v}" for k, v in f["labels"].items()))
    failures = gate_failures(overall)
    verdict = "holds" if not failures else "FAILS: " + "; ".join(failures)
    print(f"issue gate (held by make test) {GATE}: {verdict}")
    print(f"reports: {args.out}/answer-eval.md, {args.out}/answer-eval.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
