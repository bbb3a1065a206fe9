"""Structured JSON logging shared by every process (web, worker, action server, CLI).

Every event passes through the personal-data mask last, after tracebacks are rendered, so
ID numbers and phone numbers never reach a log line.
"""

from __future__ import annotations

import logging
import sys

import structlog

from huimin.privacy.masking import PiiMaskingFilter, mask_structlog_event


class _Stderr:
    """Whatever sys.stderr is at write time (it is swapped by test runners and daemons)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO") -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_structlog_event,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),
        cache_logger_on_first_use=False,  # reconfigurable (tests, CLI after app start)
    )
    # Libraries log through the standard library: mask those records at the handler too.
    root = logging.getLogger()
    if not any(isinstance(f, PiiMaskingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler(_Stderr())
        handler.addFilter(PiiMaskingFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
