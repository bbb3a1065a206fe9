"""Per-app singletons (database, Redis, assistant client), stored on `app.extensions`."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from huimin.assistant.client import AssistantClient
from huimin.platform import schema as _models  # noqa: F401 - every mapper configured up front
from huimin.platform.config import Settings
from huimin.platform.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: redis.Redis
    assistant: AssistantClient


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["huimin"] = Services(
        settings=settings,
        db=Database(settings.database_url),
        redis=redis.Redis.from_url(
            settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
        ),
        assistant=AssistantClient(settings),
    )


def services() -> Services:
    return current_app.extensions["huimin"]
