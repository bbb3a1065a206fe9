"""The signed-in citizen's own account: profile, phone, real name, consents, export, deletion.

Every path is ``/me...``: a citizen can only ever address their own data.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import requests
from apiflask import APIBlueprint
from wechatpy.exceptions import WeChatException

from huimin.identity import accounts, real_name
from huimin.identity import models as identity_models
from huimin.identity.models import CitizenAccount
from huimin.platform.db import utcnow
from huimin.privacy import audit, consent
from huimin.privacy.masking import mask_id_number, mask_name, mask_phone
from huimin.privacy.pii import ID_NUMBER, NAME, PHONE, PiiCipher
from huimin.residents import FACT_NAMES
from huimin.residents.models import Resident
from huimin.wechat.api import WeChatError
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import api_services, client_ip, miniapp_client
from miniapp_api.errors import ApiError
from miniapp_api.limits import rate_limit
from miniapp_api.pagination import page_schema, paginate_list
from miniapp_api.schemas import (
    CodeIn,
    ConsentIn,
    ConsentListQuery,
    ConsentOut,
    ExportOut,
    ProfileOut,
    WithdrawOut,
)
from miniapp_api.sign_in import session_key_redis_key
from webapp.extensions import services

log = logging.getLogger(__name__)

bp = APIBlueprint("api_me", __name__, tag="我的")


def _account(session: Any) -> CitizenAccount:
    account = session.get(CitizenAccount, current_principal().id)
    if account is None or not account.active:
        raise ApiError(401, "account_inactive", "账号不可用，请重新登录")
    return account


def _decrypt(cipher: PiiCipher, value: bytes | str | None, field: str) -> str | None:
    if value is None:
        return None
    return cipher.decrypt(value.decode() if isinstance(value, bytes) else value, field=field)


def _profile(session: Any, account: CitizenAccount, cipher: PiiCipher) -> dict[str, Any]:
    status, notice = real_name.status_of(session, account)
    resident = account.resident if account.bound_resident_id is not None else None
    phone = _decrypt(cipher, account.phone_enc, PHONE)
    name = id_number = None
    scopes: list[str] = []
    if resident is not None:
        name = _decrypt(cipher, resident.name_enc, NAME)
        id_number = _decrypt(cipher, resident.id_number_enc, ID_NUMBER)
        scopes = sorted({c.scope for c in consent.active_consents(session, resident.id)})
    return {
        "account_id": account.id,
        "real_name_verified": resident is not None and id_number is not None,
        "name": mask_name(name) if name else None,
        "id_number": mask_id_number(id_number) if id_number else None,
        "phone": mask_phone(phone) if phone else None,
        "grid_id": resident.grid_id if resident is not None else None,
        "consents": scopes,
        "created_at": account.created_at,
        "real_name_status": status,
        "real_name_notice": notice,
    }


def _consent_row(c: consent.Consent, now: datetime) -> dict[str, Any]:
    return {
        "id": c.id, "scope": c.scope, "label": consent.LABELS.get(c.scope, c.scope),
        "channel": c.channel, "granted_at": c.granted_at, "expires_at": c.expires_at,
        "withdrawn_at": c.withdrawn_at, "granted_to": c.granted_to, "active": c.active_at(now),
    }


@bp.get("/me")
@require_roles("citizen")
@bp.output(ProfileOut)
@bp.doc(summary="我的资料", description="姓名、身份证号、手机号均已打码。")
def profile() -> dict:
    with services().db.session() as s:
        return _profile(s, _account(s), api_services().cipher)


@bp.post("/me/phone")
@require_roles("citizen")
@bp.input(CodeIn, arg_name="body")
@bp.output(ProfileOut)
@bp.doc(summary="绑定手机号", description="用手机号快速验证按钮（getPhoneNumber）返回的 code。",
        responses={400: "code 无效或已过期", 502: "微信服务不可用"})
def bind_phone(body: dict) -> dict:
    try:
        info = miniapp_client().phone_number(body["code"])
    except WeChatError as exc:
        if exc.errcode in (40029, 41008):
            raise ApiError(400, "phone_code_invalid", "手机号授权已失效，请重新授权",
                           fields={"code": "已失效或已使用"}) from None
        log.info("getuserphonenumber refused: errcode %s", exc.errcode)
        raise ApiError(502, "wechat_error", "微信服务暂时不可用，请稍后再试") from None
    except (requests.RequestException, WeChatException):
        raise ApiError(502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试") from None
    phone = info.get("phoneNumber") or info.get("purePhoneNumber")
    if not phone:
        raise ApiError(502, "wechat_error", "微信服务暂时不可用，请稍后再试")
    cipher = api_services().cipher
    with services().db.session() as s:
        account = _account(s)
        accounts.bind_phone(s, account, phone, cipher)
        audit.record(s, current_principal().actor, "citizen.phone.bind",
                     f"citizen:{account.id}", audit.OK, client_ip())
        return _profile(s, account, cipher)


@bp.get("/me/consents")
@require_roles("citizen")
@bp.input(ConsentListQuery, location="query", arg_name="query")
@bp.output(page_schema(ConsentOut))
@bp.doc(summary="我的授权", description="默认只列出有效的授权。")
def list_consents(query: dict) -> dict:
    now = utcnow()
    with services().db.session() as s:
        account = _account(s)
        if account.bound_resident_id is None:
            return paginate_list([], query)
        rows = (consent.history(s, account.bound_resident_id) if query["include_history"]
                else consent.active_consents(s, account.bound_resident_id, now))
        return paginate_list([_consent_row(c, now) for c in rows], query)


@bp.post("/me/consents")
@require_roles("citizen")
@bp.input(ConsentIn, arg_name="body")
@bp.output(ConsentOut, status_code=201)
@bp.doc(summary="授权", description="实名认证后可授权：接收政策提醒、向用人单位展示、"
        "网格员协助等。", responses={409: "请先实名认证"})
def grant_consent(body: dict) -> dict:
    me = current_principal()
    with services().db.session() as s:
        account = _account(s)
        resident = account.resident if account.bound_resident_id is not None else None
        if resident is None:
            raise ApiError(409, "real_name_required", "请先完成实名认证")
        grantee = body.get("granted_to")
        if grantee is not None:
            staff = s.get(accounts.StaffAccount, grantee)
            if (staff is None or not staff.active
                    or identity_models.GRID_WORKER not in staff.role_set
                    or resident.grid_id not in staff.grid_ids):
                raise ApiError(422, "invalid_input", "填写的内容有误，请检查",
                               fields={"granted_to": "不是您所在网格的网格员"})
        expires = body.get("expires_in_days")
        record = consent.grant(
            s, resident.id, body["scope"], "miniapp", granted_to=grantee,
            expires_at=utcnow() + timedelta(days=expires) if expires else None,
        )
        audit.record(s, me.actor, "consent.grant", f"resident:{resident.id}", audit.OK,
                     client_ip(), {"scope": body["scope"], "granted_to": grantee})
        return _consent_row(record, utcnow())


@bp.delete("/me/consents/<scope>")
@require_roles("citizen")
@bp.output(WithdrawOut)
@bp.doc(summary="撤回授权", description="立即生效。撤回 real_name 会解除实名认证并删除您提供的"
        "姓名和身份证号。")
def withdraw_consent(scope: str) -> dict:
    if scope not in consent.SCOPES:
        raise ApiError(404, "unknown_scope", "没有这项授权")
    me = current_principal()
    with services().db.session() as s:
        account = _account(s)
        if account.bound_resident_id is None:
            return {"scope": scope, "withdrawn": 0}
        resident_id = account.bound_resident_id
        if scope == consent.REAL_NAME:
            count = len([c for c in consent.active_consents(s, resident_id)
                         if c.scope == consent.REAL_NAME])
            accounts.unbind_real_name(s, account)
        else:
            count = len(consent.withdraw(s, resident_id, scope))
        audit.record(s, me.actor, "consent.withdraw", f"resident:{resident_id}", audit.OK,
                     client_ip(), {"scope": scope, "count": count})
    return {"scope": scope, "withdrawn": count}


def _fact_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _who(actor: str, me: str) -> str:
    if actor == me:
        return "本人"
    return "工作人员" if actor.startswith("staff:") else "系统"


@bp.get("/me/export")
@rate_limit("api_rate_limit_expensive", per=("ip", "user"))
@require_roles("citizen")
@bp.output(ExportOut)
@bp.doc(summary="下载我的数据", description="您在本系统的全部个人信息（不打码）、授权记录和"
        "个人信息被访问的记录。")
def export() -> dict:
    me = current_principal()
    cipher = api_services().cipher
    now = utcnow()
    with services().db.session() as s:
        account = _account(s)
        resident: Resident | None = (account.resident if account.bound_resident_id is not None
                                     else None)
        targets = [f"citizen:{account.id}"]
        resident_doc = None
        consents: list[dict] = []
        if resident is not None:
            targets.append(f"resident:{resident.id}")
            resident_doc = {
                "resident_id": resident.id,
                "name": _decrypt(cipher, resident.name_enc, NAME),
                "id_number": _decrypt(cipher, resident.id_number_enc, ID_NUMBER),
                "phone": _decrypt(cipher, resident.phone_enc, PHONE),
                "grid_id": resident.grid_id,
                "facts": {n: _fact_value(getattr(resident, n)) for n in FACT_NAMES
                          if getattr(resident, n) is not None},
            }
            consents = [_consent_row(c, now) for c in consent.history(s, resident.id)]
        access = sorted(
            (e for t in targets for e in audit.entries_for_target(s, t)),
            key=lambda e: e.seq, reverse=True,
        )
        document = {
            "exported_at": now,
            "account": {
                "account_id": account.id, "openid": account.openid, "unionid": account.unionid,
                "phone": _decrypt(cipher, account.phone_enc, PHONE),
                "created_at": account.created_at, "last_login_at": account.last_login_at,
            },
            "resident": resident_doc,
            "consents": consents,
            "access_log": [
                {"at": e.at, "who": _who(e.actor, me.actor), "action": e.action,
                 "result": e.result} for e in access
            ],
        }
        audit.record(s, me.actor, "citizen.export", targets[-1], audit.OK, client_ip())
    return document


@bp.delete("/me")
@require_roles("citizen")
@bp.output({}, status_code=204)
@bp.doc(summary="注销账号", description="撤回全部授权，删除您提供的个人信息并退出所有登录；"
        "法律要求保留的审计记录不含您的个人信息。")
def delete_account() -> str:
    me = current_principal()
    with services().db.session() as s:
        account = _account(s)
        resident_id = account.bound_resident_id
        accounts.erase_citizen(s, account)
        audit.record(s, me.actor, "citizen.delete",
                     f"resident:{resident_id}" if resident_id else me.actor, audit.OK, client_ip())
    api_services().tokens.revoke_subject("citizen", me.id)
    services().redis.delete(session_key_redis_key(me.id))
    return ""
