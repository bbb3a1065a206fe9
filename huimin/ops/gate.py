"""The gate a trained model must pass before it answers citizens.

A model may be activated only if, on the held-out file,
- its macro-F1 is not lower than the active model's by more than the tolerance, and
- every required intent's F1 is at or above that intent's floor;
and, on the end-to-end answer evaluation (huimin/ops/candidate_answers.py: every case of the
evaluation set asked of the model, the reply judged as the citizen sees it, fallbacks and
menus included), when the gate file has an `answers:` section,
- its direct-right rate is not lower than the active model's by more than its tolerance, nor
  below the floor, and its wrong rate not higher than the active model's by more than its
  tolerance, nor above the ceiling.
The rules live in a data file (huimin/ops/gate.yml); a refusal lists every failed check in plain
Chinese for the console, with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class GateConfigError(ValueError):
    """The gate file is invalid; the message names the file and field, in plain English."""


Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class AnswerGate(BaseModel):
    """Rules on the end-to-end answers (rates over the evaluation set, see answer_eval)."""

    model_config = ConfigDict(extra="forbid")

    direct_right_tolerance: Rate
    wrong_tolerance: Rate
    min_direct_right: Rate | None = None
    max_wrong: Rate | None = None


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    macro_f1_tolerance: float = Field(ge=0.0, le=1.0)
    floors: dict[str, Rate] = Field(default_factory=dict)
    answers: AnswerGate | None = None


def load_gate_config(path: Path, tolerance: float | None = None) -> GateConfig:
    """Read the gate file; ``tolerance`` (settings.ops.gate_tolerance, OPS_GATE_TOLERANCE)
    overrides its macro-F1 tolerance."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GateConfigError(f"{path}: cannot read the gate file ({exc})") from exc
    if tolerance is not None:
        data["macro_f1_tolerance"] = tolerance
    try:
        return GateConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise GateConfigError(f"{path}: {problems}") from exc


@dataclass(frozen=True)
class Check:
    name: str  # macro_f1 | floor:<intent> | evaluated
    ok: bool
    message: str  # Chinese, for the console


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def reasons(self) -> list[str]:
        """Why the model was refused (empty when it passes)."""
        return [c.message for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reasons": self.reasons,
            "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in self.checks],
        }


def judge(
    candidate: dict[str, Any] | None, active: dict[str, Any] | None, config: GateConfig
) -> Verdict:
    """``candidate``/``active``: evaluations ``{macro_f1, per_intent_f1, heldout_sha}``."""
    if not candidate:
        refusal = Check("evaluated", False, "该模型还没有在测试集上评估，不能上线。")
        return Verdict(False, (refusal,))
    checks: list[Check] = []
    macro = float(candidate["macro_f1"])
    if active and active.get("macro_f1") is not None:
        if active.get("heldout_sha") and active.get("heldout_sha") != candidate.get("heldout_sha"):
            checks.append(Check(
                "heldout", False,
                "两个模型不是在同一份测试集上评估的，无法比较；请重新训练或重新评估当前模型。",
            ))
        baseline = float(active["macro_f1"])
        lowest = baseline - config.macro_f1_tolerance
        ok = macro >= lowest - 1e-9
        verb = "不低于" if ok else "低于"
        checks.append(Check(
            "macro_f1", ok,
            f"宏平均F1 {macro:.3f}，当前模型 {baseline:.3f}，允许下降 "
            f"{config.macro_f1_tolerance:.3f}：{verb}下限 {lowest:.3f}。",
        ))
    else:
        checks.append(Check(
            "macro_f1", True, f"宏平均F1 {macro:.3f}（当前没有已评估的模型可比较）。"
        ))
    per_intent = candidate.get("per_intent_f1") or {}
    for intent, floor in sorted(config.floors.items()):
        if intent not in per_intent:
            checks.append(Check(
                f"floor:{intent}", False,
                f"必需意图 {intent} 不在评估结果中（测试集缺少该意图或模型不认识它）。",
            ))
            continue
        score = float(per_intent[intent])
        ok = score >= floor - 1e-9
        if not ok:
            checks.append(Check(f"floor:{intent}", False,
                                f"必需意图 {intent} 的F1为 {score:.3f}，低于下限 {floor:.2f}。"))
        else:
            checks.append(Check(f"floor:{intent}", True,
                                f"必需意图 {intent} 的F1为 {score:.3f}（下限 {floor:.2f}）。"))
    if config.answers is not None:
        checks.extend(answer_checks(candidate.get("answers"), (active or {}).get("answers"),
                                    config.answers))
    return Verdict(all(c.ok for c in checks), tuple(checks))


def answer_checks(
    candidate: dict[str, Any] | None, active: dict[str, Any] | None, rules: AnswerGate
) -> list[Check]:
    """``candidate``/``active``: ``{direct_right, wrong, cases, eval_sha, ...}``."""
    if not candidate or candidate.get("direct_right") is None:
        return [Check("answers", False, "该模型还没有做端到端答题评估，不能上线；请重新训练。")]
    right, wrong = float(candidate["direct_right"]), float(candidate["wrong"])
    checks: list[Check] = []
    if rules.min_direct_right is not None:
        ok = right >= rules.min_direct_right - 1e-9
        checks.append(Check("answers:min_direct_right", ok,
                            f"评估集直接答对率 {right:.1%}（下限 {rules.min_direct_right:.0%}）"
                            + ("。" if ok else "，低于下限。")))
    if rules.max_wrong is not None:
        ok = wrong <= rules.max_wrong + 1e-9
        checks.append(Check("answers:max_wrong", ok,
                            f"评估集答错率 {wrong:.1%}（上限 {rules.max_wrong:.0%}）"
                            + ("。" if ok else "，高于上限。")))
    if not active or active.get("direct_right") is None:
        checks.append(Check("answers:direct_right", True,
                            f"评估集直接答对率 {right:.1%}（当前没有做过答题评估的模型可比较）。"))
        return checks
    if active.get("eval_sha") != candidate.get("eval_sha"):
        checks.append(Check("answers:eval_sha", False,
                            "两个模型的答题评估用的评估集或政策目录不同，无法比较；请重新训练。"))
        return checks
    base_right, base_wrong = float(active["direct_right"]), float(active["wrong"])
    lowest = base_right - rules.direct_right_tolerance
    ok = right >= lowest - 1e-9
    checks.append(Check("answers:direct_right", ok,
                        f"评估集直接答对率 {right:.1%}，当前模型 {base_right:.1%}，允许下降 "
                        f"{rules.direct_right_tolerance:.1%}：{'不低于' if ok else '低于'}下限 "
                        f"{lowest:.1%}。"))
    highest = base_wrong + rules.wrong_tolerance
    ok = wrong <= highest + 1e-9
    checks.append(Check("answers:wrong", ok,
                        f"评估集答错率 {wrong:.1%}，当前模型 {base_wrong:.1%}，允许上升 "
                        f"{rules.wrong_tolerance:.1%}：{'不高于' if ok else '高于'}上限 "
                        f"{highest:.1%}。"))
    return checks
