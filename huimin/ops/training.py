"""Training runs: export the data, validate, train in the Rasa environment, evaluate, register.

One run at a time. The RQ job (jobs/training.py) calls ``execute``; the console follows the run's
stage, progress and log, which are written to the database as they happen (about once a second),
so any web process can show them.

The training directory is fresh for every run (settings.training_dir/run-<id>):
    config.yml, domain.yml        copies of bot/
    data/core/                    bot/data (rules, stories)
    data/nlu/                     nlu_data/*.yml from the repository
    data/nlu/annotations.yml      the accepted annotations from the database
    build/training/               NLU generated from the policy catalogue (+ Jieba dictionary)
The config's relative Jieba dictionary path resolves inside it, because Rasa runs there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.catalogue import load_catalogue, parse_example, read_nlu, write_training
from huimin.ops import candidate_answers, model_store, near_duplicates, registry
from huimin.ops.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Annotation, TrainingRun
from huimin.ops.review import training_annotations
from huimin.platform.db import Database, utcnow
from huimin.platform.settings import ROOT, OpsSettings, Settings

STAGES = {
    "queued": "排队中", "export": "导出训练数据", "validate": "检查训练数据", "train": "训练模型",
    "evaluate": "在测试集上评估", "register": "登记模型", "done": "完成", "failed": "失败",
}
LOG_LIMIT = 200_000  # characters of log kept per run (the tail)
STALE_AFTER = timedelta(minutes=10)  # a running run without a heartbeat for this long is dead
FLUSH_SECONDS = 1.0


class TrainingBusy(Exception):
    """Another run is queued or running."""

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(f"training run {run.id} is {run.status}")
        self.run = run


class TrainingFailed(Exception):
    """A step failed; the message is shown in the console (Chinese)."""


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def current_run(session: Session) -> TrainingRun | None:
    """The queued or running run, if any (a run whose worker died is closed as failed)."""
    run = session.scalars(
        select(TrainingRun).where(TrainingRun.status.in_((QUEUED, RUNNING)))
        .order_by(TrainingRun.id.desc()).limit(1)
    ).first()
    if run is None:
        return None
    beat = run.heartbeat_at or run.created_at
    limit = STALE_AFTER if run.status == RUNNING else timedelta(hours=6)
    if utcnow() - _aware(beat) > limit:
        run.status, run.stage = FAILED, "failed"
        run.error = "训练进程已停止（没有心跳），请重新开始训练。"
        run.finished_at = utcnow()
        session.flush()
        return None
    return run


def start_run(session: Session, actor: str, actor_name: str | None = None) -> TrainingRun:
    """A new queued run (the caller enqueues the job); TrainingBusy if one is under way."""
    busy = current_run(session)
    if busy is not None:
        raise TrainingBusy(busy)
    run = TrainingRun(status=QUEUED, stage="queued", started_by=actor,
                      started_by_name=actor_name, heartbeat_at=utcnow())
    session.add(run)
    session.flush()
    return run


def log_since(run: TrainingRun, line: int) -> tuple[list[str], int]:
    """Log lines numbered from ``line`` (0-based, counting every line ever written), and the
    number of the next line; lines cut from the kept tail are skipped."""
    kept = run.log.splitlines()
    first_kept = run.log_lines - len(kept)
    start = max(line, first_kept)
    return kept[start - first_kept :], run.log_lines


# ---- progress and log, written as the run goes --------------------------------------------------


class RunReporter:
    """Buffers log lines and progress; flushes them to the run's row at most once a second."""

    def __init__(
        self, db: Database, run_id: int, echo: Callable[[str], None] | None = None
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.echo = echo
        self.lines: list[str] = []
        self.stage: str | None = None
        self.progress: int | None = None
        self.last_flush = 0.0
        self.lock = threading.Lock()  # the buffers
        self.write_lock = threading.Lock()  # the row (two steps may report at once)

    def line(self, text: str) -> None:
        if self.echo is not None:
            self.echo(text)
        with self.lock:
            self.lines.append(text.rstrip())
        self.maybe_flush()

    def set(self, stage: str | None = None, progress: int | None = None) -> None:
        with self.lock:
            if stage is not None:
                self.stage = stage
            if progress is not None:
                self.progress = max(self.progress or 0, min(100, progress))
        self.flush()

    def maybe_flush(self) -> None:
        if time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self, **fields: Any) -> None:
        with self.write_lock:
            self._write(fields)

    def _write(self, fields: dict[str, Any]) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
            stage, progress = self.stage, self.progress
            self.last_flush = time.monotonic()
        with self.db.session() as session:
            run = session.get(TrainingRun, self.run_id)
            if run is None:
                return
            if lines:
                text = run.log + "\n".join(lines) + "\n"
                if len(text) > LOG_LIMIT:
                    text = text[-LOG_LIMIT:]
                    text = text[text.find("\n") + 1 :]
                run.log = text
                run.log_lines += len(lines)
            if stage is not None:
                run.stage = stage
            if progress is not None:
                run.progress = progress
            run.heartbeat_at = utcnow()
            for key, value in fields.items():
                setattr(run, key, value)


