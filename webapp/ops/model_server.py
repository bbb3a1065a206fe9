"""Rasa's model server: ``GET /ops/model-server/model`` returns the live model with its ETag.

The archive streams out of the database's model store (huimin/ops/model_store.py), so any
web host can serve it. Every Rasa replica polls it (``models:`` in bot/endpoints.yml, every
few seconds, sending the ETag of the model it runs as If-None-Match): 304 while the live model
is the same, the archive when it changed. Rasa loads the new model next to the old one and
swaps, so conversations carry on (their state is in Redis). The Rasa token (RASA_TOKEN,
``token`` query parameter) guards it.
On a fresh database the model `make train` installed becomes the first live model.

The poll doubles as the conversation log's heartbeat: each one first copies new conversation
events from Rasa's stream into the database (cheap when there are none; one process at a time),
so the review inbox and dashboard stay current and the capped stream never overflows.
"""

from __future__ import annotations

import hmac

import structlog
from apiflask import APIBlueprint
from flask import Response, abort, request, stream_with_context

from huimin.ops import conversation_log, model_store, registry
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
    with svc.db.session() as session:
        stored = model_store.stored(session, sha)
        size = stored.size if stored is not None and stored.chunks >= 0 else None
    if size is None:
        log.error("model_file_missing", model=model_id, sha256=sha[:12])
        abort(404)
    log.info("model_served", model=model_id, sha256=sha[:12])
    # Streamed from the database chunk by chunk: no host holds the whole archive in memory.
    response = Response(stream_with_context(model_store.read_chunks(svc.db, sha)),
                        mimetype="application/gzip")
    response.content_length = size
    response.set_etag(sha)
    response.headers["filename"] = filename
    response.headers["Cache-Control"] = "no-cache"
    return response
