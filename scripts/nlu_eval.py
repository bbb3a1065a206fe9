"""NLU evaluation: the trained model on the independent held-out file, optionally 5-fold CV.

Writes Rasa's intent/entity reports under reports/, prints accuracy, macro-F1, entity F1 and
the most confused intent pairs, and exits non-zero when macro-F1 is below the floor or a
required intent is missing (CI gate). The held-out predictions include the FallbackClassifier,
so a message sent to the fallback counts as an error.

`--tune` parses the held-out set once more for the raw intent confidences and prints, for a
grid of FallbackClassifier thresholds, how many messages would be answered wrongly and how many
sent to the fallback needlessly; the thresholds in bot/config.yml are chosen from that table.
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

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from huimin.catalogue import read_nlu  # noqa: E402

RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
REQUIRED_INTENTS = (
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "human_handoff",
    "out_of_scope", "ask_policy", "check_benefits", "show_employment_code", "start_guide",
    "check_application", "next_step", "repeat", "go_back", "stop", "ask_office", "inform_district",
)
# Tuning: a wrong answer costs more than asking the citizen to rephrase a message we had right.
WRONG_COST, NEEDLESS_FALLBACK_COST = 1.0, 0.5
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(13)]
AMBIGUITY = [0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2]
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
        "entity_f1": _entity_f1(report_dir),
    }
    print(f"\n== {title} ==")
    print(f"accuracy {summary['accuracy']:.3f}  macro-F1 {summary['macro_f1']:.3f}  "
          f"weighted-F1 {summary['weighted_f1']:.3f}")
    for intent, f1 in sorted(summary["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]:
        print(f"  lowest F1: {intent:24s} {f1:.3f}")
    for a, b, n in summary["confused"]:
        print(f"  confused: {a} -> {b} ({n})")
    for entity, f1 in summary["entity_f1"].items():
        print(f"  entity F1: {entity:22s} {f1:.3f}")
    return summary


def _entity_f1(report_dir: Path) -> dict[str, float]:
    path = report_dir / "DIETClassifier_report.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    return {
        k: v["f1-score"] for k, v in report.items()
        if isinstance(v, dict) and "support" in v and not k.endswith(" avg")
    }  # fmt: skip


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


def tune(out: Path) -> dict:
    """Raw confidences on the held-out set -> cost of each FallbackClassifier setting."""
    examples = read_nlu([HELDOUT])[0]
    proc = subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "scripts" / "rasa_parse.py"), str(current_model())],
        input="\n".join(e.text for e in examples) + "\n", capture_output=True, text=True,
        check=True, cwd=ROOT, env=ENV,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(rows) != len(examples):
        sys.exit(f"parsed {len(rows)} of {len(examples)} held-out texts")
    scored = []
    for example, row in zip(examples, rows, strict=True):
        ranking = row["ranking"] + [{"name": "", "confidence": 0.0}] * 2
        scored.append((example.intent == ranking[0]["name"], ranking[0]["confidence"],
                       ranking[0]["confidence"] - ranking[1]["confidence"]))
    table = []
    for threshold in THRESHOLDS:
        for ambiguity in AMBIGUITY:
            wrong = needless = caught = 0
            for right, top, margin in scored:
                falls_back = top < threshold or margin < ambiguity
                wrong += not right and not falls_back
                needless += right and falls_back
                caught += not right and falls_back
            cost = WRONG_COST * wrong + NEEDLESS_FALLBACK_COST * needless
            table.append({"threshold": threshold, "ambiguity": ambiguity, "wrong": wrong,
                          "needless_fallback": needless, "caught": caught, "cost": cost})
    table.sort(key=lambda r: (r["cost"], r["wrong"], -r["threshold"], -r["ambiguity"]))
    pipeline = yaml.safe_load((ROOT / "bot" / "config.yml").read_text())["pipeline"]
    current = next(c for c in pipeline if c["name"] == "FallbackClassifier")
    now = next(r for r in table if r["threshold"] == current.get("threshold")
               and r["ambiguity"] == current.get("ambiguity_threshold"))
    print(f"\n== fallback tuning ({len(scored)} held-out messages, "
          f"{sum(not r for r, _, _ in scored)} wrong before any fallback) ==")
    print("threshold ambiguity  wrong  needless  caught  cost")
    for r in [now, *table[:8]]:
        mark = "  <- bot/config.yml" if r is now else ""
        print(f"  {r['threshold']:.2f}     {r['ambiguity']:.2f}    {r['wrong']:5d}  "
              f"{r['needless_fallback']:8d}  {r['caught']:6d}  {r['cost']:4.1f}{mark}")
    result = {"current": now, "best": table[:8], "table": table, "scored": len(scored)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "fallback-tuning.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cross-validation", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tune", action="store_true", help="print the fallback tuning table")
    parser.add_argument("--out", type=Path, default=ROOT / "reports", help="reports folder")
    args = parser.parse_args()
    reports = args.out.resolve()
    reports.mkdir(parents=True, exist_ok=True)
    result = {"heldout": heldout(reports / "nlu-heldout")}
    if args.tune:
        result["fallback_tuning"] = tune(reports / "nlu-heldout")
    if args.cross_validation:
        result["cross_validation"] = cross_validation(reports / "nlu-cv", args.folds)
    (reports / "nlu-summary.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    failures = gate_failures(result["heldout"], MIN_MACRO_F1)
    for failure in failures:
        print(f"FAIL: {failure}")
    print(f"\nreports written to {reports}/")
    return 1 if failures else 0


def gate_failures(summary: dict, floor: float) -> list[str]:
    """Why a held-out summary fails the CI gate (empty when it passes)."""
    failures = []
    missing = [i for i in REQUIRED_INTENTS if i not in summary["per_intent_f1"]]
    if missing:
        failures.append(f"required intents missing from the evaluation: {', '.join(missing)}")
    if summary["macro_f1"] < floor:
        failures.append(f"held-out macro-F1 {summary['macro_f1']:.3f} < {floor}")
    return failures


if __name__ == "__main__":
    sys.exit(main())
