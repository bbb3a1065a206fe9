"""The grid API's blueprint and what its sections share: refusals, notifications, rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from apiflask import APIBlueprint

from huimin.benefits.sources import catalogue, titles
from huimin.grid import consents as grid_consents
from huimin.grid.access import GridDenied
from huimin.grid.actions import Done
from huimin.grid.models import GridConsentRequest
from huimin.guides.service import GuideService, Turn, guide_store
from huimin.guides.storage import GuideStorageError, SessionStore
from huimin.privacy import audit, consent
from huimin.privacy.masking import mask_name
from huimin.privacy.pii import NAME
from jobs.grid import schedule
from miniapp_api.auth import audit_now, current_principal
from miniapp_api.context import api_services
from miniapp_api.errors import ApiError
from webapp.extensions import services

log = logging.getLogger("miniapp_api.grid")

bp = APIBlueprint("api_grid", __name__, tag="网格员")

GRANTABLE = grid_consents.GRANTABLE



@contextmanager
def acting(action: str, resident_id: int | None = None) -> Iterator[None]:
    """Turn a domain refusal into the API's error, auditing refusals about a resident in a
    transaction of their own (the view's transaction rolls back with the error)."""
    try:
        yield
    except GridDenied as exc:
        if resident_id is not None and exc.status in (403, 404):
            audit_now(current_principal().actor, action, f"resident:{resident_id}",
                      audit.DENIED, {"reason": exc.code})
        raise ApiError(exc.status, exc.code, exc.message) from None
    except GuideStorageError:
        log.warning("guide sessions unavailable (Redis)")
        raise ApiError(503, "unavailable", "服务暂时不可用，请稍后再试") from None


def tell_resident(done: Done | None) -> None:
    """Queue the WeChat message about an action (after its transaction committed)."""
    if done is None or not done.notify:
        return
    try:
        schedule(services().redis, done.resident_id, done.notify, done.key)
    except redis.RedisError:
        # The action stands and is in the resident's history; only the message is lost.
        log.warning("grid notification not queued for resident %s", done.resident_id)


def guide_service() -> GuideService:
    svc = services()
    return GuideService(guide_store(svc.settings.guides_dir), SessionStore(svc.redis))


def policy_titles() -> dict[str, str]:
    return titles(catalogue(services().settings.policies_dir))


def masked_name(resident: Any) -> str | None:
    if resident.name_enc is None:
        return None
    raw = resident.name_enc
    return mask_name(api_services().cipher.decrypt(
        raw.decode() if isinstance(raw, bytes) else raw, field=NAME))


def turn_row(turn: Turn) -> dict[str, Any]:
    guide, reply = turn.guide, turn.reply
    return {
        "guide": {"key": guide.key, "title": guide.title},
        "event": reply.event.value,
        "care_mode": reply.session.care_mode,
        "step": reply.session.progress(guide) if guide.has_step(reply.session.step_id) else None,
        "steps": guide.main_count,
        "finished": reply.session.finished,
        "messages": [m.to_dict() for m in reply.messages],
    }


def request_row(row: GridConsentRequest) -> dict[str, Any]:
    return {
        "id": row.id, "resident_id": row.resident_id, "kind": row.kind,
        "scopes": list(row.scopes), "scope_labels": [consent.LABELS[s] for s in row.scopes],
        "days": row.days, "only_requester": row.only_requester,
        "requested_by": row.requested_by, "requested_at": row.requested_at,
        "answer_by": row.answer_by, "evidence": row.evidence, "status": row.status,
        "decided_by": row.decided_by, "decided_at": row.decided_at,
        "consent_ids": list(row.consent_ids or []),
    }

