"""The gate a trained model must pass before it answers citizens.

A model may be activated only if, on the held-out file,
- its macro-F1 is not lower than the active model's by more than the tolerance, and
- every required intent's F1 is at or above that intent's floor.
The rules live in a data file (huimin/ops/gate.yml); a refusal lists every failed check in plain
Chinese for the console, with the numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class GateConfigError(ValueError):
    """The gate file is invalid; the message names the file and field, in plain English."""


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    macro_f1_tolerance: float = Field(ge=0.0, le=1.0)
    floors: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)


def load_gate_config(path: Path) -> GateConfig:
    """Read the gate file; OPS_GATE_TOLERANCE overrides its tolerance."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GateConfigError(f"{path}: cannot read the gate file ({exc})") from exc
    override = os.environ.get("OPS_GATE_TOLERANCE")
    if override:
        data["macro_f1_tolerance"] = float(override)
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
    return Verdict(all(c.ok for c in checks), tuple(checks))
