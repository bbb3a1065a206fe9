"""Process-wide handles the actions share: settings and the database."""

from __future__ import annotations

from functools import lru_cache

from dotenv import load_dotenv

from huimin.config import Settings, load_settings
from huimin.db import Database


@lru_cache(maxsize=1)
def settings() -> Settings:
    load_dotenv()
    return load_settings()


@lru_cache(maxsize=1)
def database() -> Database:
    return Database(settings().database_url)


def transcript(tracker, limit: int = 20) -> list[dict]:
    """The conversation so far as {who, text} turns (user and bot messages only)."""
    turns = [
        {"who": "user" if e["event"] == "user" else "bot", "text": e.get("text") or ""}
        for e in tracker.events
        if e.get("event") in {"user", "bot"} and e.get("text")
    ]
    return turns[-limit:]
