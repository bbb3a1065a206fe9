"""Policy finds people: the public calculator, the citizen's benefits and notices, one-tap
confirmation (免申即享). The rules and titles come from data (rules/, policies/)."""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import lru_cache
from typing import Any

import redis
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import INCLUDE
from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.benefits import notices as lifecycle
from huimin.benefits import questions
from huimin.benefits.check import PolicyAnswer, check, resident_facts
from huimin.benefits.models import MINIAPP, OFFICIAL_ACCOUNT, OPEN, STATUSES, BenefitNotice
from huimin.benefits.sources import catalogue, rule_store, titles
from huimin.platform.settings import BenefitSettings, load_settings
from huimin.privacy import audit
from huimin.residents import FACT_NAMES, Facts, ProfileError, parse_profile
from huimin.residents.importer import apply_facts
from huimin.residents.models import Resident
from jobs.benefits import enqueue_resident_match
from miniapp_api.auth import PUBLIC, current_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.pagination import page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services

log = logging.getLogger(__name__)

bp = APIBlueprint("api_benefits", __name__, tag="政策找人")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PROFILE_EXAMPLE = {"birth_date": "1940-03-01", "local_hukou": True}
_CONFLICTS = {
    "notice_expired": "这条提醒已过期，如有疑问请拨打 12333",
    "notice_declined": "您已选择不领取这项待遇，如需办理请拨打 12333",
    "notice_confirmed": "您已确认领取，不能再改为不领取，如有疑问请拨打 12333",
}


class EligibilityIn(Schema):
    class Meta:
        unknown = INCLUDE  # checked by the view, so every mistake is a 400 naming the field

    profile = Raw(required=False, metadata={
        "description": "居民信息，每项都可不填（表示不知道）。字段名见 huimin.residents.facts："
                       "birth_date、gender、local_hukou、employment_status 等",
        "example": _PROFILE_EXAMPLE})
    as_of = Raw(required=False, metadata={
        "description": "按哪一天判断，YYYY-MM-DD；不填为今天", "example": "2025-06-30"})


class QuantityOut(Schema):
    value = Integer(required=True)
    unit = String(required=True)
    text = String(required=True, metadata={"example": "100元/月"})


class ResultOut(Schema):
    policy = String(required=True)
    title = String(required=True)
    rule_version = Integer(required=True)
    status = String(required=True, validate=OneOf(("eligible", "not_eligible", "unknown")))
    missing = List(String(), required=True, metadata={
        "description": "还缺哪些信息才能判断（或算出金额）"})
    missing_labels = List(String(), required=True)
    reasons = List(String(), required=True, metadata={"description": "每个条件是否满足"})
    amount = Nested(QuantityOut, allow_none=True)
    duration = Nested(QuantityOut, allow_none=True)
    notice_id = Integer(allow_none=True, metadata={
        "description": "待您确认的提醒（仅 /me/benefits）"})


class EligibilityOut(Schema):
    as_of = String(required=True)
    results = List(Nested(ResultOut), required=True)


class NoticeQuery(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000))
    per_page = Integer(load_default=20, validate=Range(min=1, max=100))
    status = String(validate=OneOf(STATUSES), metadata={"description": "只看某种状态"})


class NoticeOut(Schema):
    id = Integer(required=True)
    policy = String(required=True)
    title = String(required=True)
    rule_version = Integer(required=True)
    status = String(required=True, validate=OneOf(STATUSES))
    amount = Nested(QuantityOut, allow_none=True)
    duration = Nested(QuantityOut, allow_none=True)
    matched_at = UtcDateTime(required=True)
    notified_at = UtcDateTime(allow_none=True)
    notified_via = String(allow_none=True, metadata={"description": "miniapp / official_account"})
    expires_at = UtcDateTime(required=True)
    confirmed_at = UtcDateTime(allow_none=True)
    declined_at = UtcDateTime(allow_none=True)
    response_channel = String(allow_none=True)
    expired_at = UtcDateTime(allow_none=True)


@lru_cache(maxsize=1)
def _settings() -> BenefitSettings:
    return load_settings().benefits


def _answers(facts: Facts, as_of: date) -> list[PolicyAnswer]:
    book = rule_store(_settings().rules_dir).book
    names = titles(catalogue(services().settings.policies_dir))
    return check(book, names, facts, as_of)


def _quantity(value: int | None, unit: str | None) -> dict[str, Any] | None:
    return None if value is None else {"value": value, "unit": unit or "",
                                       "text": f"{value}{unit or ''}"}


