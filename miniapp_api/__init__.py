"""Mini-program and staff-tool REST API under /api/v1 (APIFlask + marshmallow).

``register(app)`` sets up tokens, errors and rate limits and registers the blueprints listed
in ``BLUEPRINTS``, under ``/api/v1`` plus each blueprint's own ``url_prefix``. To add endpoints,
create ``miniapp_api/<topic>.py`` with ``bp = APIBlueprint("<topic>", __name__)``, give every
view ``require_roles(...)`` (see ``miniapp_api.auth``) and add ``<topic>.bp`` to
``BLUEPRINTS``: the list is the API's table of contents. The OpenAPI document
(/api/v1/openapi.json, docs page /api/v1/docs) is generated from the code.
"""

from __future__ import annotations

import re
from typing import Any

from apiflask import APIBlueprint, APIFlask
from werkzeug.routing import IntegerConverter

from huimin.identity.tokens import TokenService
from huimin.privacy.pii import cipher_from_settings
from miniapp_api import (
    benefits,
    employment_code,
    errors,
    grid,
    guides,
    me,
    ops,
    real_name,
    sign_in,
    staff,
)
from miniapp_api.auth import PUBLIC, require_roles, roles_of
from miniapp_api.context import ApiServices
from miniapp_api.errors import API_PREFIX, ERROR_SCHEMA
from miniapp_api.limits import apply_limits, make_limiter
from webapp.extensions import services

SECURITY_SCHEME = "BearerAuth"
_PATH_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# Every API blueprint, in the order of the OpenAPI document's sections.
BLUEPRINTS: tuple[APIBlueprint, ...] = (
    benefits.bp,
    employment_code.bp,
    grid.bp,
    guides.bp,
    me.bp,
    ops.bp,
    real_name.bp,
    sign_in.bp,
    staff.bp,
)


class DatabaseIntConverter(IntegerConverter):
    """``int`` of at most 18 digits: within SQLite INTEGER / PostgreSQL BIGINT, and a longer
    path segment matches no route at all (404; a bound checked after matching gives 405s)."""

    regex = r"\d{1,18}"


def register(app: APIFlask) -> None:
    """Install the API on ``app`` (call once, after ``webapp.extensions.init_app``)."""
    with app.app_context():
        settings = services().settings
        redis_conn = services().redis
    app.extensions["huimin_api"] = ApiServices(
        tokens=TokenService(settings, redis_conn),
        cipher=cipher_from_settings(settings),
        limiter=make_limiter(app, settings.redis_url),
    )
    errors.init_app(app)
    app.config.update(
        VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA,
        HTTP_ERROR_SCHEMA=ERROR_SCHEMA,
        VALIDATION_ERROR_DESCRIPTION="输入有误（fields 说明哪一项）",
        AUTH_ERROR_DESCRIPTION="未登录或登录已失效",
        SECURITY_SCHEMES={
            SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        },
        DESCRIPTION=_API_DESCRIPTION,
    )
    # `<int:id>` path values beyond what the databases store are "not found", not a crash.
    app.url_map.converters["int"] = DatabaseIntConverter
    for bp in BLUEPRINTS:
        if bp.name in app.blueprints:
            continue
        app.register_blueprint(bp, url_prefix=API_PREFIX + (bp.url_prefix or ""))
    # APIFlask's own spec and docs pages live under /api/v1 too: public by declaration.
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX) and rule.endpoint.startswith("openapi."):
            view = app.view_functions[rule.endpoint]
            if roles_of(view) is None:
                app.view_functions[rule.endpoint] = require_roles(PUBLIC)(view)
    apply_limits(app, app.extensions["huimin_api"].limiter, API_PREFIX)
    app.spec_processor(lambda spec: _document_access(app, spec))


def _document_access(app: APIFlask, spec: dict[str, Any]) -> dict[str, Any]:
    """Add each operation's roles, security requirement and error responses to the spec."""
    spec.setdefault("components", {}).setdefault("schemas", {})["ApiError"] = ERROR_SCHEMA
    error_response = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX):
            continue
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        roles = roles_of(view) or frozenset()
        for method in rule.methods or ():
            operation = spec.get("paths", {}).get(path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            operation["x-roles"] = sorted(roles)
            if PUBLIC not in roles:
                operation["security"] = [{SECURITY_SCHEME: []}]
                responses.setdefault("401", {"description": "未登录或登录已失效"})
                responses.setdefault("403", {"description": "没有权限"})
                operation["description"] = (
                    operation.get("description", "") + f"\n\n可调用角色：{', '.join(sorted(roles))}"
                ).strip()
            else:
                operation["security"] = []
            if getattr(view, "_huimin_rate_limits", ()):
                responses.setdefault("429", {"description": "操作太频繁（见 Retry-After）"})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "请求体不是有效的 JSON"})
                responses.setdefault("413", {"description": "请求体太大"})
            for code, response in responses.items():
                if code[0] in "45" and "content" not in response:
                    response.update(error_response)
    return spec


_API_DESCRIPTION = """\
惠民助手小程序与工作人员工具的接口。

* 登录：市民 `POST /api/v1/auth/login`（wx.login 的 code），工作人员 `POST /api/v1/staff/login`；
  之后请求头带 `Authorization: Bearer <access_token>`，过期后用 `POST /api/v1/auth/refresh` 换新。
* 所有错误都是 `{"error": {"code", "message", "fields"}}`，`fields` 指出哪一项填写有误。
* 列表用 `page`、`per_page` 分页，返回 `{items, page, per_page, total}`。
"""
