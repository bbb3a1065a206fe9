"""Trained models: list, compare, activate after the gate, roll back; deployments."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Float, Integer, Nested, String
from apiflask.validators import Range
from sqlalchemy import select

from huimin.ops import registry
from huimin.ops.gate import GateConfigError, load_gate_config
from miniapp_api.auth import require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.ops.base import OPS_ROLES, PageIn, acting_staff, bp, log, ops_settings
from miniapp_api.pagination import page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class ModelOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    source = String(required=True)
    sha256 = String(required=True)
    size = Integer(required=True)
    rasa_model_id = String(allow_none=True)
    data_fingerprint = String(allow_none=True)
    started_by = String(required=True)
    started_by_name = String(allow_none=True)
    started_at = UtcDateTime(required=True)
    registered_at = UtcDateTime(required=True)
    training_run_id = Integer(allow_none=True)
    annotation_count = Integer(required=True)
    accuracy = Float(allow_none=True)
    macro_f1 = Float(allow_none=True)
    active = Boolean(required=True)
    deployed_before = Boolean(required=True)


class ModelDetailOut(ModelOut):
    evaluation = Dict(allow_none=True)
    baseline = Dict(allow_none=True)
    diff = Dict(required=True, metadata={"description": "与当前上线模型的比较"})
    gate = Dict(required=True, metadata={"description": "上线检查：ok、reasons、checks"})


class ActionOut(Schema):
    ok = Boolean(required=True)
    message = String(required=True)
    model = Nested(ModelDetailOut, required=True)


class RollbackIn(Schema):
    model_id = Integer(validate=Range(min=1), metadata={"description": "不填：回到上一个模型"})


class DeploymentOut(Schema):
    id = Integer(required=True)
    model_id = Integer(required=True)
    previous_model_id = Integer(allow_none=True)
    action = String(required=True)
    actor = String(required=True)
    actor_name = String(allow_none=True)
    at = UtcDateTime(required=True)


def model_row(record: registry.ModelRecord, live_id: int | None, deployed: set[int]):
    evaluation = record.evaluation or {}
    return {
        "id": record.id, "name": record.name, "source": record.source, "sha256": record.sha256,
        "size": record.size, "rasa_model_id": record.rasa_model_id,
        "data_fingerprint": record.data_fingerprint, "started_by": record.started_by,
        "started_by_name": record.started_by_name, "started_at": record.started_at,
        "registered_at": record.registered_at, "training_run_id": record.training_run_id,
        "annotation_count": record.annotation_count, "accuracy": evaluation.get("accuracy"),
        "macro_f1": evaluation.get("macro_f1"), "active": record.id == live_id,
        "deployed_before": record.id in deployed,
    }


def _gate_config():
    try:
        ops = ops_settings()
        return load_gate_config(ops.gate_file, ops.gate_tolerance)
    except GateConfigError as exc:
        log.error("gate_config_invalid", error=str(exc))
        raise ApiError(500, "gate_config_invalid", "上线检查规则文件有误，请联系技术人员") from None


def _model_detail(session: Any, record: registry.ModelRecord) -> dict[str, Any]:
    live = registry.active_model(session)
    row = model_row(record, live.id if live else None, registry.deployed_ids(session))
    is_live = live is not None and live.id == record.id
    verdict = registry.gate_verdict(session, record, _gate_config())
    return {
        **row,
        "evaluation": record.evaluation, "baseline": record.baseline,
        "diff": ({"against": live.id, **registry.compare(record.evaluation, live.evaluation)}
                 if live is not None and not is_live else {}),
        "gate": verdict.as_dict(),
    }




@bp.get("/models")
@require_roles(*OPS_ROLES)
@bp.input(PageIn, location="query", arg_name="query")
@bp.output(page_schema(ModelOut))
@bp.doc(summary="模型列表", description="所有训练过的模型，最新的在前。")
def models(query: dict) -> dict:
    with services().db.session() as s:
        live = registry.active_model(s)
        deployed = registry.deployed_ids(s)
        return paginate(s, select(registry.ModelRecord).order_by(registry.ModelRecord.id.desc()),
                        query, lambda r: model_row(r, live.id if live else None, deployed))


def _model_or_404(session: Any, model_id: int) -> registry.ModelRecord:
    record = session.get(registry.ModelRecord, model_id)
    if record is None:
        raise ApiError(404, "not_found", "找不到该模型")
    return record


@bp.get("/models/<int:model_id>")
@require_roles(*OPS_ROLES)
@bp.output(ModelDetailOut)
@bp.doc(summary="模型详情", description="评估结果、与当前模型的比较、上线检查结果。")
def model_detail(model_id: int) -> dict:
    with services().db.session() as s:
        return _model_detail(s, _model_or_404(s, model_id))


def _deploy_action(model_id: int | None, act) -> dict:
    actor, name = acting_staff()
    with services().db.session() as s:
        outcome = act(s, actor, name)
        target = outcome.deployment.model_id if outcome.deployment else model_id
        detail = _model_detail(s, _model_or_404(s, target)) if target else None
    if not outcome.ok:
        fields = {"gate": "；".join(outcome.verdict.reasons)} if outcome.verdict else None
        raise ApiError(409, "gate_refused" if outcome.verdict else "not_allowed",
                       outcome.message, fields=fields)
    return {"ok": True, "message": outcome.message, "model": detail}


@bp.post("/models/<int:model_id>/activate")
@require_roles(*OPS_ROLES)
@bp.output(ActionOut)
@bp.doc(summary="上线模型", description="通过上线检查才能上线；助手服务在几秒内拉取新模型，"
        "对话不中断。", responses={409: "未通过上线检查（message 说明原因）"})
def activate(model_id: int) -> dict:
    config = _gate_config()
    return _deploy_action(model_id, lambda s, actor, name: registry.activate(
        s, model_id, config, actor, name, client_ip()))


@bp.post("/models/rollback")
@require_roles(*OPS_ROLES)
@bp.input(RollbackIn, arg_name="body")
@bp.output(ActionOut)
@bp.doc(summary="回滚模型", description="回到曾经上线过的模型（默认上一个），无需检查。",
        responses={404: "没有该模型", 409: "没有可回滚的模型或该模型从未上线"})
def rollback(body: dict) -> dict:
    target = body.get("model_id")
    return _deploy_action(target, lambda s, actor, name: registry.rollback(
        s, actor, target, name, client_ip()))


@bp.get("/deployments")
@require_roles(*OPS_ROLES)
@bp.input(PageIn, location="query", arg_name="query")
@bp.output(page_schema(DeploymentOut))
@bp.doc(summary="上线和回滚记录")
def deployments(query: dict) -> dict:
    with services().db.session() as s:
        return paginate(s, select(registry.Deployment).order_by(registry.Deployment.id.desc()),
                        query, lambda d: {
                            "id": d.id, "model_id": d.model_id,
                            "previous_model_id": d.previous_model_id, "action": d.action,
                            "actor": d.actor, "actor_name": d.actor_name, "at": d.at})