def _notice_json(notice: BenefitNotice, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": notice.id,
        "policy": notice.policy,
        "title": names.get(notice.policy, notice.policy),
        "rule_version": notice.rule_version,
        "status": notice.status,
        "amount": _quantity(notice.amount, notice.amount_unit),
        "duration": _quantity(notice.duration, notice.duration_unit),
        "matched_at": notice.matched_at,
        "notified_at": notice.notified_at,
        "notified_via": notice.delivery if notice.delivery in (MINIAPP, OFFICIAL_ACCOUNT)
        else None,
        "expires_at": notice.expires_at,
        "confirmed_at": notice.confirmed_at,
        "declined_at": notice.declined_at,
        "response_channel": notice.response_channel,
        "expired_at": notice.expired_at,
    }


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_input", "填写的内容有误，请检查", fields={field: message})


def _day(raw: object) -> date:
    if isinstance(raw, str) and _ISO_DATE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise _bad("as_of", "日期应按“年-月-日”填写，例如 2025-06-30")


@bp.post("/eligibility/check")
@require_roles(PUBLIC)
@bp.input(EligibilityIn, arg_name="body")
@bp.output(EligibilityOut)
@bp.doc(summary="政策计算器", description="填写您知道的情况，看看能享受哪些政策、还缺哪些信息。"
        "不保存任何信息。", responses={400: "某项填写有误（fields 指出是哪一项）"})
def eligibility_check(body: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in body if k not in ("profile", "as_of")]
    if unknown:
        raise _bad(str(unknown[0]), "不支持该字段")
    as_of = date.today() if body.get("as_of") is None else _day(body["as_of"])
    profile = body.get("profile", {})
    if profile is None:
        profile = {}
    if not isinstance(profile, dict):
        raise _bad("profile", "应为对象，例如 {\"birth_date\": \"1940-03-01\"}")
    try:
        facts = parse_profile(profile)
    except ProfileError as exc:
        raise ApiError(400, "invalid_profile", "填写的信息有误，请检查",
                       fields={f"profile.{p.field}": p.message_zh for p in exc.problems}) from None
    return {"as_of": as_of.isoformat(), "results": [a.to_json() for a in _answers(facts, as_of)]}


@bp.get("/me/benefits")
@require_roles("citizen")
@bp.output(EligibilityOut)
@bp.doc(summary="我能享受的政策", description="按您在本系统的资料判断；缺少的信息可在对话中补充。",
        responses={409: "需要先完成实名认证"})
def my_benefits() -> dict[str, Any]:
    me = current_principal()
    if me.resident_id is None:
        raise ApiError(409, "real_name_required", "请先完成实名认证")
    today = date.today()
    with services().db.session() as s:
        resident = s.get(Resident, me.resident_id)
        if resident is None:
            raise ApiError(409, "real_name_required", "请先完成实名认证")
        facts = resident_facts(resident)
        open_notices = {n.policy: n.id for n in s.scalars(
            select(BenefitNotice).where(BenefitNotice.resident_id == resident.id,
                                        BenefitNotice.status.in_(OPEN))
            .order_by(BenefitNotice.id))}
    results = []
    for answer in _answers(facts, today):
        item = answer.to_json()
        item["notice_id"] = open_notices.get(answer.policy)
        results.append(item)
    return {"as_of": today.isoformat(), "results": results}


@bp.get("/me/notices")
@require_roles("citizen")
@bp.input(NoticeQuery, location="query", arg_name="query")
@bp.output(page_schema(NoticeOut))
@bp.doc(summary="我的政策提醒", description="系统发现您可能符合条件的政策，最新的在前。")
def my_notices(query: dict[str, Any]) -> dict[str, Any]:
    me = current_principal()
    names = titles(catalogue(services().settings.policies_dir))
    if me.resident_id is None:
        return {"items": [], "page": query["page"], "per_page": query["per_page"], "total": 0}
    statuses = [query["status"]] if query.get("status") else None
    with services().db.session() as s:
        return paginate(s, lifecycle.for_resident(me.resident_id, statuses), query,
                        lambda n: _notice_json(n, names))


def _my_notice(s: Session, notice_id: int) -> BenefitNotice:
    me = current_principal()
    notice = s.get(BenefitNotice, notice_id, with_for_update=True)
    if notice is None or me.resident_id is None or notice.resident_id != me.resident_id:
        raise ApiError(404, "not_found", "找不到这条提醒")
    return notice


def _answer(notice_id: int, confirm: bool) -> dict[str, Any]:
    me = current_principal()
    names = titles(catalogue(services().settings.policies_dir))
    with services().db.session() as s:
        notice = _my_notice(s, notice_id)
        try:
            if confirm:
                lifecycle.confirm(s, notice, "miniapp", me.actor)
            else:
                lifecycle.decline(s, notice, "miniapp", me.actor)
        except lifecycle.NoticeError as exc:
            raise ApiError(409, exc.code, _CONFLICTS.get(exc.code, "操作冲突，请刷新后重试")) \
                from None
        return _notice_json(notice, names)


