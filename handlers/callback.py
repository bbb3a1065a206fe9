"""The callback URL configured in the official account's admin console."""

from __future__ import annotations

import structlog
from apiflask import APIBlueprint
from flask import Response, request
from wechatpy import parse_message

from handlers.envelope import EnvelopeError, open_request, seal_reply, signature_ok
from handlers.messages import reply_for
from handlers.replies import text_reply
from webapp.extensions import services

bp = APIBlueprint("wechat", __name__, enable_openapi=False)
log = structlog.get_logger("wechat")

MAX_BODY = 64 * 1024


@bp.get("/wechat/callback")
def verify() -> Response:
    """WeChat checks the URL once: echo `echostr` when the signature is ours."""
    args = request.args
    settings = services().settings
    if not signature_ok(
        settings.wechat_token, args.get("signature", ""), args.get("timestamp", ""),
        args.get("nonce", ""),
    ):
        return Response("forbidden", status=403, mimetype="text/plain")
    return Response(args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat/callback")
def receive() -> Response:
    if (request.content_length or 0) > MAX_BODY:
        return Response("too large", status=413, mimetype="text/plain")
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        return Response("too large", status=413, mimetype="text/plain")
    settings = services().settings
    try:
        opened = open_request(settings, request.args, body)
        message = parse_message(opened.xml)
    except EnvelopeError as exc:
        log.warning("callback_rejected", reason=exc.reason, status=exc.status)
        return Response(exc.reason, status=exc.status, mimetype="text/plain")
    except Exception:  # noqa: BLE001 - malformed message content
        log.warning("callback_rejected", reason="unparseable message", status=400)
        return Response("bad message", status=400, mimetype="text/plain")
    content = reply_for(message)
    if content is None:
        return Response("success", mimetype="text/plain")
    xml = text_reply(message.source, message.target, content)
    sealed = seal_reply(settings, xml, opened, request.args.get("nonce", ""))
    return Response(sealed, mimetype="application/xml")
