"""The answer-evaluation gate: the realistic citizen questions of tests/eval/ through the real
WeChat path (callback -> Rasa -> actions -> catalogue), judged on what the citizen receives.

This test holds the issue's gate (direct-right >= 0.85, wrong <= 0.02; 0.896 and 0.006 on
2026-12-04); `make eval` reports the same figures and the targets. Writes
reports/answer-eval.md with the worst cases."""

from __future__ import annotations

import json
import socket

import pytest

from bench.answer_eval import GATE, evaluate, gate_failures
from huimin.platform.settings import ROOT

pytestmark = pytest.mark.e2e


# The stack's start counts against the timeout too; the cases take 2-3 minutes on two cores.
@pytest.mark.timeout(1500)
def test_answers_to_the_evaluation_set_hold_the_gate(stack) -> None:
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
    assert not failures, (f"answer evaluation fails the gate {GATE}: {'; '.join(failures)} "
                          "(worst cases in reports/answer-eval.md)")


@pytest.mark.timeout(1200)  # the stack's start and a second Rasa loading a model
def test_a_candidate_model_is_judged_on_its_answers_in_its_own_rasa(stack, tmp_path,
                                                                    monkeypatch) -> None:
    """The ops gate's measure: the model in a Rasa process of its own, with the live action
    server, replies rendered as WeChat shows them and judged by the same judge."""
    import dataclasses

    from huimin.ops import candidate_answers
    from huimin.ops.training import rasa_env
    from huimin.platform.settings import OpsSettings, load_settings

    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "few.yml").write_text(
        "cases:\n"
        "  - {id: c1, category: colloquial, turns: [失业金一个月能领多少钱], "
        "expect: {policy: unemployment_insurance, aspect: amount}}\n"
        "  - {id: c2, category: followup, turns: [我想了解一下一次性创业补贴, 要什么材料], "
        "expect: {policy: startup_subsidy, aspect: materials}}\n"
        "  - {id: c3, category: out_of_scope, turns: [帮我写一首关于秋天的诗], "
        "expect: {out_of_scope: true}}\n", encoding="utf-8")
    monkeypatch.setenv("OPS_EVAL_DIR", str(cases))
    ops = OpsSettings()
    settings = dataclasses.replace(load_settings(), action_server_url=stack.url("actions"))
    model = next((ROOT / "models").glob("*.tar.gz"))
    # The first port it is given is taken by the time Rasa binds it (another evaluation or
    # process got there first): it starts again on another port.
    taken = socket.create_server(("127.0.0.1", 0))
    ports = iter([taken.getsockname()[1]])
    real_free_port = candidate_answers._free_port
    monkeypatch.setattr(candidate_answers, "_free_port",
                        lambda: next(ports, None) or real_free_port())
    lines: list[str] = []
    with taken:
        figures = candidate_answers.evaluate_answers(ops, settings, model, tmp_path / "answers",
                                                     lines.append, rasa_env(ops))
    print("candidate answers:", figures)
    assert figures["cases"] == 3 and figures["policy_cases"] == 2
    assert figures["labels"].get("direct_right", 0) >= 1  # the amount question, at least
    assert figures["eval_sha"] == candidate_answers.eval_sha(ops, settings)
    assert any("3 条" in line for line in lines)
    log = (tmp_path / "answers" / "rasa-answers.log").read_text(errors="replace")
    assert "address already in use" in log.lower()  # the first start really met the taken port
