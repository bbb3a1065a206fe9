"""Sign-in: citizens through WeChat (jscode2session), staff with password + TOTP; refresh, logout.

WeChat's ``session_key`` stays on the server: encrypted in Redis for as long as WeChat keeps it
valid, never in a response or a log.
"""

from __future__ import annotations

import logging

import requests
from apiflask import APIBlueprint
from wechatpy.exceptions import WeChatException

from huimin.identity import accounts
from huimin.identity.accounts import LoginOutcome
from huimin.identity.staff_lockout import PairLockout
from huimin.identity.tokens import CITIZEN, TokenError
from huimin.privacy import audit
from huimin.wechat.api import WeChatError
from miniapp_api.auth import ALL_SIGNED_IN, PUBLIC, audit_now, current_principal, require_roles
from miniapp_api.context import api_services, client_ip, miniapp_client
from miniapp_api.errors import ApiError
from miniapp_api.limits import check_identity, rate_limit
from miniapp_api.schemas import CodeIn, RefreshIn, StaffLoginIn, TokenOut
from webapp.extensions import services

log = logging.getLogger(__name__)

bp = APIBlueprint("api_sign_in", __name__, tag="登录")

SESSION_KEY_TTL = 3 * 86400
SESSION_KEY_FIELD = "wechat_session_key"

# WeChat's jscode2session errors -> (HTTP status, our code, message for citizens).
LOGIN_ERRORS: dict[int, tuple[int, str, str]] = {
    40029: (400, "wechat_code_invalid", "登录凭证无效或已过期，请重新进入小程序"),
    40163: (400, "wechat_code_used", "登录凭证已使用，请重新进入小程序"),
    45011: (429, "wechat_rate_limited", "登录太频繁，请稍后再试"),
    40226: (403, "wechat_user_blocked", "您的微信账号暂时无法登录，请联系微信客服"),
}
STAFF_LOGIN_ERRORS: dict[LoginOutcome, tuple[int, str, str]] = {
    LoginOutcome.INVALID: (401, "invalid_credentials", "用户名或密码错误"),
    LoginOutcome.LOCKED: (423, "account_locked", "登录失败次数过多，请15分钟后再试"),
    LoginOutcome.TOTP_REQUIRED: (401, "totp_required", "请输入动态验证码"),
    LoginOutcome.TOTP_INVALID: (401, "totp_invalid", "动态验证码不正确"),
    LoginOutcome.TOTP_REPLAYED: (401, "totp_replayed", "该动态验证码已用过，请等待下一个"),
    LoginOutcome.INACTIVE: (403, "account_inactive", "账号已停用"),
}


def session_key_redis_key(account_id: int) -> str:
    return f"huimin:auth:wx-session-key:{account_id}"


@bp.post("/auth/login")
@rate_limit("api_rate_limit_login", per=("ip",))
@require_roles(PUBLIC)
@bp.input(CodeIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="市民微信登录", description="用 wx.login 的 code 换取本系统的访问令牌和刷新令牌。",
        responses={400: "code 无效或已使用", 403: "微信账号受限", 429: "太频繁",
                   502: "微信服务不可用"})
