"""Employment code (就业码) API: issue to the holder, verify by anyone, revoke, scan log.

* `POST /me/employment-code` (citizen): a fresh code with the status derived from the
  resident's facts now, plus short-lived QR image URLs for the mini-program's `<image>`
  (which cannot send a token: the URL itself carries an HMAC capability for that code).
* `POST /employment-code/verify` (public): `{valid, reason, status, colour}`; a signed-in
  `verifier` also gets the holder's masked name and job-seeking summary when the holder
  consented to `share_with_employers`. Every call is in the scan log; staff calls are
  audited too.
* `POST /me/employment-code/revoke`, `GET /me/employment-code/scans` (citizen).
* `GET /employment-code/revoked?since=` (public): the revocation feed for offline verifiers.

Registering this blueprint also publishes `GET /.well-known/jwks.json` (miniapp_api.well_known)
and builds the process's key provider; in production it refuses to start without a key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
from datetime import UTC, timedelta
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import Length
from flask import Response, current_app, url_for
from flask.blueprints import BlueprintSetupState
from marshmallow.fields import AwareDateTime
from redis import RedisError
from sqlalchemy import select

from huimin.employment_code import (
    InsufficientFactsError,
    NoSigningKeyError,
    Reason,
    Verification,
    definition,
    qr_png,
    qr_svg,
    scan_log,
    store,
)
from huimin.employment_code.cache import VerdictCache
from huimin.employment_code.disclosure import (
    clean_purpose,
    job_seeking_summary,
    masked_name,
    status_visible,
)
from huimin.employment_code.public import verify_public
from huimin.employment_code.runtime import CodesProvider
from huimin.identity.tokens import CITIZEN
from huimin.platform.db import utcnow
from huimin.platform.keys import Purpose, purpose_key
from huimin.platform.ratelimit import RateLimited, WindowLimit
from huimin.privacy import audit, consent
from huimin.residents.models import Resident
from miniapp_api import well_known
from miniapp_api.auth import (
    PUBLIC,
    Principal,
    current_principal,
    optional_principal,
    require_roles,
)
from miniapp_api.context import api_services, client_ip
from miniapp_api.errors import ApiError
from miniapp_api.pagination import PageQuery, page_schema, paginate
from webapp.extensions import services

log = logging.getLogger(__name__)

bp = APIBlueprint("api_employment_code", __name__, tag="就业码")

VERIFY_LIMIT = "huimin_api_verify_limit"
"""app.extensions key of the verify endpoint's per-address limit (a `WindowLimit`,
EMPLOYMENT_CODE_VERIFY_RATE_LIMIT): generous for a job-fair booth behind one NAT, a brake on
log flooding."""
VERDICTS = "huimin_api_verify_verdicts"
"""app.extensions key of the public scans' `VerdictCache` (EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS)."""
FEED_OVERLAP_SECONDS = 60
"""`next_since` steps back this far, so revocations committed late are not missed."""
_QR_MEDIA = {"png": "image/png", "svg": "image/svg+xml"}
_VERIFIER_LABELS = {store.PUBLIC: "未登录用户扫码", CITIZEN: "市民扫码", "staff": "工作人员"}


# ---- schemas ---------------------------------------------------------------------------------


class ServiceOut(Schema):
    key = String(required=True)
    name = String(required=True)


class IssuedOut(Schema):
    code = String(required=True, metadata={"description": "compact JWS (EdDSA), the QR content"})
    colour = String(required=True, metadata={"example": "blue"})
    status = String(required=True, metadata={"example": "seeking"})
    label = String(required=True, metadata={"example": "蓝码 · 正在求职"})
    services = List(Nested(ServiceOut), required=True)
    issued_at = DateTime(required=True)
    expires_at = DateTime(required=True)
    qr_png_url = String(required=True, metadata={"description": "valid until expires_at"})
    qr_svg_url = String(required=True, metadata={"description": "valid until expires_at"})


class QrQuery(Schema):
    t = String(required=True, validate=Length(max=64), metadata={
        "description": "capability from the issue response"})


class VerifyIn(Schema):
    code = String(required=True, metadata={"description": "the scanned QR content"})
    purpose = String(validate=Length(max=200), metadata={
        "description": "核验员须说明用途才能看到敏感状态（如重点帮扶），会被记录"})


class JobSeekingOut(Schema):
    status_label = String(required=True)
    employment_status = String(allow_none=True)
    registered_unemployed = Boolean(allow_none=True)
    certificate_level = Integer(allow_none=True)
    graduation_year = Integer(allow_none=True)
    text = String(required=True)


