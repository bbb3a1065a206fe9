"""Grid workers (网格员) acting for the residents of their grids, and what residents see of it.

Staff tool: the worklist, a resident's benefits with reasons, confirming a notice for them,
a guide in assisted mode (the grid worker reads each step out), visit notes, and consent
(asked for in WeChat, or recorded on paper and confirmed by a second staff member).
Mini-program: ``/me/history`` (what was done for me) and answering a one-tap consent request.

Every check (own grid, consent in force) lives in ``huimin.grid``; a refusal is answered
with its own code (``not_your_grid``, ``consent_required``) and audited; every action is
audited and the resident gets a WeChat message about it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import redis
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from huimin.benefits.settings import BenefitSettings
from huimin.benefits.sources import catalogue, rule_store, titles
from huimin.grid import assignment, assist, history, notify, visits
from huimin.grid import benefits as grid_benefits
from huimin.grid import consents as grid_consents
from huimin.grid.access import GridDenied, authorize, consent_in_force, grid_worker
from huimin.grid.actions import Done
from huimin.grid.models import VISIT_OUTCOMES, GridConsentRequest
from huimin.grid.worklist import REASONS, Filters, worklist
from huimin.guides import Command
from huimin.guides.service import GuideService, Turn, guide_store
from huimin.guides.storage import GuideStorageError, SessionStore
from huimin.privacy import audit, consent
from huimin.privacy.masking import mask_name
from huimin.privacy.pii import NAME
from jobs.grid import schedule
from miniapp_api.auth import audit_now, current_principal, require_roles
from miniapp_api.context import api_services, client_ip
from miniapp_api.errors import ApiError
from miniapp_api.pagination import PageQuery, page_schema
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services

log = logging.getLogger(__name__)

bp = APIBlueprint("api_grid", __name__, tag="网格员")

GRANTABLE = grid_consents.GRANTABLE
CONSENT_PAGE = "pages/grid-consent/index"


# ---- schemas ---------------------------------------------------------------------------------



class WorklistQuery(PageQuery):
    reason = String(validate=OneOf(REASONS), metadata={
        "description": "open_ticket 在线求助未处理 | pending_notice 有政策提醒未确认 | "
                       "no_wechat 没有微信"})
    grid_id = String(validate=Length(min=1, max=64), metadata={"description": "只看这个网格"})
    older = Boolean(load_default=False, metadata={"description": "只看60岁及以上"})


class WorkItemOut(Schema):
    resident_id = Integer(required=True)
    name = String(allow_none=True, metadata={"description": "已打码"})
    grid_id = String(allow_none=True)
    age = Integer(allow_none=True)
    urgency = Integer(required=True, metadata={"description": "越大越急"})
    reasons = List(String(), required=True)
    reason_labels = List(String(), required=True)
    open_notices = Integer(required=True)
    notices_for_grid_worker = Integer(required=True)
    soonest_notice_expiry = UtcDateTime(allow_none=True)
    open_tickets = Integer(required=True)
    has_wechat = Boolean(required=True)
    waiting_since = UtcDateTime(allow_none=True)
    consent_scopes = List(String(), required=True, metadata={
        "description": "该居民给您的有效授权范围；为空须先取得授权"})


class GridNoticeOut(Schema):
    id = Integer(required=True)
    status = String(required=True)
    matched_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    confirmed_at = UtcDateTime(allow_none=True)
    response_channel = String(allow_none=True)


class GridBenefitOut(Schema):
    policy = String(required=True)
    title = String(required=True)
    status = String(required=True, metadata={"description": "eligible | unknown | not_eligible"})
    reasons = List(String(), required=True)
    missing = List(String(), required=True, metadata={"description": "还需要了解的情况"})
    amount = String(allow_none=True)
    duration = String(allow_none=True)
    notice = Nested(GridNoticeOut, allow_none=True)


class GridBenefitListOut(Schema):
    resident_id = Integer(required=True)
    consent_id = Integer(required=True)
    items = List(Nested(GridBenefitOut), required=True)


class GridConfirmOut(Schema):
    notice_id = Integer(required=True)
    status = String(required=True)
    response_channel = String(allow_none=True)
    confirmed_at = UtcDateTime(allow_none=True)
    responded_by = Integer(allow_none=True)
    consent_id = Integer(allow_none=True)


class GuideOptionOut(Schema):
    number = Integer(required=True)
    label = String(required=True)
    command = String(required=True)


class GuideMessageOut(Schema):
    text = String(required=True, metadata={"description": "整条消息（可直接读给居民听）"})
    lines = List(String(), required=True)
    options = List(Nested(GuideOptionOut), required=True)
    image = String(allow_none=True)
    footer = String(allow_none=True)


class GuideTurnOut(Schema):
    guide = Dict(required=True, metadata={"description": "{key, title}"})
    event = String(required=True, metadata={
        "description": "started | resume_offered | resumed | step | reprompt | not_understood "
                       "| finished | stopped | handoff"})
    care_mode = Boolean(required=True)
    step = Integer(allow_none=True, metadata={"description": "做到第几步"})
    steps = Integer(required=True, metadata={"description": "共几步"})
    finished = Boolean(required=True)
    messages = List(Nested(GuideMessageOut), required=True)


class GuideAnswerIn(Schema):
    choice = Integer(required=True, validate=Range(min=1, max=20), metadata={
        "description": "居民选的数字（屏幕上的编号）"})


class VisitIn(Schema):
    outcome = String(required=True, validate=OneOf(tuple(VISIT_OUTCOMES)), metadata={
        "description": " | ".join(f"{k} {v}" for k, v in VISIT_OUTCOMES.items())})
    note = String(load_default="", validate=Length(max=visits.MAX_NOTE), metadata={
        "description": "走访记录；身份证号、手机号会被打码"})
    visited_at = DateTime(metadata={"description": "默认现在"})


class VisitOut(Schema):
    id = Integer(required=True)
    resident_id = Integer(required=True)
    staff_id = Integer(allow_none=True)
    consent_id = Integer(allow_none=True)
    visited_at = UtcDateTime(required=True)
    outcome = String(required=True)
    outcome_label = String(required=True)
    note = String(required=True)


class VisitListOut(Schema):
    items = List(Nested(VisitOut), required=True)


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


class PaperRejectIn(Schema):
    reason = String(load_default="", validate=Length(max=200))


class MyHistoryOut(Schema):
    at = UtcDateTime(required=True)
    who = String(required=True, metadata={"description": "例如“网格员（wang_li）”"})
    action = String(required=True)
    text = String(required=True, metadata={"description": "做了什么"})


class GridsIn(Schema):
    grids = List(String(validate=Length(min=1, max=assignment.MAX_GRID_ID)), required=True,
                 validate=Length(max=200))


class GridsOut(Schema):
    staff_id = Integer(required=True)
    grids = List(String(), required=True)


class GridSummaryOut(Schema):
    grid_id = String(required=True)
    residents = Integer(required=True)
    workers = List(String(), required=True)


class GridSummaryListOut(Schema):
    items = List(Nested(GridSummaryOut), required=True)


# ---- helpers ---------------------------------------------------------------------------------


@contextmanager
def acting(action: str, resident_id: int | None = None) -> Iterator[None]:
    """Turn a domain refusal into the API's error, auditing refusals about a resident in a
    transaction of their own (the view's transaction rolls back with the error)."""
    try:
        yield
    except GridDenied as exc:
        if resident_id is not None and exc.status in (403, 404):
            audit_now(current_principal().actor, action, f"resident:{resident_id}",
                      audit.DENIED, {"reason": exc.code})
        raise ApiError(exc.status, exc.code, exc.message) from None
    except GuideStorageError:
        log.warning("guide sessions unavailable (Redis)")
        raise ApiError(503, "unavailable", "服务暂时不可用，请稍后再试") from None


def tell_resident(done: Done | None) -> None:
    """Queue the WeChat message about an action (after its transaction committed)."""
    if done is None or not done.notify:
        return
    try:
        schedule(services().redis, done.resident_id, done.notify, done.key)
    except redis.RedisError:
        # The action stands and is in the resident's history; only the message is lost.
        log.warning("grid notification not queued for resident %s", done.resident_id)


def guide_service() -> GuideService:
    svc = services()
    return GuideService(guide_store(svc.settings.guides_dir), SessionStore(svc.redis))


def _titles() -> dict[str, str]:
    return titles(catalogue(services().settings.policies_dir))


def _name(resident: Any) -> str | None:
    if resident.name_enc is None:
        return None
    raw = resident.name_enc
    return mask_name(api_services().cipher.decrypt(
        raw.decode() if isinstance(raw, bytes) else raw, field=NAME))


def _turn(turn: Turn) -> dict[str, Any]:
    guide, reply = turn.guide, turn.reply
    return {
        "guide": {"key": guide.key, "title": guide.title},
        "event": reply.event.value,
        "care_mode": reply.session.care_mode,
        "step": reply.session.progress(guide) if guide.has_step(reply.session.step_id) else None,
        "steps": guide.main_count,
        "finished": reply.session.finished,
        "messages": [m.to_dict() for m in reply.messages],
    }


def _request(row: GridConsentRequest) -> dict[str, Any]:
    return {
        "id": row.id, "resident_id": row.resident_id, "kind": row.kind,
        "scopes": list(row.scopes), "scope_labels": [consent.LABELS[s] for s in row.scopes],
        "days": row.days, "only_requester": row.only_requester,
        "requested_by": row.requested_by, "requested_at": row.requested_at,
        "answer_by": row.answer_by, "evidence": row.evidence, "status": row.status,
        "decided_by": row.decided_by, "decided_at": row.decided_at,
        "consent_ids": list(row.consent_ids or []),
    }


# ---- the worklist ----------------------------------------------------------------------------


@bp.get("/grid/worklist")
@require_roles("grid_worker")
@bp.input(WorklistQuery, location="query", arg_name="query")
@bp.output(page_schema(WorkItemOut))
@bp.doc(summary="网格员工作清单",
        description="本人负责网格内：有政策提醒未确认、在线求助未处理、没有微信的居民，"
                    "按紧急程度排序。姓名已打码。")
def get_worklist(query: dict) -> dict:
    me = current_principal()
    today = date.today()
    filters = Filters(reason=query.get("reason"), grid_id=query.get("grid_id"),
                      older=query["older"])
    with services().db.session() as s, acting("grid.worklist.view"):
        staff_grids = grid_worker(s, me.id).grid_ids
        if filters.grid_id is not None and filters.grid_id not in staff_grids:
            raise GridDenied(403, "not_your_grid", "这个网格不归您负责")
        items, total = worklist(s, staff_grids, filters, query["page"], query["per_page"],
                                today=today)
        rows = []
        for item in items:
            scopes = [sc for sc in consent.GRID_SCOPES
                      if consent_in_force(s, item.resident.id, (sc,), me.id) is not None]
            rows.append({**item.to_dict(today), "name": _name(item.resident),
                         "consent_scopes": scopes})
        audit.record(s, me.actor, "grid.worklist.view", "grid_worklist", audit.OK, client_ip(),
                     {"page": query["page"], "count": len(rows), "filters": {
                         "reason": filters.reason, "grid_id": filters.grid_id,
                         "older": filters.older}})
    return {"items": rows, "page": query["page"], "per_page": query["per_page"], "total": total}


# ---- acting for a resident -------------------------------------------------------------------


@bp.get("/grid/residents/<int:resident_id>/benefits")
@require_roles("grid_worker")
@bp.output(GridBenefitListOut)
@bp.doc(summary="居民可享受的政策（含理由）",
        description="须居民授权 view_benefits。居民会收到微信通知。",
        responses={403: "不在本网格或未授权"})
def resident_benefits(resident_id: int) -> dict:
    me = current_principal()
    book = rule_store(BenefitSettings.from_env().rules_dir).book
    with services().db.session() as s, acting("grid.benefits.view", resident_id):
        items, consent_id, done = grid_benefits.matched(
            s, me.id, resident_id, book, _titles(), date.today(), ip=client_ip())
    tell_resident(done)
    return {"resident_id": resident_id, "consent_id": consent_id, "items": items}


@bp.post("/grid/residents/<int:resident_id>/notices/<int:notice_id>/confirm")
@require_roles("grid_worker")
@bp.output(GridConfirmOut)
@bp.doc(summary="代居民确认政策提醒（免申即享）",
        description="须居民授权 apply_on_behalf。记录渠道 grid_worker、网格员和授权编号；"
                    "居民会收到微信通知。重复确认不会重复记录。",
        responses={403: "不在本网格或未授权", 404: "没有这条提醒", 409: "提醒已过期或已拒绝"})
def confirm_notice(resident_id: int, notice_id: int) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.notice.confirm", resident_id):
        notice, done = grid_benefits.confirm(s, me.id, resident_id, notice_id, _titles())
        result = {
            "notice_id": notice.id, "status": notice.status,
            "response_channel": notice.response_channel, "confirmed_at": notice.confirmed_at,
            "responded_by": notice.responded_by, "consent_id": notice.consent_id,
        }
    tell_resident(done)
    return result


@bp.post("/grid/residents/<int:resident_id>/guides/<key>")
@require_roles("grid_worker")
@bp.output(GuideTurnOut)
@bp.doc(summary="协助模式：开始办事指引",
        description="须居民授权 guide。大字简单版，消息由网格员读给居民听；7 天内再开始会问"
                    "是否接着上次做。居民会收到微信通知。",
        responses={403: "不在本网格或未授权", 404: "没有这个办事指引"})
def assisted_start(resident_id: int, key: str) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.guide.start", resident_id):
        turn, done = assist.start(s, guide_service(), me.id, resident_id, key, ip=client_ip())
    tell_resident(done)
    return _turn(turn)


def _assisted_step(resident_id: int, key: str, *, command: Command | None = None,
                   choice: int | None = None) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.guide.step", resident_id):
        turn = assist.step(s, guide_service(), me.id, resident_id, key, command=command,
                           choice=choice, ip=client_ip())
    return _turn(turn)


_STEP_DOC = {"responses": {403: "不在本网格或未授权（撤回授权后立即生效）",
                           404: "没有这个办事指引", 409: "还没有开始这个办事指引"}}


@bp.post("/grid/residents/<int:resident_id>/guides/<key>/next")
@require_roles("grid_worker")
@bp.output(GuideTurnOut)
@bp.doc(summary="协助模式：下一步", **_STEP_DOC)
def assisted_next(resident_id: int, key: str) -> dict:
    return _assisted_step(resident_id, key, command=Command.NEXT)


@bp.post("/grid/residents/<int:resident_id>/guides/<key>/repeat")
@require_roles("grid_worker")
@bp.output(GuideTurnOut)
@bp.doc(summary="协助模式：再说一遍", **_STEP_DOC)
def assisted_repeat(resident_id: int, key: str) -> dict:
    return _assisted_step(resident_id, key, command=Command.REPEAT)


@bp.post("/grid/residents/<int:resident_id>/guides/<key>/back")
@require_roles("grid_worker")
@bp.output(GuideTurnOut)
@bp.doc(summary="协助模式：上一步", **_STEP_DOC)
def assisted_back(resident_id: int, key: str) -> dict:
    return _assisted_step(resident_id, key, command=Command.BACK)


@bp.post("/grid/residents/<int:resident_id>/guides/<key>/stop")
@require_roles("grid_worker")
@bp.output(GuideTurnOut)
@bp.doc(summary="协助模式：不办了", **_STEP_DOC)
def assisted_stop(resident_id: int, key: str) -> dict:
    return _assisted_step(resident_id, key, command=Command.STOP)


@bp.post("/grid/residents/<int:resident_id>/guides/<key>/answer")
@require_roles("grid_worker")
@bp.input(GuideAnswerIn, arg_name="body")
@bp.output(GuideTurnOut)
@bp.doc(summary="协助模式：回答问题或选继续/重新开始",
        description="choice 是消息里选项的编号。", **_STEP_DOC)
def assisted_answer(resident_id: int, key: str, body: dict) -> dict:
    return _assisted_step(resident_id, key, choice=body["choice"])


def _visit(row: Any) -> dict[str, Any]:
    return {"id": row.id, "resident_id": row.resident_id, "staff_id": row.staff_id,
            "consent_id": row.consent_id, "visited_at": row.visited_at, "outcome": row.outcome,
            "outcome_label": VISIT_OUTCOMES[row.outcome], "note": row.note}


@bp.post("/grid/residents/<int:resident_id>/visits")
@require_roles("grid_worker")
@bp.input(VisitIn, arg_name="body")
@bp.output(VisitOut, status_code=201)
@bp.doc(summary="记录上门走访", description="须居民的任一项网格员授权。居民会收到微信通知。",
        responses={403: "不在本网格或未授权"})
def record_visit(resident_id: int, body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.visit.record", resident_id):
        visit, done = visits.record_visit(s, me.id, resident_id, body["outcome"], body["note"],
                                          visited_at=body.get("visited_at"), ip=client_ip())
        result = _visit(visit)
    tell_resident(done)
    return result


@bp.get("/grid/residents/<int:resident_id>/visits")
@require_roles("grid_worker")
@bp.output(VisitListOut)
@bp.doc(summary="走访记录", description="须居民的任一项网格员授权。",
        responses={403: "不在本网格或未授权"})
def list_visits(resident_id: int) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.visit.list", resident_id):
        auth = authorize(s, me.id, resident_id, consent.GRID_SCOPES)
        audit.record(s, auth.actor, "grid.visit.list", auth.target, audit.OK, client_ip())
        return {"items": [_visit(v) for v in visits.visits_of(s, resident_id)]}


# ---- consent ---------------------------------------------------------------------------------


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
        return _request(row)


@bp.post("/grid/residents/<int:resident_id>/consent-requests")
@require_roles("grid_worker")
@bp.input(ConsentRequestIn, arg_name="body")
@bp.output(ConsentRequestOut, status_code=201)
@bp.doc(summary="请居民在微信里授权",
        description="给居民发一条微信消息，点链接打开小程序，一点即可同意。7 天内未回复作废。",
        responses={403: "不在本网格", 409: "居民没有微信"})
def request_consent(resident_id: int, body: dict) -> dict:
    me = current_principal()
    settings = services().settings

    def link(request_id: int) -> str:
        return notify.miniapp_link(settings, f"{CONSENT_PAGE}?request={request_id}",
                                   "点这里同意或拒绝")

    with services().db.session() as s, acting("grid.consent.request", resident_id):
        row, done = grid_consents.request_in_wechat(
            s, me.id, resident_id, body["scopes"], days=body["days"], only_me=body["only_me"],
            link_for=link, ip=client_ip())
        result = _request(row)
    tell_resident(done)
    return result


@bp.get("/grid/consents/pending")
@require_roles("grid_worker", "verifier", "admin")
@bp.output(ConsentRequestListOut)
@bp.doc(summary="待确认的纸质授权书",
        description="不含本人登记的。网格员只看到本人网格的。")
def pending_paper() -> dict:
    me = current_principal()
    with services().db.session() as s:
        rows = grid_consents.paper_to_confirm(s, me.id)
        audit.record(s, me.actor, "grid.consent.paper_list", "grid_consent_requests", audit.OK,
                     client_ip(), {"count": len(rows)})
        return {"items": [_request(r) for r in rows]}


def _decide(request_id: int, confirm: bool, reason: str = "") -> dict:
    me = current_principal()
    action = "grid.consent.paper_confirm" if confirm else "grid.consent.paper_reject"
    with services().db.session() as s:
        row = s.get(GridConsentRequest, request_id)
        resident_id = row.resident_id if row is not None else None
    with services().db.session() as s, acting(action, resident_id):
        row, done = grid_consents.decide_paper(s, me.id, request_id, confirm, reason=reason,
                                               ip=client_ip())
        result = _request(row)
    tell_resident(done)
    return result


@bp.post("/grid/consents/<int:request_id>/confirm")
@require_roles("grid_worker", "verifier", "admin")
@bp.output(ConsentRequestOut)
@bp.doc(summary="确认纸质授权书（第二名工作人员）",
        description="核对照片后确认，授权立即生效（有效期从确认时算起）。登记人本人不能确认。",
        responses={403: "本人登记的或无权确认", 409: "已处理或已过期"})
def confirm_paper(request_id: int) -> dict:
    return _decide(request_id, True)


@bp.post("/grid/consents/<int:request_id>/reject")
@require_roles("grid_worker", "verifier", "admin")
@bp.input(PaperRejectIn, arg_name="body")
@bp.output(ConsentRequestOut)
@bp.doc(summary="退回纸质授权书", responses={403: "本人登记的或无权确认", 409: "已处理或已过期"})
def reject_paper(request_id: int, body: dict) -> dict:
    return _decide(request_id, False, body["reason"])


# ---- the resident's side ---------------------------------------------------------------------


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
        return history.history(s, me.resident_id, query["page"], query["per_page"], _titles())


@bp.get("/me/grid-consent-requests")
@require_roles("citizen")
@bp.output(ConsentRequestListOut)
@bp.doc(summary="网格员请我授权", description="等待您同意或拒绝的请求。")
def my_consent_requests() -> dict:
    me = current_principal()
    if me.resident_id is None:
        return {"items": []}
    with services().db.session() as s:
        return {"items": [_request(r) for r in grid_consents.pending_for(s, me.resident_id)]}


def _answer(request_id: int, accept: bool) -> dict:
    me = current_principal()
    if me.resident_id is None:
        raise ApiError(409, "real_name_required", "请先完成实名认证")
    with services().db.session() as s, acting("grid.consent.answer"):
        row = grid_consents.answer(s, me.resident_id, request_id, accept, actor=me.actor,
                                   channel="miniapp", ip=client_ip())
        return _request(row)


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


# ---- grid assignments (admins) -----------------------------------------------------------------


@bp.get("/grid/assignments")
@require_roles("admin")
@bp.output(GridSummaryListOut)
@bp.doc(summary="网格一览",
        description="每个网格的居民数和负责的网格员（没有网格员的网格也列出）。")
def grid_summary() -> dict:
    me = current_principal()
    with services().db.session() as s:
        rows = assignment.summary(s)
        audit.record(s, me.actor, "admin.grid.list", "staff_grids", audit.OK, client_ip())
        return {"items": [{"grid_id": r.grid_id, "residents": r.residents,
                           "workers": list(r.workers)} for r in rows]}


@bp.put("/grid/assignments/<int:staff_id>")
@require_roles("admin")
@bp.input(GridsIn, arg_name="body")
@bp.output(GridsOut)
@bp.doc(summary="设置网格员负责的网格", description="整体替换；立即生效。",
        responses={404: "没有这个工作人员", 422: "不是网格员或网格编号不对"})
def set_grids(staff_id: int, body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s:
        try:
            grids = assignment.set_grids(s, staff_id, body["grids"])
        except assignment.AssignmentError as exc:
            if exc.field == "staff_id":
                raise ApiError(404, "not_found", "找不到这个工作人员") from None
            raise ApiError(422, "invalid_input", "填写的内容有误，请检查",
                           fields={"grids": "须为网格员账号，网格编号 1-64 个字符"}) from None
        audit.record(s, me.actor, "admin.grid.assign", f"staff:{staff_id}", audit.OK,
                     client_ip(), {"grids": grids})
        return {"staff_id": staff_id, "grids": grids}
