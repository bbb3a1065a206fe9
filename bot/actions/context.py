"""Process-wide handles the actions share: settings, the runtime (database, Redis), the policy
catalogue. The runtime comes from the one builder (huimin.platform.runtime), which refuses
development secrets in production. Every handle is cached by what it is built from (the
runtime by its settings, the stores by their folder), so ``serving`` (a test's own database,
Redis or catalogue folder) gets fresh ones without any cache being cleared."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from functools import lru_cache
from pathlib import Path
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

_served: list[Settings] = []  # settings handed over by `serving`, innermost last


@lru_cache(maxsize=1)
def _loaded() -> Settings:
    return load_settings()


def settings() -> Settings:
    """The action server's settings: loaded once (its environment does not change while it
    runs), unless ``serving`` hands over others."""
    return _served[-1] if _served else _loaded()


@contextmanager
def serving(given: Settings) -> Iterator[Runtime]:
    """Serve the actions with ``given`` settings for a while, then with the previous ones; the
    runtime built for them is closed afterwards (its engine and Redis pool reconnect if the
    same settings are served again)."""
    _served.append(given)
    try:
        rt = runtime()
        try:
            yield rt
        finally:
            rt.close()
    finally:
        _served.pop()


@lru_cache(maxsize=1)
def _runtime_for(current: Settings) -> Runtime:
    # A fail-fast Redis client (short timeouts, no hidden retries): an action must answer
    # within Rasa's budget, and its callers degrade.
    return build_runtime(current, **fast_options(1.0))


def runtime() -> Runtime:
    """The action server's runtime for the current settings."""
    return _runtime_for(settings())


def database() -> Database:
    return runtime().db


@lru_cache(maxsize=2)
def _catalogue_store(folder: Path, rules_dir: Path) -> CatalogueStore:
    return CatalogueStore(folder, rules_dir)


def catalogue_store() -> CatalogueStore:
    """The catalogue store for the current settings' policy folder (its figures from the
    rules folder)."""
    current = settings()
    return _catalogue_store(current.policies_dir, current.benefits.rules_dir)


@lru_cache(maxsize=2)
def _referral_store(folder: Path) -> ReferralStore:
    return ReferralStore(folder)


def referral_store() -> ReferralStore:
    return _referral_store(settings().referrals_dir)


# The stores checked for edits during the current action-server request (None outside one:
# every call checks). An action asks for the catalogue and the referrals several times per
# message, and each check stats every policy, rule and referral file.
_checked: ContextVar[set[int] | None] = ContextVar("huimin_checked_stores", default=None)


@contextmanager
def one_request() -> Iterator[None]:
    """Within it (one action-server request: see bot.action_server) each live store is checked
    for edits once, on first use; an edit is still picked up on the next message."""
    token = _checked.set(set())
    try:
        yield
    finally:
        _checked.reset(token)


def _reload_once(store: CatalogueStore | ReferralStore) -> None:
    """`store.reload_if_changed()`, unless this request has checked it already."""
    checked = _checked.get()
    if checked is not None:
        if id(store) in checked:
            return
        checked.add(id(store))
    store.reload_if_changed()


def referrals() -> ReferralTable:
    """The live referral table (other departments' matters), reloaded when edited."""
    store = referral_store()
    _reload_once(store)
    return store.table


def catalogue() -> Catalogue:
    """The live catalogue: an edited policy file is picked up on the next message, and a bad
    edit leaves the last good catalogue serving (see CatalogueStore)."""
    store = catalogue_store()
    _reload_once(store)
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
    must build on what the previous answer was about. On a conversation's first question
    there is none: the value the NLU set from that same question is no previous answer (it
    made first questions look like follow-ups, skipping the resolver's checks)."""
    events = list(tracker.events)
    latest_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    if latest_user < 0:  # a tracker built from slots alone, without a conversation
        return tracker.get_slot(name)
    for event in reversed(events[:latest_user]):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None


def transcript(tracker: Tracker, limit: int = 20) -> list[dict]:
    """The conversation so far as {who, text} turns (user and bot messages only)."""
    turns = [
        {"who": "user" if e["event"] == "user" else "bot", "text": e.get("text") or ""}
        for e in tracker.events
        if e.get("event") in {"user", "bot"} and e.get("text")
    ]
    return turns[-limit:]