class HolderOut(Schema):
    masked_name = String(allow_none=True, metadata={"example": "张**"})
    job_seeking = Nested(JobSeekingOut, required=True)


class VerifyOut(Schema):
    valid = Boolean(required=True)
    reason = String(required=True, metadata={
        "enum": [r.value for r in Reason],
        "description": "ok | expired | revoked | bad_signature | unknown_key | malformed"})
    status = String(allow_none=True)
    colour = String(allow_none=True)
    label = String(allow_none=True)
    services = List(Nested(ServiceOut), allow_none=True)
    holder = Nested(HolderOut, allow_none=True, metadata={
        "description": "signed-in verifiers only, when the holder consented to share"})
    status_withheld = Boolean(required=True, metadata={
        "description": "a sensitive status is not shown: sign in as a verifier and give a "
                       "purpose"})


class RevokeOut(Schema):
    revoked = Integer(required=True, metadata={"description": "how many live codes ended"})


class ScanOut(Schema):
    scanned_at = DateTime(required=True)
    who = String(required=True, metadata={"description": "扫码方（用人单位账号名或类别）"})
    verifier_kind = String(required=True, metadata={"description": "public | citizen | "
                                                    "verifier | staff"})
    result = String(required=True, metadata={"description": "same values as verify reason"})
    disclosed = Boolean(required=True, metadata={
        "description": "the scanner saw your masked name and job-seeking summary"})


class RevokedQuery(Schema):
    since = AwareDateTime(default_timezone=UTC, metadata={
        "description": "ISO 8601; default: every revocation that still matters"})


class RevokedItem(Schema):
    jti = String(required=True)
    revoked_at = DateTime(required=True)
    expires_at = DateTime(required=True)


class RevokedOut(Schema):
    as_of = DateTime(required=True)
    next_since = DateTime(required=True, metadata={"description": "pass as `since` next time"})
    revoked = List(Nested(RevokedItem), required=True)


# ---- helpers ---------------------------------------------------------------------------------


def provider() -> CodesProvider:
    return well_known.codes_provider()


