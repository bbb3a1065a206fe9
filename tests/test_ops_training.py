"""Training runs without training: export, run bookkeeping, log, failure handling.

The real training (Rasa in its own environment) runs in tests/e2e/test_ops_console.py.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import yaml
from sqlalchemy import select

from huimin.catalogue import read_nlu
from huimin.ops import review, training
from huimin.ops.conversation_log import ingest
from huimin.ops.models import ConversationMessage
from huimin.ops.review import Verdict
from huimin.platform.db import Database, utcnow
from huimin.platform.settings import ROOT, OpsSettings, load_settings
from tests.ops_fixtures import Conversation, broker_for


@pytest.fixture
def db(sqlite_url: str):
    database = Database(sqlite_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def ops(tmp_path: Path, monkeypatch) -> OpsSettings:
    monkeypatch.setenv("OPS_TRAINING_DIR", str(tmp_path / "training"))
    return OpsSettings()


def annotated(db, redis_url, redis_conn, items):
    """Messages from a conversation, each annotated with (action, intent, entities)."""
    talk = Conversation(broker_for(redis_url))
    for text, *_ in items:
        talk.turn(text, "nlu_fallback", 0.3, action="action_fallback")
    with db.session() as s:
        ingest(s, redis_conn)
        rows = {m.text: m.id for m in s.scalars(
            select(ConversationMessage).where(ConversationMessage.role == "user"))}
        for text, action, intent, entities in items:
            review.annotate(s, rows[text], Verdict(action, intent, entities), "staff:1", "ops1")


def test_export_writes_repository_data_and_accepted_annotations(db, ops, redis_url, redis_conn):
    heldout_text = read_nlu([ops.heldout_file])[0][0].text
    repo = read_nlu([ROOT / "nlu_data"])[0]
    conflicting = next(e for e in repo if e.intent == "greet").text
    annotated(db, redis_url, redis_conn, [
        ("社保卡[旧版]丢了咋整", "relabel", "start_guide",
         [{"entity": "guide", "start": 0, "end": 3}]),
        ("隔壁老王家的猫", "out_of_scope", None, []),
        ("随便说说", "ignore", None, []),
        (heldout_text, "relabel", "ask_policy", []),
        (conflicting, "relabel", "goodbye", []),
    ])
    lines: list[str] = []
    out = ops.training_dir / "run-1"
    with db.session() as s:
        result = training.export(s, load_settings(), ops, out, lines.append)
    assert (out / "config.yml").read_text() == (ROOT / "bot" / "config.yml").read_text()
    assert (out / "domain.yml").exists() and list((out / "data" / "core").glob("*.yml"))
    assert (out / "build" / "training" / "jieba" / "userdict.txt").exists()
    repo_files = list((ROOT / "nlu_data").glob("*.yml"))
    assert len(list((out / "data" / "nlu").glob("*.yml"))) == len(repo_files) + 1
    data = yaml.safe_load((out / "data" / "nlu" / "annotations.yml").read_text())
    blocks = {b["intent"]: b["examples"] for b in data["nlu"]}
    assert blocks == {"out_of_scope": "- 隔壁老王家的猫\n",
                      "start_guide": "- [社保卡](guide)【旧版】丢了咋整\n"}
    examples = read_nlu([out / "data" / "nlu" / "annotations.yml"])[0]
    assert {(e.intent, e.text) for e in examples} == {
        ("out_of_scope", "隔壁老王家的猫"), ("start_guide", "社保卡【旧版】丢了咋整")}
    assert examples[1].entities[0].value == "社保卡" or examples[0].entities[0].value == "社保卡"
    assert len(result.annotations_used) == 2 and len(result.skipped) == 2
    assert any("测试集" in line for line in lines) and any("冲突" in line for line in lines)
    # Same inputs, same fingerprint; an annotation changes it.
    with db.session() as s:
        again = training.export(s, load_settings(), ops, ops.training_dir / "run-2")
    assert again.fingerprint == result.fingerprint
    annotated(db, redis_url, redis_conn, [("新的说法", "relabel", "greet", [])])
    with db.session() as s:
        third = training.export(s, load_settings(), ops, ops.training_dir / "run-3")
    assert third.fingerprint != result.fingerprint


def test_one_run_at_a_time_and_dead_runs_are_closed(db):
    with db.session() as s:
        run = training.start_run(s, "staff:1", "ops1")
        with pytest.raises(training.TrainingBusy):
            training.start_run(s, "staff:2")
        run.status = training.RUNNING
        run.heartbeat_at = utcnow() - timedelta(minutes=30)
        s.flush()
        assert training.current_run(s) is None
        assert run.status == training.FAILED and "没有心跳" in run.error
        assert training.start_run(s, "staff:2").id != run.id


def test_log_is_kept_as_a_numbered_tail(db, monkeypatch):
    monkeypatch.setattr(training, "LOG_LIMIT", 200)
    with db.session() as s:
        run_id = training.start_run(s, "staff:1").id
    reporter = training.RunReporter(db, run_id)
    for i in range(40):
        reporter.line(f"line {i:03d}")
    reporter.flush()
    with db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        assert run.log_lines == 40
        tail, next_line = training.log_since(run, 0)
        assert next_line == 40 and tail[-1] == "line 039" and len(tail) < 40
        assert training.log_since(run, 38) == (["line 038", "line 039"], 40)
        assert training.log_since(run, 40) == ([], 40)


def test_run_command_drops_library_deprecation_warnings(tmp_path):
    lines: list[str] = []
    out = ("/x/site-packages/pkg_resources/__init__.py:3117: DeprecationWarning: old\n"
           "Implementing implicit namespace packages is preferred\n"
           "  declare_namespace(pkg)\n"
           "2026-01-01 INFO rasa - Validating intents...\n"
           "  indented but wanted\n")
    script = f"import sys; sys.stdout.write({out!r})"
    assert training.run_command([sys.executable, "-c", script], tmp_path, {}, 30,
                                lines.append) == 0
    assert lines == ["2026-01-01 INFO rasa - Validating intents...", "  indented but wanted"]


def test_run_command_splits_progress_bars_and_strips_colours(tmp_path):
    lines: list[str] = []
    script = ("import sys; sys.stdout.write("
              "'a\\r\\x1b[32mb\\x1b[0m\\nEpochs:  50%|x\\rEpochs: 100%|x\\n'); sys.exit(3)")
    code = training.run_command([sys.executable, "-c", script], tmp_path, {}, 30, lines.append)
    assert code == 3 and lines == ["a", "b", "Epochs:  50%|x", "Epochs: 100%|x"]


def test_epoch_bars_drive_progress(db):
    with db.session() as s:
        run_id = training.start_run(s, "staff:1").id
    reporter = training.RunReporter(db, run_id)
    progress = training._TrainProgress(reporter)
    for pct in (0, 5, 50, 100, 0, 50, 100):  # DIET's bar, then TED's
        progress(f"Epochs: {pct:3d}%|####| t_loss=1.0")
    reporter.flush()
    with db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        assert run.progress == 85
        assert run.log.count("Epochs") == 6  # 5% is not logged (same tenth as 0%)


def test_the_validate_stage_lasts_until_rasa_trains_its_first_component(db):
    with db.session() as s:
        run_id = training.start_run(s, "staff:1").id
    reporter = training.RunReporter(db, run_id)
    progress = training._TrainProgress(reporter)
    reporter.set(stage="validate", progress=8)
    progress("INFO     rasa.validator  - No story structure conflicts found.")
    with db.session() as s:
        assert s.get(training.TrainingRun, run_id).stage == "validate"
    progress("INFO     rasa.engine.training.hooks  - Starting to train component 'JiebaTokenizer'.")
    with db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        assert (run.stage, run.progress) == ("train", 15)
    assert progress.training and not progress.invalid


def test_a_failing_step_fails_the_run_with_its_reason(db, ops, monkeypatch):
    monkeypatch.setenv("RASA_BIN", "/bin/false")  # a real program that fails like a bad train
    failing = OpsSettings()
    with db.session() as s:
        run_id = training.start_run(s, "staff:1", "ops1").id
    lines: list[str] = []
    assert training.execute(db, load_settings(), failing, run_id, echo=lines.append) == "failed"
    with db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        assert (run.status, run.stage) == ("failed", "failed")
        assert "rasa train 出错" in run.error and run.finished_at is not None
        assert run.data_fingerprint and "$ rasa train" in run.log
    assert any(line.startswith("失败") for line in lines)
    # Idempotent: running the finished job again changes nothing.
    assert training.execute(db, load_settings(), failing, run_id) == "failed"


def test_invalid_data_fails_the_run_as_a_data_check(db, ops, monkeypatch, tmp_path):
    """`rasa train` runs `rasa data validate`'s checks first; when they fail it prints Rasa's
    verdict and exits before training, and the run says the data check failed."""
    rasa = tmp_path / "rasa"
    rasa.write_text("#!/bin/sh\necho 'Project validation completed with errors.'\nexit 1\n")
    rasa.chmod(0o755)
    monkeypatch.setenv("RASA_BIN", str(rasa))
    with db.session() as s:
        run_id = training.start_run(s, "staff:1", "ops1").id
    assert training.execute(db, load_settings(), OpsSettings(), run_id) == "failed"
    with db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        assert "训练数据检查未通过" in run.error and "Project validation" in run.log


def test_worker_job_runs_the_pipeline(db, ops, monkeypatch, redis_conn: redis.Redis, sqlite_url):
    """jobs.training.train_model reads the same settings as the worker process does."""
    from rq.job import Job

    from jobs.training import enqueue_training, train_model

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RASA_BIN", "/bin/false")
    with db.session() as s:
        run_id = training.start_run(s, "staff:1").id
    job_id = enqueue_training(redis_conn, run_id, 60)
    assert enqueue_training(redis_conn, run_id, 60) == job_id == f"training-run-{run_id}"
    job = Job.fetch(job_id, connection=redis_conn)
    assert (job.func_name, job.args, job.origin) == ("jobs.training.train_model", (run_id,),
                                                     "training")
    assert train_model(run_id) == "failed"
    with db.session() as s:
        assert s.get(training.TrainingRun, run_id).status == "failed"


def test_export_skips_annotations_that_nearly_repeat_an_evaluation_case(
    db, ops, redis_url, redis_conn
):
    """Not only identical texts: the CI disjointness rule (distance 2, containment)."""
    from huimin.ops.near_duplicates import eval_texts

    case = next(t for t in eval_texts(ops.eval_dir) if len(t.text) >= 8)
    near = case.text[:-1] + "呀呀"  # one character changed, one added: distance 2
    contained = "我想再问一下，" + case.text
    annotated(db, redis_url, redis_conn, [
        (near, "relabel", "ask_policy", []),
        (contained, "relabel", "ask_policy", []),
        ("这句话和评估集没有关系吧", "relabel", "greet", []),
    ])
    lines: list[str] = []
    with db.session() as s:
        result = training.export(s, load_settings(), ops, ops.training_dir / "run-1", lines.append)
    assert len(result.annotations_used) == 1 and len(result.skipped) == 2
    assert sum(f"评估集问题 {case.case_id}" in line for line in lines) == 2
    examples = read_nlu([ops.training_dir / "run-1" / "data" / "nlu" / "annotations.yml"])[0]
    assert [e.text for e in examples] == ["这句话和评估集没有关系吧"]
