"""Rasa's model server: ``GET /ops/model-server/model`` returns the live model with its ETag.

Every Rasa replica polls it (``models:`` in bot/endpoints.yml, every few seconds, sending the
ETag of the model it runs as If-None-Match): 304 while the live model is the same, the archive
when it changed. Rasa loads the new model next to the old one and swaps, so conversations carry
on (their state is in Redis). The Rasa token (RASA_TOKEN, ``token`` query parameter) guards it.
On a fresh database the model `make train` installed becomes the first live model.

The poll doubles as the conversation log's heartbeat: each one first copies new conversation
events from Rasa's stream into the database (cheap when there are none; one process at a time),
so the review inbox and dashboard stay current and the capped stream never overflows.
"""

from __future__ import annotations

import hmac

import structlog
from apiflask import APIBlueprint
from flask import Response, abort, request, send_file

from huimin.ops import conversation_log, registry
from huimin.platform.settings import load_settings
from huimin.privacy.pii import cipher_from_settings
from webapp.extensions import services

log = structlog.get_logger("model_server")
bp = APIBlueprint("model_server", __name__, url_prefix="/model-server", enable_openapi=False)


@bp.get("/model")
def live_model() -> Response:
    svc = services()
    if not hmac.compare_digest(request.args.get("token", ""), svc.settings.rasa_token):
        abort(401)
    try:
        with svc.db.session() as session:
            conversation_log.ingest(session, svc.redis,
                                    cipher=cipher_from_settings(svc.settings))
    except Exception:  # noqa: BLE001 - never stands in the way of serving the model
        log.exception("conversation_ingest_failed")
    ops = load_settings().ops
    with svc.db.session() as session:
        record = registry.ensure_active(session, ops)
        if record is None:
            abort(404)  # Rasa keeps what it has and asks again later
        sha, filename, model_id = record.sha256, record.filename, record.id
    if request.if_none_match.contains(sha):
        response = Response(status=304)
        response.set_etag(sha)
        return response
    path = registry.stored_path(ops, sha)
    if not path.exists():
        log.error("model_file_missing", model=model_id, path=str(path))
        abort(404)
    log.info("model_served", model=model_id, sha256=sha[:12])
    response = send_file(path, mimetype="application/gzip", conditional=False, etag=False,
                         max_age=0)
    response.set_etag(sha)
    response.headers["filename"] = filename
    response.headers["Cache-Control"] = "no-cache"
    return response