# ---- export -------------------------------------------------------------------------------------


@dataclass
class Export:
    directory: Path
    fingerprint: str
    annotations_used: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    examples: int = 0


_MARKUP = str.maketrans({"[": "【", "]": "】", "{": "｛", "}": "｝", "\n": " ", "\r": " "})


def example_markup(text: str, entities: list[dict[str, Any]]) -> str:
    """Rasa's ``[value](entity)`` markup on one line; brackets in the text itself become
    full-width ones and line breaks spaces (one character for one, so the spans stay valid)."""
    text = text.translate(_MARKUP)
    out, pos = [], 0
    for span in sorted(entities, key=lambda s: s["start"]):
        out.append(text[pos : span["start"]])
        out.append(f"[{text[span['start'] : span['end']]}]({span['entity']})")
        pos = span["end"]
    out.append(text[pos:])
    return "".join(out).strip()


def annotations_yaml(examples: dict[str, list[str]]) -> str:
    parts = ["# Examples annotated in the ops console (exported for this run only).\n",
             'version: "3.1"\n', "nlu:\n"]
    for intent in sorted(examples):
        parts.append(f"- intent: {intent}\n  examples: |\n")
        parts.extend(f"    - {e}\n" for e in examples[intent])
    return "".join(parts)


def fingerprint_dir(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def export(
    session: Session, settings: Settings, ops: OpsSettings, directory: Path,
    log: Callable[[str], None] = lambda _line: None,
) -> Export:
    """Write a fresh training directory; returns its fingerprint and what was used."""
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "data" / "core").mkdir(parents=True)
    (directory / "data" / "nlu").mkdir(parents=True)
    shutil.copy2(ROOT / "bot" / "config.yml", directory / "config.yml")
    shutil.copy2(ROOT / "bot" / "domain.yml", directory / "domain.yml")
    for src in sorted((ROOT / "bot" / "data").glob("*.yml")):
        shutil.copy2(src, directory / "data" / "core" / src.name)
    nlu_files = sorted((ROOT / "nlu_data").glob("*.yml"))
    for src in nlu_files:
        shutil.copy2(src, directory / "data" / "nlu" / src.name)
    write_training(load_catalogue(settings.policies_dir), directory / "build" / "training")

    repo_examples, _ = read_nlu(nlu_files)
    repo_intent = {e.text: e.intent for e in repo_examples}
    heldout = {e.text for e in read_nlu([ops.heldout_file])[0]} if ops.heldout_file.exists() \
        else set()
    evaluation = near_duplicates.Index(
        near_duplicates.Source(t.text, t.case_id) for t in near_duplicates.eval_texts(ops.eval_dir)
    ) if ops.eval_dir.is_dir() else near_duplicates.Index([])
    chosen: dict[str, tuple[Annotation, str]] = {}
    result = Export(directory=directory, fingerprint="")
    for annotation in training_annotations(session):
        example = example_markup(annotation.text, annotation.entities or [])
        plain = parse_example(example).text
        if not plain:
            continue
        if plain in heldout:
            result.skipped.append(
                f"#{annotation.id} 与测试集中的句子相同，不用于训练（避免评估失真）"
            )
            continue
        twin = evaluation.first_clash(f"#{annotation.id}", plain)
        if twin is not None:
            result.skipped.append(f"#{annotation.id} 与评估集问题 {twin.source.origin} "
                                  "几乎相同，不用于训练（避免评估失真）")
            continue
        if repo_intent.get(plain) not in (None, annotation.intent):
            result.skipped.append(
                f"#{annotation.id} 与仓库训练数据冲突（仓库中标为 {repo_intent[plain]}），已跳过"
            )
            continue
        chosen[plain] = (annotation, example)  # a later verdict on the same text wins
    by_intent: dict[str, list[str]] = {}
    for annotation, example in chosen.values():
        assert annotation.intent is not None
        by_intent.setdefault(annotation.intent, []).append(example)
        result.annotations_used.append(annotation.id)
    if by_intent:
        (directory / "data" / "nlu" / "annotations.yml").write_text(
            annotations_yaml(by_intent), encoding="utf-8"
        )
    result.examples = len(repo_examples) + len(chosen)
    result.fingerprint = fingerprint_dir(directory)
    for line in result.skipped:
        log(line)
    log(f"导出完成：仓库样例 {len(repo_examples)} 条，标注样例 {len(chosen)} 条，"
        f"数据指纹 {result.fingerprint}")
    return result


