"""Worker entry point: `python -m jobs.worker [worker|trainer]` serves that process's queues
(jobs.queues.WORKERS), most urgent first."""

from __future__ import annotations

import sys

import redis
from dotenv import load_dotenv
from rq import Worker

from huimin.platform.logs import configure_logging
from huimin.platform.settings import load_settings
from jobs.queues import WORKERS


def main(argv: list[str]) -> None:
    role = argv[0] if argv else "worker"
    if role not in WORKERS:
        sys.exit(f"unknown worker role {role!r}; expected one of {', '.join(WORKERS)}")
    load_dotenv()
    configure_logging()
    settings = load_settings()
    conn = redis.Redis.from_url(settings.redis_url)
    Worker(list(WORKERS[role]), connection=conn).work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
