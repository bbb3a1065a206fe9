"""The ops console API's blueprint and what its sections share: roles, paging, ingest."""

from __future__ import annotations

from typing import Any

import structlog
from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer
from apiflask.validators import Range

from huimin.ops import conversation_log
from huimin.platform.settings import OpsSettings, load_settings
from miniapp_api.auth import current_principal
from miniapp_api.context import api_services
from miniapp_api.pagination import MAX_PER_PAGE
from webapp.extensions import services

log = structlog.get_logger("ops")
bp = APIBlueprint("api_ops", __name__, tag="运营后台", url_prefix="/ops")
OPS_ROLES = ("ops", "admin")


def ops_settings() -> OpsSettings:
    return load_settings().ops


def acting_staff() -> tuple[str, str | None]:
    me = current_principal()
    return me.actor, me.username


def ingest(session: Any) -> None:
    """Bring the conversation log up to date with the assistant's event stream."""
    result = conversation_log.ingest(session, services().redis, cipher=api_services().cipher)
    if result.events:
        log.info("conversations_ingested", events=result.events, messages=result.messages)



class PageIn(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000))
    per_page = Integer(load_default=20, validate=Range(min=1, max=MAX_PER_PAGE))


