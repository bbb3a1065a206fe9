"""The activation gate: tolerance on macro-F1, floors for required intents, explanations."""

from __future__ import annotations

from pathlib import Path

import pytest

from huimin.ops.gate import AnswerGate, GateConfig, GateConfigError, judge, load_gate_config
from huimin.platform.settings import OpsSettings
from tests.ops_fixtures import answer_figures, evaluation

CONFIG = GateConfig(macro_f1_tolerance=0.02, floors={"human_handoff": 0.85, "greet": 0.75})
GOOD = {"human_handoff": 0.95, "greet": 0.9, "ask_policy": 0.9}


def test_passes_within_tolerance_and_above_floors():
    verdict = judge(evaluation(0.931, GOOD), evaluation(0.95, GOOD), CONFIG)
    assert verdict.ok and verdict.reasons == []
    assert "0.931" in verdict.checks[0].message and "0.950" in verdict.checks[0].message


def test_exactly_at_the_tolerance_passes_and_just_below_fails():
    assert judge(evaluation(0.93, GOOD), evaluation(0.95, GOOD), CONFIG).ok
    verdict = judge(evaluation(0.9299, GOOD), evaluation(0.95, GOOD), CONFIG)
    assert not verdict.ok
    assert verdict.reasons == ["宏平均F1 0.930，当前模型 0.950，允许下降 0.020：低于下限 0.930。"]


def test_a_required_intent_below_its_floor_is_refused_whatever_the_average():
    worse = {**GOOD, "human_handoff": 0.8}
    verdict = judge(evaluation(0.99, worse), evaluation(0.9, GOOD), CONFIG)
    assert not verdict.ok
    assert verdict.reasons == ["必需意图 human_handoff 的F1为 0.800，低于下限 0.85。"]


def test_a_required_intent_missing_from_the_evaluation_is_refused():
    verdict = judge(evaluation(0.99, {"human_handoff": 0.9}), None, CONFIG)
    assert not verdict.ok
    assert any("greet 不在评估结果中" in r for r in verdict.reasons)


def test_no_evaluation_no_activation():
    verdict = judge(None, evaluation(0.9, GOOD), CONFIG)
    assert not verdict.ok and "还没有在测试集上评估" in verdict.reasons[0]


def test_first_model_has_nothing_to_compare_with():
    verdict = judge(evaluation(0.5, GOOD), None, CONFIG)
    assert verdict.ok
    assert "没有已评估的模型可比较" in verdict.checks[0].message


def test_different_heldout_files_cannot_be_compared():
    verdict = judge(evaluation(0.95, GOOD, heldout_sha="new"), evaluation(0.95, GOOD), CONFIG)
    assert not verdict.ok and "同一份测试集" in verdict.reasons[0]


def test_the_shipped_gate_file_is_valid_and_covers_the_required_intents():
    config = load_gate_config(OpsSettings().gate_file)
    assert 0 < config.macro_f1_tolerance < 0.1
    assert {"human_handoff", "out_of_scope", "ask_policy", "check_benefits"} <= set(config.floors)


def test_gate_file_errors_name_the_file_and_field(tmp_path: Path, monkeypatch):
    bad = tmp_path / "gate.yml"
    bad.write_text("macro_f1_tolerance: 2\nfloors:\n  greet: 1.5\nextra: 1\n")
    with pytest.raises(GateConfigError) as error:
        load_gate_config(bad)
    message = str(error.value)
    assert str(bad) in message
    assert "macro_f1_tolerance" in message and "floors.greet" in message and "extra" in message
    good = tmp_path / "ok.yml"
    good.write_text("macro_f1_tolerance: 0.02\nfloors: {greet: 0.7}\n")
    monkeypatch.setenv("OPS_GATE_TOLERANCE", "0.05")
    assert load_gate_config(good, OpsSettings().gate_tolerance).macro_f1_tolerance == 0.05


ANSWERS = GateConfig(macro_f1_tolerance=0.02, answers=AnswerGate(
    direct_right_tolerance=0.02, wrong_tolerance=0.01, min_direct_right=0.5, max_wrong=0.05))


def test_answers_within_tolerance_of_the_live_model_pass():
    live = evaluation(0.9, answers=answer_figures(0.80, 0.010))
    verdict = judge(evaluation(0.9, answers=answer_figures(0.78, 0.020)), live, ANSWERS)
    assert verdict.ok, verdict.reasons
    assert any("直接答对率 78.0%，当前模型 80.0%" in c.message for c in verdict.checks)


def test_fewer_direct_answers_or_more_wrong_answers_than_the_live_model_are_refused():
    live = evaluation(0.9, answers=answer_figures(0.80, 0.010))
    fewer = judge(evaluation(0.9, answers=answer_figures(0.7799, 0.010)), live, ANSWERS)
    assert not fewer.ok
    assert fewer.reasons == [
        "评估集直接答对率 78.0%，当前模型 80.0%，允许下降 2.0%：低于下限 78.0%。"]
    wronger = judge(evaluation(0.9, answers=answer_figures(0.80, 0.021)), live, ANSWERS)
    assert not wronger.ok and "答错率 2.1%" in wronger.reasons[0]


def test_answer_floor_and_ceiling_hold_even_without_a_live_model():
    assert judge(evaluation(0.9, answers=answer_figures(0.6, 0.0)), None, ANSWERS).ok
    verdict = judge(evaluation(0.9, answers=answer_figures(0.49, 0.06)), None, ANSWERS)
    assert not verdict.ok and len(verdict.reasons) == 2
    assert "低于下限" in verdict.reasons[0] and "高于上限" in verdict.reasons[1]


def test_no_answer_evaluation_or_another_evaluation_set_is_refused():
    missing = evaluation(0.9)
    missing.pop("answers")
    verdict = judge(missing, evaluation(0.9), ANSWERS)
    assert not verdict.ok and "还没有做端到端答题评估" in verdict.reasons[0]
    other_set = evaluation(0.9, answers=answer_figures(eval_sha="e2"))
    assert "无法比较" in judge(other_set, evaluation(0.9), ANSWERS).reasons[0]
    # A gate file without an `answers:` section judges intent F1 only.
    assert judge(missing, evaluation(0.9), GateConfig(macro_f1_tolerance=0.02)).ok


def test_the_shipped_gate_file_judges_answers():
    config = load_gate_config(OpsSettings().gate_file)
    assert config.answers is not None
    assert 0 < config.answers.direct_right_tolerance <= 0.05
