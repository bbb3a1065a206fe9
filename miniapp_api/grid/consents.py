"""Consent for grid work: asked for in WeChat, or on paper and confirmed by a second person."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from huimin.grid import consents as grid_consents
from huimin.grid import notify
from huimin.grid.models import GridConsentRequest
from huimin.identity.models import StaffAccount
from huimin.privacy import audit
from huimin.residents.models import Resident
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.grid.base import (
    GRANTABLE,
    acting,
    bp,
    masked_name,
    request_row,
    tell_resident,
)
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class ConsentRequestIn(Schema):
    scopes = List(String(validate=OneOf(GRANTABLE)), required=True,
                  validate=Length(min=1, max=4), metadata={
                      "description": "view_benefits / apply_on_behalf / guide，"
                                     "或 grid_worker_assist（三项全部）"})
    days = Integer(load_default=grid_consents.DEFAULT_DAYS,
                   validate=Range(min=1, max=grid_consents.MAX_DAYS),
                   metadata={"description": "有效天数，默认 30"})
    only_me = Boolean(load_default=False, metadata={
        "description": "true：只授权给我；false：本网格的网格员"})


class PaperConsentIn(ConsentRequestIn):
    evidence = String(required=True, validate=Length(min=1, max=255), metadata={
        "description": "签字授权书照片的编号或地址"})


class ConsentRequestOut(Schema):
    id = Integer(required=True)
    resident_id = Integer(required=True)
    kind = String(required=True, metadata={"description": "wechat | paper"})
    scopes = List(String(), required=True)
    scope_labels = List(String(), required=True)
    days = Integer(required=True)
    only_requester = Boolean(required=True)
    requested_by = Integer(allow_none=True)
    requested_at = UtcDateTime(required=True)
    answer_by = UtcDateTime(required=True)
    evidence = String(allow_none=True)
    status = String(required=True, metadata={
        "description": "pending | granted | declined | rejected | expired"})
    decided_by = Integer(allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    consent_ids = List(Integer(), required=True)


class ConsentRequestItem(ConsentRequestOut):
    """The same fields in lists (a class of its own keeps the OpenAPI components apart)."""


class ConsentRequestListOut(Schema):
    items = List(Nested(ConsentRequestItem), required=True)


class PendingPaperItem(ConsentRequestOut):
    """A paper form waiting for the supervisor, with what they need to check the photo."""

    resident_name = String(allow_none=True, metadata={"description": "居民姓名（已打码）"})
    grid_id = String(allow_none=True)
    requested_by_name = String(allow_none=True, metadata={"description": "登记的网格员"})


class PendingPaperListOut(Schema):
    items = List(Nested(PendingPaperItem), required=True)


class PaperRejectIn(Schema):
    reason = String(load_default="", validate=Length(max=200))




@bp.post("/grid/residents/<int:resident_id>/consents")
@require_roles("grid_worker")
@bp.input(PaperConsentIn, arg_name="body")
@bp.output(ConsentRequestOut, status_code=201)
@bp.doc(summary="登记纸质授权书",
        description="登记居民签字的授权书（附照片编号）。须另一名工作人员（审核人员、管理员或"
                    "同网格的另一名网格员）确认后才生效。",
        responses={403: "不在本网格"})
def record_paper_consent(resident_id: int, body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.consent.paper_record", resident_id):
        row, _ = grid_consents.record_paper(
            s, me.id, resident_id, body["scopes"], body["evidence"], days=body["days"],
            only_me=body["only_me"], ip=client_ip())
        return request_row(row)


class WithdrawIn(Schema):
    scopes = List(String(validate=OneOf(GRANTABLE)), required=True,
                  validate=Length(min=1, max=4), metadata={
                      "description": "要撤回的范围；grid_worker_assist 撤回全部三项"})


class WithdrawnOut(Schema):
    resident_id = Integer(required=True)
    withdrawn = List(Integer(), required=True, metadata={"description": "结束的授权编号"})


@bp.post("/grid/residents/<int:resident_id>/consents/withdraw")
@require_roles("grid_worker")
@bp.input(WithdrawIn, arg_name="body")
@bp.output(WithdrawnOut)
@bp.doc(summary="按居民当面要求撤回授权",
        description="立即生效；居民会收到微信通知，并可在“为我办过的事”里看到。",
        responses={403: "不在本网格"})
def withdraw_in_person(resident_id: int, body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.consent.withdraw", resident_id):
        ended, done = grid_consents.withdraw_in_person(s, me.id, resident_id, body["scopes"],
                                                       ip=client_ip())
    tell_resident(done)
    return {"resident_id": resident_id, "withdrawn": ended}


@bp.post("/grid/residents/<int:resident_id>/consent-requests")
@require_roles("grid_worker")
@bp.input(ConsentRequestIn, arg_name="body")
@bp.output(ConsentRequestOut, status_code=201)
@bp.doc(summary="请居民在微信里授权",
        description="给居民发一条微信消息，点链接打开“网格员帮办”页面，一点即可同意。"
                    "7 天内未回复作废。",
        responses={403: "不在本网格", 409: "居民没有微信"})
def request_consent(resident_id: int, body: dict) -> dict:
    me = current_principal()
    settings = services().settings

    def link(request_id: int) -> str:
        return notify.page_link(settings, f"/my/assist?request={request_id}", "点这里同意或拒绝")

    with services().db.session() as s, acting("grid.consent.request", resident_id):
        row, done = grid_consents.request_in_wechat(
            s, me.id, resident_id, body["scopes"], days=body["days"], only_me=body["only_me"],
            link_for=link, ip=client_ip())
        result = request_row(row)
    tell_resident(done)
    return result


@bp.get("/grid/consents/pending")
@require_roles("grid_supervisor")
@bp.output(PendingPaperListOut)
@bp.doc(summary="待确认的纸质授权书",
        description="网格督导员只看到本人负责网格的，不含本人登记的；附居民打码姓名、网格和"
                    "登记人，供核对照片。")
def pending_paper() -> dict:
    me = current_principal()
    with services().db.session() as s:
        rows = grid_consents.paper_to_confirm(s, me.id)
        audit.record(s, me.actor, "grid.consent.paper_list", "grid_consent_requests", audit.OK,
                     client_ip(), {"count": len(rows)})
        items = []
        for row in rows:
            resident = s.get(Resident, row.resident_id)
            recorder = s.get(StaffAccount, row.requested_by) if row.requested_by else None
            items.append({**request_row(row),
                          "resident_name": masked_name(resident) if resident else None,
                          "grid_id": resident.grid_id if resident else None,
                          "requested_by_name": recorder.username if recorder else None})
        return {"items": items}


def _decide(request_id: int, confirm: bool, reason: str = "") -> dict:
    me = current_principal()
    action = "grid.consent.paper_confirm" if confirm else "grid.consent.paper_reject"
    with services().db.session() as s:
        row = s.get(GridConsentRequest, request_id)
        resident_id = row.resident_id if row is not None else None
    with services().db.session() as s, acting(action, resident_id):
        row, done = grid_consents.decide_paper(s, me.id, request_id, confirm, reason=reason,
                                               ip=client_ip())
        result = request_row(row)
    tell_resident(done)
    return result


@bp.post("/grid/consents/<int:request_id>/confirm")
@require_roles("grid_supervisor")
@bp.output(ConsentRequestOut)
@bp.doc(summary="确认纸质授权书（网格督导员）",
        description="本网格的督导员核对照片后确认，授权立即生效（有效期从确认时算起）。"
                    "登记人本人不能确认。",
        responses={403: "本人登记的或无权确认", 409: "已处理或已过期"})
def confirm_paper(request_id: int) -> dict:
    return _decide(request_id, True)


@bp.post("/grid/consents/<int:request_id>/reject")
@require_roles("grid_supervisor")
@bp.input(PaperRejectIn, arg_name="body")
@bp.output(ConsentRequestOut)
@bp.doc(summary="退回纸质授权书", responses={403: "本人登记的或无权确认", 409: "已处理或已过期"})
def reject_paper(request_id: int, body: dict) -> dict:
    return _decide(request_id, False, body["reason"])
