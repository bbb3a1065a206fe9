"""Process-wide handles the actions share: settings, the runtime (database, Redis), the policy
catalogue. The runtime comes from the one builder (huimin.platform.runtime), which refuses
development secrets in production; handles built on it are cached per runtime, so a test that
points the actions at its own database and Redis (clearing ``settings`` and ``database``) gets
fresh ones without clearing each module's cache."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from huimin.catalogue import Catalogue, CatalogueStore
from huimin.catalogue.answers import Reply
from huimin.catalogue.referrals import ReferralStore, ReferralTable
from huimin.platform.db import Database
from huimin.platform.runtime import Runtime, build_runtime
from huimin.platform.settings import Settings, load_settings
from huimin.wechat.safe_redis import fast_options


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


@lru_cache(maxsize=1)
def _runtime_for(current: Settings) -> Runtime:
    # A fail-fast Redis client (short timeouts, no hidden retries): an action must answer
    # within Rasa's budget, and its callers degrade.
    return build_runtime(current, **fast_options(1.0))


def runtime() -> Runtime:
    """The action server's runtime for the current settings."""
    return _runtime_for(settings())


@lru_cache(maxsize=1)
def database() -> Database:
    return runtime().db


@lru_cache(maxsize=1)
def catalogue_store() -> CatalogueStore:
    return CatalogueStore(settings().policies_dir)


@lru_cache(maxsize=1)
def referral_store() -> ReferralStore:
    return ReferralStore(settings().referrals_dir)


def referrals() -> ReferralTable:
    """The live referral table (other departments' matters), reloaded when edited."""
    store = referral_store()
    store.reload_if_changed()
    return store.table


def catalogue() -> Catalogue:
    """The live catalogue: an edited policy file is picked up on the next message, and a bad
    edit leaves the last good catalogue serving (see CatalogueStore)."""
    store = catalogue_store()
    store.reload_if_changed()
    return store.catalogue


def today() -> date:
    return date.today()


def utter(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    dispatcher.utter_message(text=reply.text, buttons=reply.buttons())


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    """Values of one entity in the latest message, in order, without repeats."""
    values: list[str] = []
    for item in tracker.latest_message.get("entities") or []:
        value = item.get("value")
        if item.get("entity") == entity and isinstance(value, str) and value not in values:
            values.append(value)
    return values


def previous_slot(tracker: Tracker, name: str) -> Any:
    """The slot's value before the latest message: the NLU's entity mapping may already have
    overwritten it with a stray span ("那创业补贴呢" tags "那" as an aspect), and follow-ups
    must build on what the previous answer was about."""
    events = list(tracker.events)
    latest_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    for event in reversed(events[: max(latest_user, 0)]):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return tracker.get_slot(name)  # no history (values are checked against the catalogue)


def transcript(tracker: Tracker, limit: int = 20) -> list[dict]:
    """The conversation so far as {who, text} turns (user and bot messages only)."""
    turns = [
        {"who": "user" if e["event"] == "user" else "bot", "text": e.get("text") or ""}
        for e in tracker.events
        if e.get("event") in {"user", "bot"} and e.get("text")
    ]
    return turns[-limit:]
