"""Real-name binding with proof of presence, and appeals (rules: huimin/identity/real_name.py).

* ``POST /me/real-name/face`` (citizen): start WeChat's face verification for a name and ID
  number; the mini-program then calls ``wx.requestFacialVerify({verifyId})``.
* ``POST /me/real-name`` (citizen): bind, with that ``verify_id`` or a WeChat-confirmed phone
  that matches the bureau's record. Every refusal that depends on a record answers the same.
* ``POST /me/real-name/appeal`` (citizen): the real resident reclaims a record another account
  holds (same proof); that binding is suspended until staff decide.
* ``GET /staff/real-name-appeals``, ``POST /staff/real-name-appeals/<id>/resolve`` (ops, admin).

Every attempt is audited; both accounts are told about an appeal and its outcome.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf
from sqlalchemy import select
from wechatpy.exceptions import WeChatException

from huimin.identity import accounts, real_name
from huimin.identity.accounts import RealNameError
from huimin.identity.real_name import AttemptLimit, FaceChecks, Notice, RealNameAppeal
from huimin.privacy import audit
from huimin.wechat.api import WeChatError
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import api_services, client_ip, miniapp_client
from miniapp_api.errors import ApiError
from miniapp_api.limits import rate_limit
from miniapp_api.me import _account, _profile
from miniapp_api.pagination import PageQuery, page_schema, paginate
from miniapp_api.schemas import ProfileOut, RealNameIn
from webapp.extensions import services

log = logging.getLogger(__name__)

bp = APIBlueprint("api_real_name", __name__, tag="实名认证")

ACTION_BIND = "citizen.real_name.bind"
ACTION_APPEAL = "citizen.real_name.appeal"


class FaceIn(Schema):
    name = String(required=True, validate=Length(min=1, max=50))
    id_number = String(required=True, validate=Length(min=1, max=32))


class FaceOut(Schema):
    verify_id = String(required=True, metadata={"description": "传给 wx.requestFacialVerify"})
    expires_in = Integer(required=True)


class AppealIn(Schema):
    name = String(required=True, validate=Length(min=1, max=50))
    id_number = String(required=True, validate=Length(min=1, max=32))
    verify_id = String(validate=Length(min=1, max=256))


class AppealOut(Schema):
    id = Integer(required=True)
    status = String(required=True)
    resident_id = Integer()
    proof = String()
    created_at = String()
    resolved_by = String(allow_none=True)


class ResolveIn(Schema):
    decision = String(required=True, validate=OneOf(real_name.DECISIONS))
    note = String(validate=Length(max=500))


class AppealQuery(PageQuery):
    status = String(load_default=real_name.OPEN,
                    validate=OneOf((real_name.OPEN, *real_name.DECISIONS)))


def _refuse(error: RealNameError, reason: str, action: str) -> ApiError:
    """Audit the refusal in its own transaction, then the citizen-facing error."""
    with services().db.session() as s:
        audit.record(s, current_principal().actor, action, current_principal().actor,
                     audit.DENIED, client_ip(), {"reason": reason})
    status = 409 if error.code in ("already_bound", "appeal_pending") else 422
    return ApiError(status, error.code, error.citizen_message,
                    fields={error.field: error.citizen_message})


def _checked_input(body: dict, action: str) -> accounts.RealNameInput:
    try:
        return accounts.check_real_name_input(body["name"], body["id_number"])
    except RealNameError as exc:
        raise _refuse(exc, exc.code, action) from None


def _limited(given: accounts.RealNameInput, action: str) -> None:
    """Attempts per account and per ID number; over the limit the answer is the same as any
    other refusal (the limit must not tell whether someone else tried this ID number)."""
    svc = services()
    limit = AttemptLimit(svc.redis, svc.settings.real_name_attempts_per_day)
    id_hash = real_name.id_hash_for_limit(api_services().cipher, given.id_number)
    if not limit.allow(current_principal().id, id_hash):
        raise _refuse(accounts.not_verified("rate_limited"), "rate_limited", action)


def _face_passed(verify_id: str | None, given: accounts.RealNameInput) -> tuple[bool, str]:
    if not verify_id:
        return False, "no_face_verification"
    me = current_principal()
    checks = FaceChecks(services().redis, miniapp_client())
    try:
        passed = checks.passed(verify_id, me.id, me.openid or "", given)
    except WeChatError as exc:
        log.info("queryverifyinfo refused: errcode %s", exc.errcode)
        return False, f"wechat_{exc.errcode}"
    except (requests.RequestException, WeChatException):
        raise ApiError(502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试") from None
    return passed, "face_ok" if passed else "face_not_matched"


def _reason(failure: RealNameError, face: str) -> str:
    """For the audit: why the domain refused, and how the face check went (if it did not
    pass, that is why there was no proof)."""
    if failure.reason == "no_proof_of_presence" and face != "no_face_verification":
        return face
    return failure.reason


def notify(notices: list[Notice]) -> None:
    """Tell each account (mini-program subscribe message; the profile shows it as well).
    Best effort: a citizen who did not accept the template still sees it in the profile."""
    settings = services().settings
    for notice in notices:
        if not notice.openid:
            continue
        try:
            miniapp_client().send_subscribe(notice.openid, settings.real_name_template_id,
                                            {"thing1": {"value": notice.text[:20]}},
                                            page="pages/me/index")
        except (WeChatError, requests.RequestException, WeChatException) as exc:
            log.info("real-name notice not pushed to account %s: %s", notice.account_id,
                     getattr(exc, "errcode", type(exc).__name__))


@bp.post("/me/real-name/face")
@rate_limit("api_rate_limit_expensive", per=("ip", "user"))
@require_roles("citizen")
@bp.input(FaceIn, arg_name="body")
@bp.output(FaceOut)
@bp.doc(summary="开始刷脸验证", description="返回 verify_id，小程序用它调用 "
        "wx.requestFacialVerify；完成后把 verify_id 随实名认证一起提交。",
        responses={502: "微信服务不可用"})
def start_face(body: dict) -> dict[str, Any]:
    given = _checked_input(body, ACTION_BIND)
    me = current_principal()
    try:
        started = FaceChecks(services().redis, miniapp_client()).start(
            me.id, me.openid or "", given)
    except WeChatError as exc:
        log.info("getverifyid refused: errcode %s", exc.errcode)
        raise ApiError(502, "wechat_error", "刷脸验证暂时不可用，请稍后再试") from None
    except (requests.RequestException, WeChatException):
        raise ApiError(502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试") from None
    return {"verify_id": started.verify_id, "expires_in": started.expires_in}


@bp.post("/me/real-name")
@require_roles("citizen")
@bp.input(RealNameIn, arg_name="body")
@bp.output(ProfileOut)
@bp.doc(summary="实名认证", description="姓名和18位身份证号，须单独同意（consent: true），"
        "并证明是本人：刷脸验证的 verify_id，或已绑定与社保记录一致的微信手机号。"
        "身份证号加密保存。核验不通过时只说明未通过，不说明原因。",
        responses={409: "您已绑定其他实名信息", 422: "实名核验未通过"})
def bind(body: dict) -> dict:
    given = _checked_input(body, ACTION_BIND)
    _limited(given, ACTION_BIND)
    face_ok, how = _face_passed(body.get("verify_id"), given)
    cipher = api_services().cipher
    me = current_principal()
    failure: RealNameError | None = None
    with services().db.session() as s:
        account = _account(s)
        try:
            resident = accounts.bind_real_name(s, account, given.name, given.id_number, cipher,
                                               face_verified=face_ok)
        except RealNameError as exc:
            failure = exc
        else:
            audit.record(s, me.actor, ACTION_BIND, f"resident:{resident.id}", audit.OK,
                         client_ip(), {"proof": "face" if face_ok else "phone"})
            return _profile(s, account, cipher)
    assert failure is not None
    raise _refuse(failure, _reason(failure, how), ACTION_BIND)


@bp.post("/me/real-name/appeal")
@require_roles("citizen")
@bp.input(AppealIn, arg_name="body")
@bp.output(AppealOut, status_code=202)
@bp.doc(summary="实名申诉", description="您的身份证号被别人的微信绑定了：刷脸验证（或已绑定与"
        "社保记录一致的手机号）后提交，对方的绑定立即暂停，工作人员核实后通知双方。",
        responses={409: "已有申诉在处理", 422: "实名核验未通过"})
def appeal(body: dict) -> dict[str, Any]:
    given = _checked_input(body, ACTION_APPEAL)
    _limited(given, ACTION_APPEAL)
    face_ok, how = _face_passed(body.get("verify_id"), given)
    me = current_principal()
    failure: RealNameError | None = None
    with services().db.session() as s:
        try:
            filed, notices = real_name.file_appeal(s, _account(s), given, api_services().cipher,
                                                   face_verified=face_ok)
        except RealNameError as exc:
            failure = exc
        else:
            audit.record(s, me.actor, ACTION_APPEAL, f"resident:{filed.resident_id}", audit.OK,
                         client_ip(), {"appeal": filed.id, "holder": f"citizen:{filed.holder_id}"})
            result = {"id": filed.id, "status": filed.status}
    if failure is not None:
        raise _refuse(failure, _reason(failure, how), ACTION_APPEAL)
    notify(notices)
    return result


def _appeal_row(a: RealNameAppeal) -> dict[str, Any]:
    return {"id": a.id, "status": a.status, "resident_id": a.resident_id, "proof": a.proof,
            "created_at": a.created_at.isoformat(), "resolved_by": a.resolved_by}


@bp.get("/staff/real-name-appeals")
@require_roles("ops", "admin")
@bp.input(AppealQuery, location="query", arg_name="query")
@bp.output(page_schema(AppealOut))
@bp.doc(summary="实名申诉列表", description="默认只列出待处理的申诉，最早的在前。")
def list_appeals(query: dict[str, Any]) -> dict[str, Any]:
    rows = (select(RealNameAppeal).where(RealNameAppeal.status == query["status"])
            .order_by(RealNameAppeal.created_at, RealNameAppeal.id))
    with services().db.session() as s:
        return paginate(s, rows, query, _appeal_row)


@bp.post("/staff/real-name-appeals/<int:appeal_id>/resolve")
@require_roles("ops", "admin")
@bp.input(ResolveIn, arg_name="body")
@bp.output(AppealOut)
@bp.doc(summary="处理实名申诉", description="upheld：申诉成立，解除对方绑定，申诉人可重新实名；"
        "rejected：恢复对方绑定。双方都会收到通知。", responses={404: "没有这个申诉",
                                                       409: "已处理过"})
def resolve(appeal_id: int, body: dict) -> dict[str, Any]:
    me = current_principal()
    with services().db.session() as s:
        try:
            done, notices = real_name.resolve_appeal(s, appeal_id, body["decision"], me.actor,
                                                     body.get("note"))
        except real_name.AppealNotFound:
            raise ApiError(404, "not_found", "找不到要访问的内容") from None
        except real_name.AppealError as exc:
            raise ApiError(409, "conflict", str(exc), fields={exc.field: str(exc)}) from None
        audit.record(s, me.actor, "staff.real_name.appeal_resolve",
                     f"resident:{done.resident_id}", audit.OK, client_ip(),
                     {"appeal": done.id, "decision": done.status})
        row = _appeal_row(done)
    notify(notices)
    return row