def _qr_token(jti: str) -> str:
    """Capability for one code's QR images (the mini-program's <image> sends no token)."""
    key = purpose_key(services().settings, Purpose.QR_LINK)
    digest = hmac.new(key, b"employment-code-qr\x00" + jti.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _services(status: Any) -> list[dict[str, str]]:
    return [{"key": s.key, "name": s.name} for s in definition(status).services]


def _verifier_kind(principal: Principal | None) -> str:
    if principal is None:
        return store.PUBLIC
    if not principal.is_staff:
        return CITIZEN
    return store.VERIFIER if store.VERIFIER in principal.roles else "staff"


# ---- citizen ---------------------------------------------------------------------------------


@bp.post("/me/employment-code")
@require_roles("citizen")
@bp.output(IssuedOut, status_code=201)
@bp.doc(summary="出示就业码", description="按您当前的就业信息生成新的就业码（默认10分钟有效），"
        "不同颜色的旧码随即作废。", responses={403: "尚未实名认证", 409: "就业信息不全",
                                        503: "服务暂不可用"})
def issue() -> dict[str, Any]:
    me = current_principal()
    if me.resident_id is None:
        raise ApiError(403, "real_name_required", "请先完成实名认证，再出示就业码")
    try:
        codes = provider().signer()
        with services().db.session() as session:
            issued = store.issue_code(session, codes, me.resident_id)
    except InsufficientFactsError:
        raise ApiError(409, "facts_incomplete",
                       "您的就业信息不全，暂时无法生成就业码，请先补充资料或拨打12333") from None
    except store.HolderNotFoundError:
        raise ApiError(409, "real_name_required", "请先完成实名认证，再出示就业码") from None
    except NoSigningKeyError:
        log.error("employment code not issued: no signing key")
        raise ApiError(503, "unavailable", "就业码服务暂时不可用，请稍后再试") from None
    token = _qr_token(issued.jti)
    urls = {
        fmt: url_for("api_employment_code.qr_image", jti=issued.jti, fmt=fmt, t=token,
                     _external=True)
        for fmt in _QR_MEDIA
    }
    return {
        "code": issued.code,
        "colour": issued.colour.value,
        "status": issued.status.value,
        "label": issued.label,
        "services": _services(issued.status),
        "issued_at": issued.issued_at,
        "expires_at": issued.expires_at,
        "qr_png_url": urls["png"],
        "qr_svg_url": urls["svg"],
    }


@bp.get("/employment-code/qr/<jti>.<fmt>")
@require_roles(PUBLIC)
@bp.input(QrQuery, location="query", arg_name="query")
@bp.doc(summary="就业码二维码图片", description="出示就业码时返回的链接（带 t 参数），"
        "在该码有效期内可用；fmt 为 png 或 svg。",
        responses={200: {"description": "the QR image", "content": {
                       "image/png": {"schema": {"type": "string", "format": "binary"}},
                       "image/svg+xml": {"schema": {"type": "string"}}}},
                   404: "链接无效", 410: "该码已过期或作废"})
def qr_image(jti: str, fmt: str, query: dict[str, str]) -> Response:
    token = query["t"]
    if fmt not in _QR_MEDIA or not hmac.compare_digest(token.encode(), _qr_token(jti).encode()):
        raise ApiError(404, "not_found", "找不到要访问的内容")
    now = utcnow()
    with services().db.session() as session:
        record = store.displayable_code(session, jti, now=now)
        if record is None:
            raise ApiError(410, "code_expired", "就业码已过期或作废，请重新出示")
        code, status = record.code, record.status
        remaining = int((store.as_utc(record.expires_at) - now).total_seconds())
    frame = definition(status).colour
    body = qr_png(code, frame=frame) if fmt == "png" else qr_svg(code, frame=frame)
    return Response(body, mimetype=_QR_MEDIA[fmt], headers={
        "Cache-Control": f"private, max-age={max(remaining, 0)}"})


@bp.post("/me/employment-code/revoke")
@require_roles("citizen")
@bp.output(RevokeOut)
@bp.doc(summary="作废我的就业码", description="立即作废您所有仍有效的就业码（例如截图被他人拿到）。"
        "之后可重新出示。")
def revoke() -> dict[str, int]:
    me = current_principal()
    if me.resident_id is None:
        return {"revoked": 0}
    with services().db.session() as session:
        count = store.revoke_codes(session, me.resident_id, store.HOLDER_REQUEST)
    return {"revoked": count}


@bp.get("/me/employment-code/scans")
@require_roles("citizen")
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(page_schema(ScanOut))
@bp.doc(summary="谁扫了我的就业码", description="最近的扫码记录，最新的在前。")
def scans(query: dict[str, Any]) -> dict[str, Any]:
    me = current_principal()
    if me.resident_id is None:
        return {"items": [], "page": query["page"], "per_page": query["per_page"], "total": 0}
    # The holder sees every scan at once; with Redis down, the worker writes them later.
    with contextlib.suppress(RedisError):
        scan_log.flush(services().db, services().redis)
    rows = (
        select(store.ScanRecord)
        .where(store.ScanRecord.resident_id == me.resident_id)
        .order_by(store.ScanRecord.scanned_at.desc(), store.ScanRecord.id.desc())
    )

    def render(scan: store.ScanRecord) -> dict[str, Any]:
        who = scan.verifier_name if scan.verifier_kind == store.VERIFIER else None
        return {
            "scanned_at": store.as_utc(scan.scanned_at),
            "who": who or _VERIFIER_LABELS.get(scan.verifier_kind, "工作人员"),
            "verifier_kind": scan.verifier_kind,
            "result": scan.reason,
            "disclosed": scan.disclosed,
        }

    with services().db.session() as session:
        return paginate(session, rows, query, render)


# ---- anyone ----------------------------------------------------------------------------------


@bp.post("/employment-code/verify")
@require_roles(PUBLIC)
@bp.input(VerifyIn, arg_name="body")
@bp.output(VerifyOut)
@bp.doc(summary="核验就业码", description="任何人可核验，只看到是否有效（有效、已作废、已过期）；"
        "已登录的用人单位核验员（verifier）还可看到就业状态，其中重点帮扶等敏感状态须填写用途"
        "（purpose，会被记录）；持码人授权“向用人单位展示就业信息”时，核验员还可看到打码姓名和"
        "求职概况。每次核验都会记录，持码人可查看。", responses={429: "太频繁"})
def verify(body: dict[str, Any]) -> dict[str, Any]:
    try:
        return _verify(body)
    except RateLimited as exc:
        raise ApiError(429, "rate_limited", "操作太频繁，请稍后再试",
                       headers={"Retry-After": str(exc.retry_after)}) from None


def _verify(body: dict[str, Any]) -> dict[str, Any]:
    """The per-address limit is counted with the scan's XADD in one Redis round trip; an
    address already over it is refused before any work. The public's scan (the bulk) is that
    round trip alone when the code's verdict is cached, else one SELECT more
    (`huimin.employment_code.public`); staff scans are written at once with their audit
    row."""
    limit: WindowLimit = current_app.extensions[VERIFY_LIMIT]
    address = f"ip:{client_ip()}"
    limit.check(address)
    principal = optional_principal()
    purpose = clean_purpose(body.get("purpose"))
    if principal is not None and principal.is_staff:
        return _verify_as_staff(body["code"], purpose, principal, limit, address)
    verifier = store.Verifier(kind=_verifier_kind(principal))
    result = verify_public(
        services().db, services().redis, current_app.extensions[VERDICTS], provider().get(),
        body["code"], verifier, limit=limit, identity=address)
    return _answer(result, verifier, purpose)[0]


def _answer(
    result: Verification, verifier: store.Verifier, purpose: str | None
) -> tuple[dict[str, Any], bool]:
    """The response without the holder part, and whether the status is shown."""
    shown = result.valid and status_visible(
        result.status, verifier=verifier.kind == store.VERIFIER, purpose=purpose)
    response: dict[str, Any] = {
        "valid": result.valid, "reason": result.reason.value, "status": None,
        "colour": None, "label": None, "services": None, "holder": None,
        "status_withheld": bool(result.valid and result.status is not None and not shown),
    }
    if shown and result.status is not None:
        response.update(result.public_dict())
        response["label"] = definition(result.status).label
        response["services"] = _services(result.status)
    return response, shown


def _verify_as_staff(
    code: str, purpose: str | None, principal: Principal, limit: WindowLimit, address: str
) -> dict[str, Any]:
    """A signed-in verifier (or other staff): the holder's summary when they consented, and
    the scan written at once with an audit row that names it."""
    try:
        limit.hit(services().redis, address)
    except RedisError:
        limit.hit_locally(address)
    kind = _verifier_kind(principal)
    verifier = store.Verifier(
        kind=kind, id=principal.actor, name=principal.username if kind == store.VERIFIER else None)
    with services().db.session() as session:
        outcome = store.verify_code(session, provider().get(), code, verifier, log=False)
        result = outcome.verification
        response, shown = _answer(result, verifier, purpose)
        record = outcome.record
        if (
            kind == store.VERIFIER
            and result.valid
            and record is not None
            and consent.has_consent(
                session, record.resident_id, consent.SHARE_WITH_EMPLOYERS, grantee=principal.id
            )
        ):
            resident = session.get(Resident, record.resident_id)
            if resident is not None and result.status is not None:
                response["holder"] = {
                    "masked_name": masked_name(resident, api_services().cipher),
                    "job_seeking": job_seeking_summary(resident, result.status).to_dict(),
                }
                outcome.scan.disclosed = True
        outcome.scan.save(session)
        audit.record(
            session, principal.actor, "employment_code.verify",
            f"resident:{record.resident_id}" if record is not None else "employment_code",
            audit.OK if result.valid else audit.FAILED, client_ip(),
            {"reason": result.reason.value, "detail": outcome.scan.detail,
             "disclosed": outcome.scan.disclosed, "scan_id": outcome.scan.id,
             "status_shown": shown, "purpose": purpose},
        )
    return response


@bp.get("/employment-code/revoked")
@require_roles(PUBLIC)
@bp.input(RevokedQuery, location="query", arg_name="query")
@bp.output(RevokedOut)
@bp.doc(summary="作废清单（离线核验用）", description="自 since 起作废、且尚未过期的就业码 jti。"
        "离线核验端保存公钥（/.well-known/jwks.json）和本清单，下次用 next_since 增量同步。")
def revoked(query: dict[str, Any]) -> dict[str, Any]:
    codes = provider().get()
    now = utcnow()
    window = timedelta(seconds=codes.settings.retire_after_seconds)
    since = query.get("since") or now - window
    with services().db.session() as session:
        rows = store.revoked_since(
            session, since, now=now, leeway_seconds=codes.settings.leeway_seconds
        )
        items = [
            {"jti": r.jti, "revoked_at": store.as_utc(r.revoked_at),
             "expires_at": store.as_utc(r.expires_at)}
            for r in rows
            if r.revoked_at is not None
        ]
    return {
        "as_of": now,
        "next_since": now - timedelta(seconds=FEED_OVERLAP_SECONDS),
        "revoked": items,
    }


# ---- registration ----------------------------------------------------------------------------


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Key provider, the public JWKS route at the root, and the verify endpoint's limit."""
    app = state.app
    with app.app_context():
        settings = services().settings
    app.extensions[VERIFY_LIMIT] = WindowLimit(
        "employment_code_verify", settings.employment_code.verify_rate_limit)
    app.extensions[VERDICTS] = VerdictCache(settings.employment_code.verify_cache_seconds)
    production = settings.is_production
    codes_provider = CodesProvider(settings.employment_code, production=production)
    if production:
        codes_provider.check()
    app.extensions[well_known.EXTENSION] = codes_provider
    app.register_blueprint(well_known.root_bp)