@bp.post("/me/notices/<int:notice_id>/confirm")
@require_roles("citizen")
@bp.output(NoticeOut)
@bp.doc(summary="一键确认领取",
        description="免申即享：确认即可，不用再填表。重复确认不会重复办理。",
        responses={404: "没有这条提醒", 409: "提醒已过期或已选择不领取"})
def confirm_notice(notice_id: int) -> dict[str, Any]:
    return _answer(notice_id, confirm=True)


@bp.post("/me/notices/<int:notice_id>/decline")
@require_roles("citizen")
@bp.output(NoticeOut)
@bp.doc(summary="不领取", description="告诉我们您不需要这项待遇。",
        responses={404: "没有这条提醒", 409: "已确认领取或已过期"})
def decline_notice(notice_id: int) -> dict[str, Any]:
    return _answer(notice_id, confirm=False)


# ---- answering an unknown fact in place (the same questions as the chat) --------------------


class ChoiceOut(Schema):
    value = String(required=True)
    label = String(required=True)


class QuestionQuery(Schema):
    skip = String(load_default="", validate=Length(max=500), metadata={
        "description": "已选“不清楚”的事项，逗号分隔"})


class QuestionOut(Schema):
    fact = String(allow_none=True, metadata={"description": "要问的事项；null：没有要问的"})
    text = String(allow_none=True)
    choices = List(Nested(ChoiceOut), required=True)


class AnswerIn(Schema):
    fact = String(required=True, validate=OneOf(FACT_NAMES))
    answer = String(required=True, validate=Length(min=1, max=50), metadata={
        "description": "选项的编号（从 1 起，与对话里回复数字相同），或填写的内容"
                       "（数字、日期 1960-05-01）；“不清楚”表示跳过"})


class AnswerOut(Schema):
    fact = String(required=True)
    saved = Boolean(required=True, metadata={"description": "false：回答了“不清楚”"})


@bp.get("/me/benefits/question")
@require_roles("citizen")
@bp.input(QuestionQuery, location="query", arg_name="query")
@bp.output(QuestionOut)
@bp.doc(summary="下一个要问的问题",
        description="还不能判断的政策最需要的一项信息，与对话里问的相同。",
        responses={409: "需要先完成实名认证"})
def next_question(query: dict[str, Any]) -> dict[str, Any]:
    me = current_principal()
    if me.resident_id is None:
        raise ApiError(409, "real_name_required", "请先完成实名认证")
    with services().db.session() as s:
        resident = s.get(Resident, me.resident_id)
        if resident is None:
            raise ApiError(409, "real_name_required", "请先完成实名认证")
        facts = resident_facts(resident)
    skipped = {f for f in query["skip"].split(",") if f}
    fact = questions.next_fact(_answers(facts, date.today()), skipped)
    if fact is None:
        return {"fact": None, "text": None, "choices": []}
    q = questions.question(fact)
    return {"fact": fact, "text": q.text,
            "choices": [{"value": v, "label": label} for v, label in q.choices]}


@bp.post("/me/benefits/answers")
@require_roles("citizen")
@bp.input(AnswerIn, arg_name="body")
@bp.output(AnswerOut)
@bp.doc(summary="回答一个问题", description="保存到您的资料里（与对话里回答相同），并重新查找"
        "您能享受的政策。", responses={400: "回答看不懂（fields.answer 说明）",
                                   409: "需要先完成实名认证"})
def answer_question(body: dict[str, Any]) -> dict[str, Any]:
    me = current_principal()
    if me.resident_id is None:
        raise ApiError(409, "real_name_required", "请先完成实名认证")
    reading = questions.read(questions.question(body["fact"]), body["answer"])
    if reading.kind == "unclear":
        raise _bad("answer", reading.hint)
    if reading.kind != "value":
        return {"fact": body["fact"], "saved": False}
    with services().db.session() as s:
        resident = s.get(Resident, me.resident_id)
        if resident is None:
            raise ApiError(409, "real_name_required", "请先完成实名认证")
        changed = apply_facts(resident, {body["fact"]: reading.value})
        if changed:
            audit.record(s, me.actor, "resident.facts_update", f"resident:{resident.id}",
                         audit.OK, client_ip(), {"facts": [body["fact"]], "channel": "web"})
        version = resident.facts_version
    if changed:
        try:
            enqueue_resident_match(services().redis, me.resident_id, version)
        except redis.RedisError:
            log.warning("matching not queued for resident %s; the nightly run will",
                        me.resident_id)
    return {"fact": body["fact"], "saved": True}
