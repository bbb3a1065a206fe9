"""Acting for a resident: their benefits, confirming a notice, an assisted guide, visits."""

from __future__ import annotations

from datetime import date
from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from flask import request

from huimin.benefits.sources import rule_store
from huimin.grid import assist, visits
from huimin.grid import benefits as grid_benefits
from huimin.grid.access import authorize
from huimin.grid.models import VISIT_OUTCOMES
from huimin.guides import Command
from huimin.platform.settings import load_settings
from huimin.privacy import audit, consent
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.grid.base import (
    acting,
    bp,
    guide_service,
    policy_titles,
    tell_resident,
    turn_row,
)
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


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
    next_visit_on = Date(metadata={"description": "下次走访日期（出现在工作清单上）"})


class VisitOut(Schema):
    id = Integer(required=True)
    resident_id = Integer(required=True)
    staff_id = Integer(allow_none=True)
    consent_id = Integer(allow_none=True)
    visited_at = UtcDateTime(required=True)
    outcome = String(required=True)
    outcome_label = String(required=True)
    note = String(required=True)
    next_visit_on = Date(allow_none=True)


class VisitListOut(Schema):
    items = List(Nested(VisitOut), required=True)




@bp.get("/grid/residents/<int:resident_id>/benefits")
@require_roles("grid_worker")
@bp.output(GridBenefitListOut)
@bp.doc(summary="居民可享受的政策（含理由）",
        description="须居民授权 view_benefits。居民会收到微信通知。",
        responses={403: "不在本网格或未授权"})
def resident_benefits(resident_id: int) -> dict:
    me = current_principal()
    book = rule_store(load_settings().benefits.rules_dir).book
    with services().db.session() as s, acting("grid.benefits.view", resident_id):
        items, consent_id, done = grid_benefits.matched(
            s, me.id, resident_id, book, policy_titles(), date.today(), ip=client_ip())
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
        notice, done = grid_benefits.confirm(s, me.id, resident_id, notice_id, policy_titles())
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
    return turn_row(turn)


def _assisted_step(resident_id: int, key: str, *, command: Command | None = None,
                   choice: int | None = None) -> dict:
    me = current_principal()
    with services().db.session() as s, acting("grid.guide.step", resident_id):
        turn = assist.step(s, guide_service(), me.id, resident_id, key, command=command,
                           choice=choice, ip=client_ip())
    return turn_row(turn)


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
            "outcome_label": VISIT_OUTCOMES[row.outcome], "note": row.note,
            "next_visit_on": row.next_visit_on}


@bp.post("/grid/residents/<int:resident_id>/visits")
@require_roles("grid_worker")
@bp.input(VisitIn, arg_name="body")
@bp.output(VisitOut, status_code=201)
@bp.doc(summary="记录上门走访", description="须居民的任一项网格员授权。居民会收到微信通知。"
        "请求头 Idempotency-Key（离线时在手机上生成）：同一个键重发只记一次，返回第一次的记录。",
        responses={403: "不在本网格或未授权"})
def record_visit(resident_id: int, body: dict) -> dict:
    me = current_principal()
    key = request.headers.get("Idempotency-Key")
    with services().db.session() as s, acting("grid.visit.record", resident_id):
        visit, done = visits.record_visit(s, me.id, resident_id, body["outcome"], body["note"],
                                          visited_at=body.get("visited_at"),
                                          next_visit_on=body.get("next_visit_on"),
                                          client_key=key, ip=client_ip())
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