def citizen_login(body: dict) -> dict:
    try:
        session = miniapp_client().jscode2session(body["code"])
    except WeChatError as exc:
        status, code, message = LOGIN_ERRORS.get(
            exc.errcode or 0, (502, "wechat_error", "微信登录暂时不可用，请稍后再试")
        )
        log.info("jscode2session refused: errcode %s", exc.errcode)
        headers = {"Retry-After": "60"} if status == 429 else None
        raise ApiError(status, code, message, headers=headers) from None
    except (requests.RequestException, WeChatException):
        log.warning("jscode2session failed: WeChat unreachable")
        raise ApiError(502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试") from None
    openid, session_key = session.get("openid"), session.get("session_key")
    if not openid or not session_key:
        raise ApiError(502, "wechat_error", "微信登录暂时不可用，请稍后再试")
    check_identity("api_rate_limit_login", f"openid:{openid}")  # per user, not only per IP
    svc, api = services(), api_services()
    with svc.db.session() as s:
        account = accounts.citizen_by_openid(s, openid, session.get("unionid"))
        audit.record(s, f"citizen:{account.id}", "citizen.login", f"citizen:{account.id}",
                     audit.OK, client_ip())
        account_id = account.id
    svc.redis.set(
        session_key_redis_key(account_id),
        api.cipher.encrypt(session_key, field=SESSION_KEY_FIELD),
        ex=SESSION_KEY_TTL,
    )
    return api.tokens.issue(CITIZEN, account_id).as_response()


@bp.post("/auth/refresh")
@rate_limit("api_rate_limit_login", per=("ip",))
@require_roles(PUBLIC)
@bp.input(RefreshIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="刷新令牌", description="用刷新令牌换一对新令牌；旧的刷新令牌随即作废，"
        "再次使用旧令牌会使这次登录全部失效。", responses={401: "刷新令牌无效"})
def refresh(body: dict) -> dict:
    api = api_services()
    try:
        claims, pair = api.tokens.refresh(body["refresh_token"])
    except TokenError as exc:
        if exc.reason == "reused":
            log.warning("refresh token reused: session revoked")
        raise ApiError(401, "refresh_invalid", "登录已失效，请重新登录") from None
    with services().db.session() as s:
        if claims.kind == CITIZEN:
            account = s.get(accounts.CitizenAccount, claims.subject_id)
            active = account is not None and account.active
        else:
            staff = s.get(accounts.StaffAccount, claims.subject_id)
            active = staff is not None and staff.active
    if not active:
        api.tokens.revoke_session(claims.session_id)
        raise ApiError(401, "account_inactive", "账号不可用，请重新登录")
    return pair.as_response()


@bp.post("/auth/logout")
@require_roles(*ALL_SIGNED_IN)
@bp.output({}, status_code=204)
@bp.doc(summary="退出登录", description="当前登录（访问令牌和刷新令牌）立即失效。")
def logout() -> str:
    me = current_principal()
    if me.session_id:
        api_services().tokens.revoke_session(me.session_id)
    if me.is_staff:
        audit_now(me.actor, "staff.logout", me.actor, audit.OK)
    return ""


@bp.post("/staff/login")
@rate_limit("api_rate_limit_login", per=("ip", "username"))
@require_roles(PUBLIC)
@bp.input(StaffLoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="工作人员登录", description="用户名和密码；ops、admin 还需动态验证码（TOTP）。"
        "连续失败5次锁定15分钟。",
        responses={401: "用户名、密码或验证码错误", 403: "账号停用", 423: "账号锁定"})
def staff_login(body: dict) -> dict:
    api = api_services()
    with services().db.session() as s:
        username = body["username"].strip()
        result = accounts.authenticate_staff(
            s, username, body["password"], body.get("totp"), api.cipher,
            lock=PairLockout(services().redis).pair(username, client_ip()),
        )
        actor = f"staff:{result.account.id}" if result.account else "anonymous"
        audit.record(s, actor, "staff.login", actor, audit.OK if result.outcome is LoginOutcome.OK
                     else audit.DENIED, client_ip(), {"outcome": result.outcome.value})
        account_id = result.account.id if result.account else None
        roles = result.account.role_set if result.account else frozenset()
    # The session above has committed failure counters and the audit entry.
    if result.outcome is not LoginOutcome.OK or account_id is None:
        status, code, message = STAFF_LOGIN_ERRORS[result.outcome]
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else None
        fields = {"totp": "必填"} if result.outcome is LoginOutcome.TOTP_REQUIRED else None
        raise ApiError(status, code, message, fields=fields, headers=headers)
    return api.tokens.issue_staff(account_id, roles).as_response()
