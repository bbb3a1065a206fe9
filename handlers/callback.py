"""The callback URL configured in the official account's admin console.

A thin edge: check the envelope (huimin's rules do the rest, see huimin.wechat.channel), then answer
with the passive reply or "success". WeChat never sees a 5xx from here: anything unexpected
is logged and answered with a short apology.
"""

from __future__ import annotations

import time

import structlog
from apiflask import APIBlueprint
from flask import Flask, Response, current_app, request
from prometheus_client import Counter

from huimin.wechat.channel import SORRY, Channel, Inbound
from huimin.wechat.envelope import EnvelopeError, check_query, open_request, seal_reply
from huimin.wechat.replies import text_reply
from jobs.messages import RQDrains
from webapp.extensions import services

bp = APIBlueprint("wechat", __name__, enable_openapi=False)
log = structlog.get_logger("wechat")

MAX_BODY = 64 * 1024
CALLBACKS = Counter("huimin_wechat_callbacks_total", "WeChat callback outcomes", ["outcome"])


def _channel(app: Flask) -> Channel:
    """One channel per app (its Redis state and clients are reused across requests)."""
    channel = app.extensions.get("wechat_channel")
    if channel is None:
        svc = services()
        channel = Channel(svc.settings, svc.db, svc.redis, svc.assistant, RQDrains())
        app.extensions["wechat_channel"] = channel
    return channel


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _rejected(exc: EnvelopeError) -> Response:
    log.warning("callback_rejected", reason=exc.reason, status=exc.status)
    CALLBACKS.labels("rejected").inc()
    return _plain(exc.reason, exc.status)


@bp.get("/wechat/callback")
def verify() -> Response:
    """WeChat checks the URL: echo `echostr` when the signature is ours."""
    channel = _channel(current_app)
    try:
        check_query(channel.settings, request.args)
    except EnvelopeError as exc:
        return _rejected(exc)
    if not channel.fresh_nonce(request.args["nonce"]):
        return _rejected(EnvelopeError(403, "replayed nonce"))
    return _plain(request.args.get("echostr", ""))


@bp.post("/wechat/callback")
def receive() -> Response:
    started = time.monotonic()
    if (request.content_length or 0) > MAX_BODY:
        return _rejected(EnvelopeError(413, "too large"))
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _rejected(EnvelopeError(413, "too large"))
    channel = _channel(current_app)
    try:
        opened = open_request(channel.settings, request.args, body)
        try:
            message = Inbound.from_fields(opened.fields)
        except ValueError as exc:
            raise EnvelopeError(400, "not a WeChat message") from exc
        if not channel.fresh_nonce(request.args["nonce"]):
            raise EnvelopeError(403, "replayed nonce")
    except EnvelopeError as exc:
        return _rejected(exc)
    try:
        content = channel.handle(message, started)
    except Exception:  # noqa: BLE001 - WeChat must get an answer, never a 5xx
        log.exception("callback_failed", message=message.key)
        content = SORRY
    if not content:
        CALLBACKS.labels("success").inc()
        return _plain("success")
    CALLBACKS.labels("passive").inc()
    xml = text_reply(message.source, message.target, content)
    return Response(seal_reply(channel.settings, xml, opened, request.args["nonce"]),
                    mimetype="application/xml")
