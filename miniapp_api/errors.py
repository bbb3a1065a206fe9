"""One JSON error shape for every failure under /api/v1.

    {"error": {"code": "...", "message": "<plain Chinese>", "fields": {"field": "..."}}}

Views raise ``ApiError``; Werkzeug's HTTP errors (404, 405, 413, 429 ...), APIFlask's request
validation errors and unexpected exceptions (500) are converted by ``error_processor``, so the
mini-program never sees an HTML page or a stack trace. Outside /api/v1 APIFlask's default shape
is kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import redis
from apiflask import APIFlask, HTTPError
from flask import request

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

# Default code and citizen-facing message per HTTP status.
STATUS_TEXT: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不对，请检查后重试"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "您没有权限进行此操作"),
    404: ("not_found", "找不到要访问的内容"),
    405: ("method_not_allowed", "不支持这种操作"),
    409: ("conflict", "操作冲突，请刷新后重试"),
    413: ("payload_too_large", "提交的内容太大"),
    415: ("unsupported_media_type", "请以 JSON 格式提交"),
    422: ("invalid_input", "填写的内容有误，请检查"),
    423: ("locked", "账号已被暂时锁定，请稍后再试"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
    500: ("internal_error", "系统繁忙，请稍后再试"),
    502: ("upstream_error", "微信服务暂时不可用，请稍后再试"),
    503: ("unavailable", "服务暂时不可用，请稍后再试"),
}

# marshmallow's English messages -> short Chinese; anything already Chinese passes through.
_FIELD_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^Missing data for required field", "必填"),
        (r"^Field may not be null", "不能为空"),
        (r"^Unknown field", "不支持该字段"),
        (r"^Not a valid string", "应为文字"),
        (r"^Not a valid integer", "应为整数"),
        (r"^Not a valid number", "应为数字"),
        (r"^Not a valid boolean", "应为 true 或 false"),
        (r"^Not a valid (datetime|date)", "日期格式不对"),
        (r"^Not a valid list", "应为列表"),
        (r"^Invalid input type", "格式不对"),
        (r"^Invalid value", "取值不对"),
        (r"^Must be one of", "取值不在允许范围内"),
        (r"^Length must be between", "长度不符合要求"),
        (r"^Shorter than minimum length", "太短"),
        (r"^Longer than maximum length", "太长"),
        (r"^Length must be", "长度不符合要求"),
        (r"^Must be (greater|less) than", "数值超出范围"),
        (r"^String does not match expected pattern", "格式不对"),
        (r"^Invalid JSON body|^Invalid json", "不是有效的 JSON"),
    )
)
_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")


class ApiError(HTTPError):
    """A failure answered as ``{"error": {...}}``; ``message`` is plain Chinese for citizens."""

    def __init__(
        self,
        status: int,
        code: str,
        message_zh: str,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            status_code=status,
            message=message_zh,
            extra_data={"code": code, "fields": dict(fields or {})},
            headers=dict(headers or {}),
        )
        self.code = code


def translate_field_message(message: str) -> str:
    """Chinese for a marshmallow validation message (ours are Chinese already)."""
    if _HAS_CJK.search(message):
        return message
    for pattern, text in _FIELD_MESSAGES:
        if pattern.search(message):
            return text
    return "格式不对"


def _flatten(errors: Any, prefix: str = "") -> dict[str, str]:
    """``{"name": ["..."], "items": {0: {"id": [".."]}}}`` -> ``{"name": .., "items.0.id": ..}``."""
    out: dict[str, str] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(errors, list | tuple):
        if all(isinstance(item, str) for item in errors):
            out[prefix or "_schema"] = translate_field_message(errors[0]) if errors else "格式不对"
        else:
            for item in errors:
                out.update(_flatten(item, prefix))
    elif isinstance(errors, str):
        out[prefix or "_schema"] = translate_field_message(errors)
    return out


def validation_fields(detail: Any) -> dict[str, str]:
    """Field errors from APIFlask's detail ``{location: {field: [messages]}}``."""
    fields: dict[str, str] = {}
    if isinstance(detail, Mapping):
        for location_errors in detail.values():
            fields.update(_flatten(location_errors))
    return fields


def error_body(status: int, code: str, message: str, fields: Mapping[str, str] | None = None):
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def _api_error_response(error: HTTPError) -> tuple[dict, int, dict]:
    status = error.status_code
    default_code, default_message = STATUS_TEXT.get(
        status, ("error" if status < 500 else "internal_error", STATUS_TEXT[500][1])
    )
    headers = dict(error.headers or {})
    extra = error.extra_data or {}
    if "code" in extra:  # an ApiError: its own code and message
        body = error_body(status, extra["code"], error.message, extra.get("fields"))
        return body, status, headers
    fields = validation_fields(error.detail) if status in (400, 422) and error.detail else {}
    if fields:
        return error_body(status, "invalid_input", STATUS_TEXT[422][1], fields), status, headers
    if status == 400 and error.detail:
        return error_body(status, "bad_request", STATUS_TEXT[400][1]), status, headers
    return error_body(status, default_code, default_message), status, headers


def _default_response(error: HTTPError) -> tuple[dict, int, dict]:
    body = {"detail": error.detail, "message": error.message, **(error.extra_data or {})}
    return body, error.status_code, dict(error.headers or {})


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def init_app(app: APIFlask) -> None:
    """Install the error processor (the whole app; /api/v1 gets the shape above)."""

    @app.error_processor
    def process(error: HTTPError):
        if not is_api_request():
            return _default_response(error)
        if error.status_code >= 500:
            log.error("api error %s on %s %s", error.status_code, request.method, request.path)
        return _api_error_response(error)

    @app.errorhandler(redis.RedisError)
    def redis_down(exc: redis.RedisError):
        # Sessions and rate limits live in Redis: without it, ask the caller to retry.
        log.error("redis unavailable: %s", type(exc).__name__)
        if is_api_request():
            return app.error_callback(
                ApiError(503, "unavailable", STATUS_TEXT[503][1], headers={"Retry-After": "30"})
            )
        return app.error_callback(HTTPError(500))


# OpenAPI description of the error body (used for every documented error response).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "stable machine-readable code"},
                "message": {"type": "string", "description": "plain Chinese for citizens"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "field name -> what is wrong with it",
                },
            },
        }
    },
}
