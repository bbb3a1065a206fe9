"""The answer-evaluation gate: the realistic citizen questions of tests/eval/ through the real
WeChat path (callback -> Rasa -> actions -> catalogue), judged on what the citizen receives.

Fails below direct-right 0.85 or above wrong 0.02 (the issue's targets are stricter: 0.92 and
0.01, see `make eval`). Writes reports/answer-eval.md with the worst cases."""

from __future__ import annotations

import json

import pytest

from bench.answer_eval import GATE, evaluate, gate_failures
from huimin.config import ROOT

pytestmark = pytest.mark.e2e


def test_answers_to_the_evaluation_set_pass_the_gate(stack) -> None:
    urls = {"web": stack.url("web"), "emulator": stack.url("emulator")}
    summary, results = evaluate(ROOT / "tests" / "eval", urls, concurrency=4, limit=None,
                                out_dir=ROOT / "reports")
    overall = summary["overall"]
    assert overall["cases"] == len(results) >= 420
    print("answer evaluation:", json.dumps(overall, ensure_ascii=False))
    for name, f in summary["categories"].items():
        print(f"  {name}: direct-right {f['direct_right']} menu {f['menu']} wrong {f['wrong']} "
              f"referral {f['referral_right']} oos {f['oos_handled']}")
    failures = gate_failures(overall)
    assert not failures, (f"answer evaluation below the gate {GATE}: {'; '.join(failures)} "
                          "(worst cases in reports/answer-eval.md)")
