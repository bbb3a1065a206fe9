"""WeChat error codes and messages, as the real servers spell them.

Clients must branch on `errcode`, never on `errmsg`; the emulator appends a random
` rid: ...` suffix like WeChat does so that code matching whole messages fails here
rather than in production.
"""

from __future__ import annotations

import secrets

ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40006: "invalid meida size",  # sic: WeChat's own spelling
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret, view more at http://t.cn/RAEkdVq",
    40129: "invalid scene",
    40163: "code been used",
    40226: "high risk user",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41008: "missing code",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    47003: "argument invalid!",
    48001: "api unauthorized",
    87014: "risky content",
}


def rid() -> str:
    """A request id in WeChat's `xxxxxxxx-xxxxxxxx-xxxxxxxx` shape (also used as trace_id)."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def error_body(errcode: int, errmsg: str | None = None) -> dict[str, object]:
    """The JSON body WeChat returns for an error code."""
    message = errmsg or ERRMSG.get(errcode, "unknown error")
    return {"errcode": errcode, "errmsg": f"{message} rid: {rid()}"}


class WeChatError(Exception):
    """Raised by the emulated APIs; turned into a WeChat error body (HTTP 200, like WeChat)."""

    def __init__(self, errcode: int, detail: str | None = None) -> None:
        super().__init__(errcode, detail)
        self.errcode = errcode
        self.detail = detail

    def body(self) -> dict[str, object]:
        base = ERRMSG.get(self.errcode, "unknown error")
        return error_body(self.errcode, f"{base} {self.detail}" if self.detail else base)


class ControlError(Exception):
    """A bad request to a `/_emulator/` control endpoint (HTTP 400 with a plain message)."""
