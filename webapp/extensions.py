"""Per-app singletons (database, Redis, assistant client), stored on `app.extensions`."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from huimin.assistant.client import AssistantClient
from huimin.platform import schema as _models  # noqa: F401 - every mapper configured up front
from huimin.platform.db import Database
from huimin.platform.runtime import build_runtime
from huimin.platform.settings import Settings
from huimin.wechat.safe_redis import fast_options


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: redis.Redis
    assistant: AssistantClient


def init_app(app: Flask, settings: Settings) -> None:
    # Short Redis timeouts and no hidden retries: a request must not hang on Redis (the
    # channel degrades instead).
    rt = build_runtime(settings, **fast_options())
    app.extensions["huimin"] = Services(
        settings=rt.settings, db=rt.db, redis=rt.redis, assistant=AssistantClient(settings)
    )


def services() -> Services:
    return current_app.extensions["huimin"]
