"""Rate limits (Flask-Limiter, Redis storage) per client IP and per user.

Views are marked with ``rate_limit``; ``apply_limits`` wraps the marked views of an app with
that app's limiter when the API is registered, so each app (and each test) uses its own
Redis. A breach is 429 with ``Retry-After`` and the API's JSON error shape.

Cost: a passing request pays one Redis round trip per limit (the fixed-window ``hit``, a
single Lua INCR+EXPIRE). The ``X-RateLimit-*`` headers on every response would add two more
(GET and TTL of the window), so they are off; only a breach looks the window up, to tell the
caller when to retry.

    @bp.post("/me/export")
    @rate_limit("api_rate_limit_expensive", per=("ip", "user"))
    @require_roles("citizen")
    def export(): ...

``setting`` names a ``Settings`` field holding a limit string such as ``"5/minute,30/hour"``.
Keys: ``ip``; ``user`` (the signed-in account, from the access token; the IP without one);
``username`` (the ``username`` in a JSON body: staff sign-in).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_limiter import Limiter
from limits import parse_many

from huimin.identity.tokens import TokenError
from miniapp_api.context import api_services, client_ip
from miniapp_api.errors import ApiError
from webapp.extensions import services

F = TypeVar("F", bound=Callable[..., Any])
KEYS = ("ip", "user", "username")


def rate_limit(setting: str, *, per: tuple[str, ...] = ("ip", "user")) -> Callable[[F], F]:
    """Mark a view for rate limiting (applied by ``apply_limits``)."""
    unknown = set(per) - set(KEYS)
    if unknown or not per:
        raise ValueError(f"rate_limit: unknown keys {sorted(unknown)}; use {KEYS}")

    def decorator(fn: F) -> F:
        marks = [*getattr(fn, "_huimin_rate_limits", ()), *((setting, key) for key in per)]
        fn._huimin_rate_limits = tuple(marks)  # type: ignore[attr-defined]
        return fn

    return decorator


def _ip_key() -> str:
    return f"ip:{client_ip()}"


def _user_key() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            claims = api_services().tokens.verify_access(token.strip())
            return f"user:{claims.kind}:{claims.subject_id}"
        except TokenError:
            pass
    return _ip_key()


def _username_key() -> str:
    body = request.get_json(silent=True)
    name = body.get("username") if isinstance(body, dict) else None
    if isinstance(name, str) and name.strip():
        # Hashed so usernames do not sit in Redis keys.
        return "username:" + hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]
    return _ip_key()


_KEY_FUNCS: dict[str, Callable[[], str]] = {
    "ip": _ip_key,
    "user": _user_key,
    "username": _username_key,
}


def make_limiter(app: Flask, storage_uri: str) -> Limiter:
    limiter = Limiter(
        key_func=_ip_key,
        storage_uri=storage_uri,
        headers_enabled=False,
        key_prefix="huimin-api",
        strategy="fixed-window",
        storage_options={"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
    )
    limiter.init_app(app)

    @app.after_request
    def retry_after(response: Response) -> Response:
        # Only a breach pays for the window look-up (see the module docstring).
        breached = limiter.current_limit if response.status_code == 429 else None
        if breached is not None and breached.breached and "Retry-After" not in response.headers:
            wait = max(1, math.ceil(breached.window.reset_time - time.time()))
            response.headers["Retry-After"] = str(wait)
        return response

    return limiter


def _limit_value(setting: str) -> Callable[[], str]:
    def value() -> str:
        return str(getattr(services().settings, setting))

    return value


def apply_limits(app: Flask, limiter: Limiter, prefix: str) -> None:
    """Wrap every marked view under ``prefix`` with the limits it asked for."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix):
            continue
        view = app.view_functions[rule.endpoint]
        marks = getattr(view, "_huimin_rate_limits", ())
        if not marks or getattr(view, "_huimin_limited", False):
            continue
        for setting, key in marks:
            view = limiter.limit(
                _limit_value(setting), key_func=_KEY_FUNCS[key], scope=f"{setting}:{key}"
            )(view)
        view._huimin_limited = True  # type: ignore[attr-defined]
        app.view_functions[rule.endpoint] = view


def check_identity(setting: str, identity: str) -> None:
    """Count one hit for ``identity`` (known only inside the view, e.g. the WeChat openid)
    against the limits in ``setting``; over the limit: 429 with ``Retry-After``."""
    limiter = api_services().limiter.limiter
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    for item in parse_many(str(getattr(services().settings, setting))):
        if not limiter.hit(item, "huimin-api", setting, digest):
            reset = limiter.get_window_stats(item, "huimin-api", setting, digest).reset_time
            retry = max(1, math.ceil(reset - time.time()))
            raise ApiError(429, "rate_limited", "操作太频繁，请稍后再试",
                           headers={"Retry-After": str(retry)})
