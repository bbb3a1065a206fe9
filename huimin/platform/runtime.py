"""The runtime a process works with: settings, the database and Redis, built in one place.

Web, workers, cron and the action server each used to build their own; one builder keeps
the connection options and the clean-up in step, and runs the production start-up checks
(huimin.platform.production) so that no process starts with development secrets. A job
opens one per run (jobs run in forked work horses, so connections must not be shared
across runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from huimin.platform.db import Database
from huimin.platform.production import check_production
from huimin.platform.settings import Settings, load_settings


@dataclass(eq=False)  # one runtime is one set of connections: hashed by identity, a cache key
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis

    def close(self) -> None:
        """Release the pooled connections (the database engine and the Redis pool)."""
        self.db.dispose()
        self.redis.close()


def build_runtime(settings: Settings | None = None, **redis_options: object) -> Runtime:
    """Settings (from the environment unless given), a database and a Redis client; Redis
    connects lazily, so a job that never touches it opens no connection. With
    HUIMIN_ENV=production, weak, shipped or shared secrets stop the process here
    (ProductionConfigError), before anything connects."""
    settings = settings or load_settings()
    check_production(settings)
    conn = redis.Redis.from_url(settings.redis_url, **redis_options)
    return Runtime(settings, Database(settings.database_url, session_info={"redis": conn}), conn)


@contextmanager
def open_runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    """A runtime for one unit of work, closed afterwards."""
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()
