"""Worker entry point: `python -m jobs.worker` listens on every queue, most urgent first."""

from __future__ import annotations

import redis
from dotenv import load_dotenv
from rq import Worker

from huimin.config import load_settings
from huimin.logs import configure_logging
from jobs.queues import QUEUE_NAMES


def main() -> None:
    load_dotenv()
    configure_logging()
    settings = load_settings()
    conn = redis.Redis.from_url(settings.redis_url)
    Worker(list(QUEUE_NAMES), connection=conn).work(with_scheduler=True)


if __name__ == "__main__":
    main()
