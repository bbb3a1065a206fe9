"""Process-wide handles the actions share: settings, the database, the policy catalogue."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from dotenv import load_dotenv
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from huimin.catalogue import Catalogue, CatalogueStore
from huimin.catalogue.answers import Reply
from huimin.platform.db import Database
from huimin.platform.settings import Settings, load_settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    load_dotenv()
    return load_settings()


@lru_cache(maxsize=1)
def database() -> Database:
    return Database(settings().database_url)


@lru_cache(maxsize=1)
def catalogue_store() -> CatalogueStore:
    return CatalogueStore(settings().policies_dir)


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


def transcript(tracker: Tracker, limit: int = 20) -> list[dict]:
    """The conversation so far as {who, text} turns (user and bot messages only)."""
    turns = [
        {"who": "user" if e["event"] == "user" else "bot", "text": e.get("text") or ""}
        for e in tracker.events
        if e.get("event") in {"user", "bot"} and e.get("text")
    ]
    return turns[-limit:]
