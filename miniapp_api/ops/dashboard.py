"""Ops overview (status) and the quality dashboard."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Dict, Integer, List, Nested, String
from apiflask.validators import Range
from sqlalchemy import func, select

from huimin.ops import dashboard, registry, review, training
from huimin.ops.models import HandoffTicket
from huimin.wechat import undelivered
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.ops.base import OPS_ROLES, bp, ingest, ops_settings
from miniapp_api.ops.models import ModelOut, model_row
from miniapp_api.ops.training import RunOut, run_row
from webapp.extensions import services


class DashboardQuery(Schema):
    days = Integer(load_default=30, validate=Range(min=1, max=366))


class DashboardOut(Schema):
    days = List(Dict(), required=True)
    totals = Dict(required=True)
    intents = List(Dict(), required=True)
    unrecognised = List(Dict(), required=True)
    notices = Dict(allow_none=True, metadata={"description": "福利通知模块尚未提供数据时为空"})


class StatusOut(Schema):
    me = String(allow_none=True)
    pending_reviews = Integer(required=True)
    open_tickets = Integer(required=True)
    open_undelivered = Integer(required=True, metadata={"description": "未处理的未送达消息"})
    active_model = Nested(ModelOut, allow_none=True)
    current_run = Nested(RunOut, allow_none=True)




@bp.get("/status")
@require_roles(*OPS_ROLES)
@bp.output(StatusOut)
@bp.doc(summary="运营后台概况", description="待审消息数、未关闭工单数、当前模型、进行中的训练。")
def status() -> dict:
    me = current_principal()
    settings = ops_settings()
    with services().db.session() as s:
        ingest(s)
        live = registry.active_model(s)
        run = training.current_run(s)
        open_tickets = s.scalar(
            select(func.count()).select_from(HandoffTicket).where(HandoffTicket.status != "closed")
        )
        return {
            "me": me.username,
            "pending_reviews": review.pending_count(s, settings.low_confidence),
            "open_tickets": int(open_tickets or 0),
            "open_undelivered": undelivered.count_open(s),
            "active_model": model_row(live, live.id, registry.deployed_ids(s)) if live else None,
            "current_run": run_row(run) if run else None,
        }




@bp.get("/dashboard")
@require_roles(*OPS_ROLES)
@bp.input(DashboardQuery, location="query", arg_name="query")
@bp.output(DashboardOut)
@bp.doc(summary="质量看板", description="每日消息量、未识别率、转人工率、让用户选政策的比例"
        "（菜单率）、转其他部门的比例（转介率）、意图分布、最常见的未识别说法、福利通知送达率和确认率。")
def quality(query: dict) -> dict:
    with services().db.session() as s:
        ingest(s)
        return dashboard.quality(s, days=query["days"])
