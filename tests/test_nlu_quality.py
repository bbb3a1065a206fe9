"""CI gate for the assistant's understanding and dialogue, against the trained model in models/.

- the Rasa project validates (`rasa data validate`);
- held-out NLU evaluation through scripts/nlu_eval.py: macro-F1 >= 0.90 and every required
  intent present in the evaluation;
- dialogue tests: `rasa test core` on bot/tests/ with no failed story.
`make test` trains (or reuses) the model first; a model older than the data fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import nlu_eval, train

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
MIN_MACRO_F1 = 0.90


@pytest.fixture(scope="module")
def model() -> Path:
    """The trained model, which must be the one for the current data and configuration."""
    models = sorted((ROOT / "models").glob("*.tar.gz"))
    if not models:
        pytest.fail("no trained model in models/: run `make train` (make test does it)")
    expected = f"huimin-{train.fingerprint()}.tar.gz"
    if models[-1].name != expected:
        pytest.fail(f"models/{models[-1].name} is stale (expected {expected}): run `make train`")
    return models[-1]


def test_rasa_project_validates() -> None:
    proc = subprocess.run(
        [str(RASA), "data", "validate", "--domain", "bot/domain.yml",
         "--data", "bot/data", "nlu_data", "build/training", "--config", "bot/config.yml"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_heldout_evaluation_passes_the_gate(model: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/nlu_eval.py", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert (tmp_path / "nlu-heldout" / "intent_report.json").exists(), proc.stderr[-3000:]
    assert (tmp_path / "nlu-heldout" / "DIETClassifier_report.json").exists()
    summary = json.loads((tmp_path / "nlu-summary.json").read_text())["heldout"]
    assert summary["macro_f1"] >= MIN_MACRO_F1, proc.stdout[-2000:]
    assert set(nlu_eval.REQUIRED_INTENTS) <= set(summary["per_intent_f1"])
    assert nlu_eval.gate_failures(summary, MIN_MACRO_F1) == []
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    # The gate is real: a missing required intent or a higher floor fails it.
    without = {**summary, "per_intent_f1": {
        k: v for k, v in summary["per_intent_f1"].items() if k != "go_back"}}
    assert nlu_eval.gate_failures(without, MIN_MACRO_F1) == [
        "required intents missing from the evaluation: go_back"]
    assert "macro-F1" in nlu_eval.gate_failures(summary, summary["macro_f1"] + 0.01)[0]


def test_dialogue_test_stories_all_pass(model: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(RASA), "test", "core", "--model", str(model), "--stories", "bot/tests",
         "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    failed = tmp_path / "failed_test_stories.yml"
    report = failed.read_text(encoding="utf-8") if failed.exists() else "(no report)"
    assert proc.returncode == 0, report + proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "None of the test stories failed" in report, report
