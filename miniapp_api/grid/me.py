"""The resident's side (mini-program): what was done for me, answering a consent request."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import String

from huimin.grid import consents as grid_consents
from huimin.grid import history
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.grid.base import (
    acting,
    bp,
    policy_titles,
    request_row,
)
from miniapp_api.grid.consents import ConsentRequestListOut, ConsentRequestOut
from miniapp_api.pagination import PageQuery, page_schema
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class MyHistoryOut(Schema):
    at = UtcDateTime(required=True)
    who = String(required=True, metadata={"description": "例如“网格员（wang_li）”"})
    action = String(required=True)
    text = String(required=True, metadata={"description": "做了什么"})




@bp.get("/me/history")
@require_roles("citizen")
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(page_schema(MyHistoryOut))
@bp.doc(summary="工作人员为我做了什么",
        description="网格员等工作人员为您查看、确认、指导、走访的每一条记录，最新的在前。")
def my_history(query: dict) -> dict:
    me = current_principal()
    if me.resident_id is None:
        return {"items": [], "page": query["page"], "per_page": query["per_page"], "total": 0}
    with services().db.session() as s:
        return history.history(s, me.resident_id, query["page"], query["per_page"], policy_titles())


@bp.get("/me/grid-consent-requests")
@require_roles("citizen")
@bp.output(ConsentRequestListOut)
@bp.doc(summary="网格员请我授权", description="等待您同意或拒绝的请求。")
def my_consent_requests() -> dict:
    me = current_principal()
    if me.resident_id is None:
        return {"items": []}
    with services().db.session() as s:
        return {"items": [request_row(r) for r in grid_consents.pending_for(s, me.resident_id)]}


def _answer(request_id: int, accept: bool) -> dict:
    me = current_principal()
    if me.resident_id is None:
        raise ApiError(409, "real_name_required", "请先完成实名认证")
    with services().db.session() as s, acting("grid.consent.answer"):
        row = grid_consents.answer(s, me.resident_id, request_id, accept, actor=me.actor,
                                   channel="miniapp", ip=client_ip())
        return request_row(row)


@bp.post("/me/grid-consent-requests/<int:request_id>/accept")
@require_roles("citizen")
@bp.output(ConsentRequestOut)
@bp.doc(summary="同意网格员协助（一点即可）",
        description="授权按请求的范围和天数生效，随时可在“我的授权”里撤回。",
        responses={404: "没有这条请求", 409: "已处理或已过期"})
def accept_request(request_id: int) -> dict:
    return _answer(request_id, True)


@bp.post("/me/grid-consent-requests/<int:request_id>/decline")
@require_roles("citizen")
@bp.output(ConsentRequestOut)
@bp.doc(summary="拒绝网格员的授权请求", responses={404: "没有这条请求", 409: "已处理或已过期"})
def decline_request(request_id: int) -> dict:
    return _answer(request_id, False)
