"""Who is calling and what they may do: every API view declares its roles.

Usage (``require_roles`` goes between the route decorator and ``@bp.input`` so an unauthorised
caller gets 401/403 before the body is validated)::

    @bp.get("/benefits")
    @require_roles("citizen")
    @bp.output(BenefitPage)
    def list_benefits():
        me = current_principal()

Roles: ``citizen``, ``grid_worker``, ``grid_supervisor`` (confirms paper consents in its
grids), ``verifier`` (an employer's code scanner), ``ops``, ``admin``; ``public`` means no
sign-in. The allowed set is kept on the view as ``_huimin_roles``; the authorisation matrix
test (tests/test_authz_matrix.py) reads it for every /api/v1 endpoint, so an endpoint without
``require_roles`` fails that test. A role refusal is 403 with code ``forbidden``; data-level
refusals (not your grid, no consent) use their own codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy.orm import Session

from huimin.identity import accounts
from huimin.identity import models as identity_models
from huimin.identity.tokens import CITIZEN, STAFF, AccessClaims, TokenError
from huimin.privacy import audit, consent
from huimin.residents.models import Resident
from miniapp_api.context import api_services, client_ip
from miniapp_api.errors import ApiError
from webapp.extensions import services

PUBLIC = "public"
ROLES = identity_models.ROLES
STAFF_ROLES = identity_models.STAFF_ROLES
ALL_SIGNED_IN = ROLES

F = TypeVar("F", bound=Callable[..., Any])

_TOKEN_MESSAGES = {
    "expired": ("token_expired", "登录已过期，请重新登录"),
    "revoked": ("session_ended", "您已退出登录，请重新登录"),
    "invalid": ("token_invalid", "登录信息无效，请重新登录"),
}


@dataclass(frozen=True)
class Principal:
    """The signed-in caller: a citizen account or a staff account."""

    kind: str  # "citizen" | "staff"
    id: int
    roles: frozenset[str]
    resident_id: int | None = None
    openid: str | None = None
    grid_ids: frozenset[str] = field(default_factory=frozenset)
    username: str | None = None
    session_id: str | None = None

    @property
    def actor(self) -> str:
        """Pseudonymous id for audit entries: ``citizen:12`` / ``staff:3``."""
        return f"{self.kind}:{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.kind == STAFF


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "请先登录", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def _load_principal(claims: AccessClaims) -> Principal | None:
    kind, subject_id, session_id = claims.kind, claims.subject_id, claims.session_id
    with services().db.session() as session:
        if kind == CITIZEN:
            citizen = session.get(accounts.CitizenAccount, subject_id)
            if citizen is None or not citizen.active:
                return None
            return Principal(
                kind=CITIZEN, id=citizen.id, roles=frozenset({identity_models.CITIZEN}),
                resident_id=citizen.bound_resident_id, openid=citizen.openid,
                session_id=session_id,
            )
        staff = session.get(accounts.StaffAccount, subject_id)
        if staff is None or not staff.active:
            return None
        # Roles taken away since sign-in are gone at once; roles added need a new sign-in.
        return Principal(
            kind=STAFF, id=staff.id, roles=staff.role_set & claims.roles, grid_ids=staff.grid_ids,
            username=staff.username, session_id=session_id,
        )


def authenticate() -> Principal:
    """The caller from the Bearer access token, or 401."""
    cached = g.get("huimin_principal")
    if cached is not None:
        return cached
    try:
        claims = api_services().tokens.verify_access(_bearer_token())
    except TokenError as exc:
        code, message = _TOKEN_MESSAGES.get(exc.reason, _TOKEN_MESSAGES["invalid"])
        raise ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"}) from None
    principal = _load_principal(claims)
    if principal is None:
        api_services().tokens.revoke_session(claims.session_id)
        raise ApiError(401, "account_inactive", "账号不可用，请重新登录")
    g.huimin_principal = principal
    return principal


def require_roles(*roles: str) -> Callable[[F], F]:
    """Declare and enforce who may call the view (``public``: anyone, no token needed)."""
    allowed = frozenset(roles)
    unknown = allowed - set(ROLES) - {PUBLIC}
    if not allowed or unknown:
        raise ValueError(f"require_roles: unknown or no roles {sorted(unknown)}; use {ROLES}")
    if PUBLIC in allowed and len(allowed) > 1:
        raise ValueError("require_roles: 'public' cannot be combined with other roles")

    def decorator(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if PUBLIC not in allowed:
                principal = authenticate()
                if not principal.roles & allowed:
                    raise ApiError(403, "forbidden", "您没有权限进行此操作")
            return fn(*args, **kwargs)

        wrapper._huimin_roles = allowed  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def current_principal() -> Principal:
    """The caller of a view protected by ``require_roles`` (not ``public``)."""
    principal = g.get("huimin_principal")
    if principal is None:
        raise RuntimeError("current_principal() outside a view protected by require_roles")
    return principal


def optional_principal() -> Principal | None:
    """For public views that behave differently when a valid token is sent."""
    if "Authorization" not in request.headers:
        return None
    try:
        return authenticate()
    except ApiError:
        return None


def roles_of(view: Callable[..., Any]) -> frozenset[str] | None:
    return getattr(view, "_huimin_roles", None)


def authorize_resident_access(
    session: Session,
    resident_id: int,
    action: str,
    *,
    consent_scopes: Iterable[str] = (),
    staff_roles_without_consent: Iterable[str] = (),
) -> Resident:
    """Check that the caller may see this resident's personal data, and audit the access.

    - citizen: only their own resident row (anything else is 404, existence is not revealed);
    - grid_worker: residents of their own grids, and only with a consent in force for one of
      ``consent_scopes`` given to them or to any grid worker;
    - staff roles in ``staff_roles_without_consent`` (e.g. ops for masked views): allowed.

    Every staff attempt is audited: allowed ones in ``session`` (they commit with the view's
    work), refused ones at once in their own transaction.
    """
    principal = current_principal()
    resident = session.get(Resident, resident_id)
    if principal.kind == CITIZEN:
        if resident is None or principal.resident_id != resident_id:
            raise ApiError(404, "not_found", "找不到要访问的内容")
        return resident
    target = f"resident:{resident_id}"

    def deny(status: int, code: str, message: str) -> ApiError:
        # The caller's transaction rolls back with the error, so the refusal is recorded in
        # a transaction of its own.
        audit_now(principal.actor, action, target, audit.DENIED, {"reason": code})
        return ApiError(status, code, message)

    if resident is None:
        raise deny(404, "not_found", "找不到要访问的内容")
    if principal.roles & set(staff_roles_without_consent):
        audit.record(session, principal.actor, action, target, audit.OK, client_ip())
        return resident
    if identity_models.GRID_WORKER not in principal.roles:
        raise deny(403, "forbidden", "您没有权限进行此操作")
    if resident.grid_id is None or resident.grid_id not in principal.grid_ids:
        raise deny(403, "not_your_grid", "该居民不在您负责的网格内")
    scopes = tuple(consent_scopes)
    if not any(consent.has_consent(session, resident_id, s, grantee=principal.id) for s in scopes):
        raise deny(403, "consent_required", "该居民尚未授权您协助办理")
    audit.record(session, principal.actor, action, target, audit.OK, client_ip(),
                 {"scopes": list(scopes)})
    return resident


def audit_now(
    actor: str, action: str, target: str, result: str, detail: dict[str, Any] | None = None
) -> None:
    """Audit in a transaction of its own: for refusals, whose view transaction rolls back."""
    with services().db.session() as session:
        audit.record(session, actor, action, target, result, client_ip(), detail)
