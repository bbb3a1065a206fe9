"""NLU evaluation: the trained model on the independent held-out file, optionally 5-fold CV.

Writes Rasa's intent/entity reports under reports/, prints accuracy, macro-F1 and the most
confused intent pairs, and exits non-zero when macro-F1 is below the floor or a required intent
is missing (CI gate).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
REQUIRED_INTENTS = (
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "human_handoff",
    "out_of_scope", "ask_policy", "check_benefits", "show_employment_code", "start_guide",
    "check_application", "next_step", "repeat", "go_back", "stop",
)
MIN_MACRO_F1 = float(os.environ.get("NLU_MIN_MACRO_F1", "0.90"))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
       "RASA_TELEMETRY_ENABLED": "false"}


def current_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"))
    if not models:
        sys.exit("no trained model in models/: run `make train`")
    return models[-1]


def summarise(report_dir: Path, title: str) -> dict:
    report = json.loads((report_dir / "intent_report.json").read_text())
    errors_path = report_dir / "intent_errors.json"
    errors = json.loads(errors_path.read_text()) if errors_path.exists() else []
    pairs = Counter(
        (e["intent"], e["intent_prediction"]["name"]) for e in errors if e.get("intent_prediction")
    )
    summary = {
        "accuracy": report["accuracy"],
        "macro_f1": report["macro avg"]["f1-score"],
        "weighted_f1": report["weighted avg"]["f1-score"],
        "per_intent_f1": {
            k: v["f1-score"] for k, v in report.items() if isinstance(v, dict) and "support" in v
            and k not in {"macro avg", "weighted avg", "micro avg"}
        },
        "confused": [[a, b, n] for (a, b), n in pairs.most_common(8)],
    }
    print(f"\n== {title} ==")
    print(f"accuracy {summary['accuracy']:.3f}  macro-F1 {summary['macro_f1']:.3f}  "
          f"weighted-F1 {summary['weighted_f1']:.3f}")
    for intent, f1 in sorted(summary["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]:
        print(f"  lowest F1: {intent:24s} {f1:.3f}")
    for a, b, n in summary["confused"]:
        print(f"  confused: {a} -> {b} ({n})")
    return summary


def heldout(out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [str(RASA), "test", "nlu", "--model", str(current_model()), "--nlu", str(HELDOUT),
         "--out", str(out)],
        check=True, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
    )
    return summarise(out, "held-out set")


def cross_validation(out: Path, folds: int) -> dict:
    data = ROOT / "build" / "cv-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    for src in [*(ROOT / "nlu_data").glob("*.yml"), *(ROOT / "build" / "training").glob("*.yml")]:
        shutil.copy2(src, data / f"{src.parent.name}-{src.name}")
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [str(RASA), "test", "nlu", "--nlu", str(data), "--config", "bot/config.yml",
         "--cross-validation", "--folds", str(folds), "--out", str(out)],
        check=True, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
    )
    return summarise(out, f"{folds}-fold cross-validation")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cross-validation", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    reports = ROOT / "reports"
    result = {"heldout": heldout(reports / "nlu-heldout")}
    if args.cross_validation:
        result["cross_validation"] = cross_validation(reports / "nlu-cv", args.folds)
    (reports / "nlu-summary.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    missing = [i for i in REQUIRED_INTENTS if i not in result["heldout"]["per_intent_f1"]]
    ok = result["heldout"]["macro_f1"] >= MIN_MACRO_F1 and not missing
    if missing:
        print(f"FAIL: required intents missing from the evaluation: {', '.join(missing)}")
    if result["heldout"]["macro_f1"] < MIN_MACRO_F1:
        print(f"FAIL: held-out macro-F1 {result['heldout']['macro_f1']:.3f} < {MIN_MACRO_F1}")
    print(f"\nreports written to {reports.relative_to(ROOT)}/")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