# ---- running Rasa -------------------------------------------------------------------------------


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Library deprecation warnings Rasa prints on every start: noise in a log meant for people.
_WARNING = re.compile(r"site-packages/\S+:\d+: \w*(Deprecation|Future)Warning")
_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")


def rasa_env(ops: OpsSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false", PYTHONUNBUFFERED="1",
        SQLALCHEMY_SILENCE_UBER_WARNING="1", RASA_CACHE_DIRECTORY=str(ops.rasa_cache),
        PYTHONWARNINGS="ignore",  # the console's log is for people: no library deprecations
    )
    return env


def run_command(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: float,
    on_line: Callable[[str], None],
) -> int:
    """Run ``cmd``, passing each output line (progress bars split on \\r) to ``on_line``."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    buffer = b""
    skip_detail = False  # the indented source lines that follow a skipped warning
    try:
        while True:
            chunk = proc.stdout.read1(65536)  # type: ignore[attr-defined]
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for raw in lines:
                text = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip()
                if _WARNING.search(text):
                    skip_detail = True
                    continue
                if skip_detail and (text.startswith(" ") or text.startswith("Implementing ")):
                    continue
                skip_detail = False
                if text:
                    on_line(text)
            if time.monotonic() > deadline:
                raise TrainingFailed(f"超时（超过 {timeout:.0f} 秒）")
        if buffer.strip():
            on_line(_ANSI.sub("", buffer.decode("utf-8", "replace")).rstrip())
        return proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (TrainingFailed, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise TrainingFailed(f"超时（超过 {timeout:.0f} 秒）") from None


# `rasa train`'s log: its data checks failed (it then exits), or passed and training began.
_INVALID = "Project validation completed with errors"
_TRAINING_STARTED = "Starting to train component"


class _TrainProgress:
    """Follows `rasa train`: the validate stage until Rasa starts training its first component
    (its data checks passed), then the train stage, with the epoch bars (DIET first, then TED)
    mapped onto the run's 20..85 % range and only every tenth percent of a bar in the log."""

    def __init__(self, reporter: RunReporter) -> None:
        self.reporter = reporter
        self.invalid = False
        self.training = False
        self.bar = 0
        self.last = -1

    def __call__(self, line: str) -> None:
        self.invalid = self.invalid or _INVALID in line
        if not self.training and _TRAINING_STARTED in line:
            self.training = True
            self.reporter.set(stage="train", progress=15)
        match = _EPOCHS.search(line)
        if not match:
            self.reporter.line(line)
            return
        percent = int(match.group(1))
        if percent < self.last:
            self.bar += 1
        if percent // 10 != self.last // 10 or percent == 100 and self.last != 100:
            self.reporter.line(line[:160])
        self.last = percent
        start, span = (20, 45) if self.bar == 0 else (65, 20)
        self.reporter.set(progress=start + span * percent // 100)


def _summarise_report(report_dir: Path, heldout_sha: str) -> dict[str, Any]:
    report = json.loads((report_dir / "intent_report.json").read_text())
    per_intent = {
        k: round(float(v["f1-score"]), 4) for k, v in report.items()
        if isinstance(v, dict) and "support" in v
        and k not in {"macro avg", "weighted avg", "micro avg"}
    }
    support = {
        k: int(v["support"]) for k, v in report.items()
        if isinstance(v, dict) and "support" in v
        and k not in {"macro avg", "weighted avg", "micro avg"}
    }
    return {
        "accuracy": round(float(report["accuracy"]), 4),
        "macro_f1": round(float(report["macro avg"]["f1-score"]), 4),
        "weighted_f1": round(float(report["weighted avg"]["f1-score"]), 4),
        "per_intent_f1": per_intent,
        "support": support,
        "examples": sum(support.values()),
        "heldout_sha": heldout_sha,
        "evaluated_at": utcnow().isoformat(),
    }


def _scores(evaluation: dict[str, Any]) -> str:
    return f"准确率 {evaluation['accuracy']:.3f}，宏平均F1 {evaluation['macro_f1']:.3f}"


def heldout_sha(ops: OpsSettings) -> str:
    return hashlib.sha256(ops.heldout_file.read_bytes()).hexdigest()[:16]


def evaluate(
    ops: OpsSettings, model: Path, out: Path, on_line: Callable[[str], None]
) -> dict[str, Any]:
    """Intent accuracy, macro-F1 and per-intent F1 of ``model`` on the held-out file."""
    shutil.rmtree(out, ignore_errors=True)
    code = run_command(
        [str(ops.rasa_bin), "test", "nlu", "--model", str(model), "--nlu", str(ops.heldout_file),
         "--out", str(out)],
        cwd=out.parent, env=rasa_env(ops), timeout=ops.training_timeout_seconds, on_line=on_line,
    )
    if code != 0 or not (out / "intent_report.json").exists():
        raise TrainingFailed("评估失败（rasa test nlu 出错），详见日志")
    return _summarise_report(out, heldout_sha(ops))


# ---- the whole run ------------------------------------------------------------------------------


def execute(
    db: Database, settings: Settings, ops: OpsSettings, run_id: int,
    echo: Callable[[str], None] | None = None,
) -> str:
    """Run training ``run_id`` to the end; returns its final status. Idempotent: a finished
    run, or one another worker is running, is left alone. ``echo`` also gets every log line."""
    with db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.status in (SUCCEEDED, FAILED):
            return run.status if run else FAILED
        if run.status == RUNNING and run.heartbeat_at and \
                utcnow() - _aware(run.heartbeat_at) < STALE_AFTER:
            return RUNNING
        run.status, run.stage, run.started_at = RUNNING, "export", utcnow()
        run.heartbeat_at = utcnow()
        started_by, started_by_name, created_at = run.started_by, run.started_by_name, \
            run.created_at
    reporter = RunReporter(db, run_id, echo)
    workdir = ops.training_dir / f"run-{run_id}"
    try:
        model_id = _pipeline(db, settings, ops, run_id, workdir, reporter,
                             (started_by, started_by_name, created_at))
    except Exception as exc:  # noqa: BLE001 - every failure ends the run with its reason
        message = str(exc) if isinstance(exc, TrainingFailed) else f"内部错误：{exc!r}"
        reporter.line(f"失败：{message}")
        reporter.flush(status=FAILED, stage="failed", error=message, finished_at=utcnow())
        return FAILED
    reporter.line("训练完成，模型已登记，可在“模型”页查看评估结果并上线。")
    reporter.flush(status=SUCCEEDED, stage="done", progress=100, model_id=model_id,
                   finished_at=utcnow())
    _prune(ops, keep=5)
    return SUCCEEDED


def _pipeline(
    db: Database, settings: Settings, ops: OpsSettings, run_id: int, workdir: Path,
    reporter: RunReporter, who: tuple[str, str | None, datetime],
) -> int:
    env = rasa_env(ops)
    ops.rasa_cache.mkdir(parents=True, exist_ok=True)
    timeout = ops.training_timeout_seconds
    reporter.set(stage="export", progress=2)
    with db.session() as session:
        exported = export(session, settings, ops, workdir, reporter.line)
    reporter.flush(data_fingerprint=exported.fingerprint,
                   annotation_count=len(exported.annotations_used))

    # `rasa train` first runs the very checks of `rasa data validate` (the same
    # rasa.cli.utils.validate_files, same defaults) and stops on an error: one Rasa process
    # instead of two saves its start and data loading (30-40 s on 2 idle cores).
    reporter.set(stage="validate", progress=8)
    name = f"huimin-{exported.fingerprint}-r{run_id}"
    reporter.line(f"$ rasa train  （模型 {name}，先检查训练数据）")
    progress = _TrainProgress(reporter)
    code = run_command(
        [str(ops.rasa_bin), "train", "--config", "config.yml", "--domain", "domain.yml",
         "--data", "data", "build/training", "--out", "out", "--fixed-model-name", name],
        cwd=workdir, env=env, timeout=timeout, on_line=progress,
    )
    if code != 0 and progress.invalid:
        raise TrainingFailed("训练数据检查未通过（rasa train 的数据检查），详见日志")
    model_file = workdir / "out" / f"{name}.tar.gz"
    if code != 0 or not model_file.exists():
        raise TrainingFailed("训练失败（rasa train 出错），详见日志")

    reporter.set(stage="evaluate", progress=86)
    reporter.line("$ rasa test nlu  （测试集 " + ops.heldout_file.name + "）")
    # The live model, when it was never evaluated on these files, is evaluated beside the new
    # one: each side is one Rasa process at a time (a test run, then a server answering the
    # cases, about one core busy), so two cores do both sides in little more than one's time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        live = pool.submit(_evaluate_live_model_if_needed, db, ops, settings, workdir, reporter)
        evaluation = evaluate(ops, model_file, workdir / "report", reporter.line)
        reporter.line(f"评估：{_scores(evaluation)}")
        reporter.set(stage="evaluate", progress=90)
        reporter.line(f"端到端答题评估（评估集 {ops.eval_dir.name}，按市民看到的回复判分）")
        evaluation["answers"] = _answers(ops, settings, model_file, workdir / "answers",
                                         reporter.line)
        live.result()

    reporter.set(stage="register", progress=96)
    started_by, started_by_name, created_at = who
    with db.session() as session:
        record = registry.register(
            session, model_file, name=name, origin=registry.TRAINED,
            started_by=started_by, started_by_name=started_by_name, started_at=created_at,
            data_fingerprint=exported.fingerprint, evaluation=evaluation,
            training_run_id=run_id, annotation_count=len(exported.annotations_used),
        )
        for annotation_id in exported.annotations_used:
            annotation = session.get(Annotation, annotation_id)
            if annotation is not None and annotation.first_model_id is None:
                annotation.first_model_id = record.id
        model_id = record.id
    model_file.unlink(missing_ok=True)  # the store has it now
    reporter.line(f"已登记为模型 #{model_id}")
    return model_id


def _answers(ops: OpsSettings, settings: Settings, model: Path, workdir: Path,
             log: Callable[[str], None]) -> dict[str, Any]:
    try:
        answers = candidate_answers.evaluate_answers(ops, settings, model, workdir, log,
                                                     rasa_env(ops))
    except candidate_answers.AnswerEvaluationFailed as exc:
        raise TrainingFailed(str(exc)) from exc
    log(f"答题评估：直接答对 {answers['direct_right']:.1%}，答错 {answers['wrong']:.1%}，"
        f"菜单 {answers['menu']:.1%}（{answers['cases']} 条）")
    return answers


def _live_model_file(
    db: Database, live_id: int, sha: str, target: Path, reporter: RunReporter
) -> Path | None:
    """The live model copied out of the store into this run's directory (None: not stored)."""
    try:
        return model_store.export(db, sha, target)
    except KeyError:
        reporter.line(f"当前模型 #{live_id} 的文件不在模型库中，无法评估它")
        return None


def _evaluate_live_model_if_needed(
    db: Database, ops: OpsSettings, settings: Settings, workdir: Path, reporter: RunReporter
) -> None:
    """The gate compares with the live model on the same held-out file and answer cases:
    evaluate it on each it never was evaluated on (the first, installed model) or that changed
    since. Its log lines are marked, as they come between the new model's."""
    sha, cases_sha = heldout_sha(ops), candidate_answers.eval_sha(ops, settings)
    with db.session() as session:
        live = registry.active_model(session)
        if live is None:
            return
        done = live.evaluation or {}
        live_id, live_sha = live.id, live.sha256
    needs_nlu = done.get("heldout_sha") != sha
    needs_answers = (done.get("answers") or {}).get("eval_sha") != cases_sha
    if not (needs_nlu or needs_answers):
        return
    path = _live_model_file(db, live_id, live_sha, workdir / "live.tar.gz", reporter)
    if path is None:
        return

    def log(line: str) -> None:
        reporter.line(f"[当前模型 #{live_id}] {line}")

    found: dict[str, Any] = {}
    if needs_nlu:
        log("$ rasa test nlu  （供上线检查比较）")
        found.update(evaluate(ops, path, workdir / "report-live", log))
        log(_scores(found))
    if needs_answers:
        found["answers"] = _answers(ops, settings, path, workdir / "answers-live", log)
    with db.session() as session:
        live = session.get(registry.ModelRecord, live_id)
        if live is not None:
            live.evaluation = {**(live.evaluation or {}), **found}


def _prune(ops: OpsSettings, keep: int) -> None:
    """Keep the newest ``keep`` run directories (data and reports, for inspection)."""
    runs = sorted(
        (p for p in ops.training_dir.glob("run-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
