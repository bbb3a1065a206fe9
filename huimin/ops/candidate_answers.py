"""A candidate model's answers to the evaluation set, judged as a citizen would see them.

Intent F1 on the held-out file says nothing about whether a reply answered the right policy and
aspect, and `rasa test nlu` undoes fallback predictions. So the training job also runs the
candidate model in a Rasa process of its own (in-memory conversations, the live action server,
no model server, no event broker, so citizens and the review inbox never see it), sends every
case of the answer-evaluation set to its REST webhook, renders the reply exactly as the WeChat
channel does (buttons as `回复 N：…` lines, so a button list counts as a menu) and judges it
with the same judge as `make eval`. The gate (huimin/ops/gate.py) reads the figures.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from huimin.assistant.client import AssistantClient
from huimin.ops.answer_eval import Case, Judge, figures, load_cases, load_policies, result_of
from huimin.platform.settings import ROOT, OpsSettings, Settings
from huimin.wechat.conversation import render

CONCURRENCY = 4
ANSWER_TIMEOUT_SECONDS = 30.0
START_TIMEOUT_SECONDS = 600.0
PORT_ATTEMPTS = 3


class AnswerEvaluationFailed(RuntimeError):
    """The candidate could not be run or asked (message in plain Chinese for the console)."""


def eval_sha(ops: OpsSettings, settings: Settings) -> str:
    """Fingerprint of what the figures depend on besides the model: the cases and the
    catalogue the judge reads (two models are compared only on the same ones)."""
    digest = hashlib.sha256()
    for directory in (ops.eval_dir, settings.policies_dir):
        for path in sorted(directory.glob("*.yml")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _endpoints(settings: Settings, path: Path) -> Path:
    """Only the live action server: conversations stay in memory, nothing else is touched."""
    path.write_text(yaml.safe_dump(
        {"action_endpoint": {"url": settings.action_server_url.rstrip("/") + "/webhook"}}),
        encoding="utf-8")
    return path


def evaluate_answers(
    ops: OpsSettings, settings: Settings, model: Path, workdir: Path,
    log: Callable[[str], None], env: dict[str, str],
) -> dict[str, Any]:
    """Run `model` in its own Rasa process and judge its answers to every evaluation case."""
    policies = load_policies(settings.policies_dir)
    cases = load_cases(ops.eval_dir, policies)
    workdir.mkdir(parents=True, exist_ok=True)
    proc, candidate = _start_candidate(ops, settings, model, workdir, env)
    try:
        log(f"候选模型已启动，逐条提问评估集（{len(cases)} 条）")
        results = _ask_all(cases, candidate, Judge(policies))
    finally:
        _stop(proc)
    summary = figures(results)
    summary["eval_sha"] = eval_sha(ops, settings)
    return summary


def _start_candidate(
    ops: OpsSettings, settings: Settings, model: Path, workdir: Path, env: dict[str, str],
) -> tuple[subprocess.Popen, Settings]:
    """Start Rasa with `model` on a free port and wait until it answers.

    A free port is only free until someone binds it: the training job runs two evaluations at
    once (candidate and live model) and other processes start too, so a Rasa that finds its
    port taken is started again on another one."""
    logfile = workdir / "rasa-answers.log"
    cwd = workdir.parent if (workdir.parent / "build" / "training").exists() else ROOT
    for _ in range(PORT_ATTEMPTS):
        port, token = _free_port(), secrets.token_hex(16)
        log_start = logfile.stat().st_size if logfile.exists() else 0
        with open(logfile, "ab") as out:  # noqa: PTH123 - the process writes to it
            proc = subprocess.Popen(
                [str(ops.rasa_bin), "run", "--model", str(model), "--port", str(port),
                 "--interface", "127.0.0.1", "--enable-api", "--auth-token", token,
                 "--endpoints", str(_endpoints(settings, workdir / "endpoints.yml")),
                 "--credentials", str(ROOT / "bot" / "credentials.yml")],
                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        candidate = dataclasses.replace(settings, rasa_url=f"http://127.0.0.1:{port}",
                                        rasa_token=token)
        try:
            _wait_ready(AssistantClient(candidate), proc, logfile, log_start)
            return proc, candidate
        except _PortTaken:
            _stop(proc)
        except BaseException:
            _stop(proc)
            raise
    raise AnswerEvaluationFailed("候选模型启动失败：端口一再被占用")


class _PortTaken(Exception):
    """Rasa exited because another process bound its port first."""


def _wait_ready(
    client: AssistantClient, proc: subprocess.Popen, logfile: Path, log_start: int,
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(logfile, "rb") as log:  # noqa: PTH123 - this attempt's part only
                log.seek(log_start)
                written = log.read().decode(errors="replace")
            if "address already in use" in written.lower():
                raise _PortTaken
            tail = written.splitlines()[-5:]
            raise AnswerEvaluationFailed("候选模型启动失败：" + " / ".join(tail))
        if client.is_ready():
            return
        time.sleep(1)
    raise AnswerEvaluationFailed("候选模型启动超时")


def _ask_all(cases: list[Case], settings: Settings, judge: Judge) -> list:
    def one(case: Case):
        client = AssistantClient(settings)
        sender = f"gate-{uuid.uuid4().hex[:12]}"
        reply = ""
        for turn in case.turns:
            reply = render(client.ask(sender, turn, timeout=ANSWER_TIMEOUT_SECONDS)).text
        return result_of(case, reply, judge.judge(case.expect, reply))

    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            return list(pool.map(one, cases))
    except Exception as exc:  # noqa: BLE001 - any failure to ask stops the evaluation
        raise AnswerEvaluationFailed(f"候选模型答题评估出错：{exc}") from exc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
