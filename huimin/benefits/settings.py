"""Settings of proactive benefit notices and pushes; `from_env` documents the variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from huimin.rules import DEFAULT_RULES_DIR

_HOURS = re.compile(r"^(\d{1,2})-(\d{1,2})$")


@dataclass(frozen=True)
class BenefitSettings:
    """How notices are pushed: template, rate limits, quiet hours, validity, schedule."""

    rules_dir: Path = DEFAULT_RULES_DIR
    # Mini-program subscribe-message template (registered in the WeChat console); its
    # fields: thing1 policy title, thing2 amount, thing3 hint.
    template_id: str = "benefit-notice"
    notice_page: str = "pages/notices/detail"
    pushes_per_minute: int = 600  # across the service (WeChat's API quota is per app)
    pushes_per_resident_per_day: int = 2  # more notices wait for the next day
    quiet_start: int = 21  # no pushes from 21:00 ...
    quiet_end: int = 8  # ... to 08:00, local time
    timezone: str = "Asia/Shanghai"
    notice_valid_days: int = 90  # an unanswered notice expires after this
    # Batch matching, crontab in UTC (RQ's clock): 18:30 UTC is 02:30 in Beijing.
    nightly_cron: str = "30 18 * * *"
    rules_check_seconds: int = 300  # how often rule files are checked for a new version

    def __post_init__(self) -> None:
        if self.pushes_per_minute < 1 or self.pushes_per_resident_per_day < 1:
            raise ValueError("BENEFIT_PUSHES_PER_MINUTE and _PER_RESIDENT_PER_DAY must be >= 1")
        if not (0 <= self.quiet_start <= 23 and 0 <= self.quiet_end <= 23):
            raise ValueError("BENEFIT_QUIET_HOURS must be two hours 0-23, e.g. 21-8")
        if self.notice_valid_days < 1:
            raise ValueError("BENEFIT_NOTICE_VALID_DAYS must be >= 1")

    def quiet(self, hour: int) -> bool:
        """Is this local hour inside the quiet period (which may wrap past midnight)?"""
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= hour < self.quiet_end
        return hour >= self.quiet_start or hour < self.quiet_end

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenefitSettings:
        """RULES_DIR (default rules/), BENEFIT_TEMPLATE_ID, BENEFIT_NOTICE_PAGE,
        BENEFIT_PUSHES_PER_MINUTE (600), BENEFIT_PUSHES_PER_RESIDENT_PER_DAY (2),
        BENEFIT_QUIET_HOURS ("21-8"; "0-0" for none), BENEFIT_TIMEZONE (Asia/Shanghai),
        BENEFIT_NOTICE_VALID_DAYS (90), BENEFIT_NIGHTLY_CRON ("30 18 * * *", UTC),
        BENEFIT_RULES_CHECK_SECONDS (300)."""
        env = os.environ if environ is None else environ
        d = cls()

        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            try:
                return int(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name}: expected a whole number, got {raw!r}") from None

        quiet = text("BENEFIT_QUIET_HOURS", f"{d.quiet_start}-{d.quiet_end}")
        match = _HOURS.match(quiet)
        if not match:
            raise ValueError(f"BENEFIT_QUIET_HOURS: expected e.g. 21-8, got {quiet!r}")
        return cls(
            rules_dir=Path(text("RULES_DIR", str(d.rules_dir))),
            template_id=text("BENEFIT_TEMPLATE_ID", d.template_id),
            notice_page=text("BENEFIT_NOTICE_PAGE", d.notice_page),
            pushes_per_minute=number("BENEFIT_PUSHES_PER_MINUTE", d.pushes_per_minute),
            pushes_per_resident_per_day=number(
                "BENEFIT_PUSHES_PER_RESIDENT_PER_DAY", d.pushes_per_resident_per_day
            ),
            quiet_start=int(match.group(1)),
            quiet_end=int(match.group(2)),
            timezone=text("BENEFIT_TIMEZONE", d.timezone),
            notice_valid_days=number("BENEFIT_NOTICE_VALID_DAYS", d.notice_valid_days),
            nightly_cron=text("BENEFIT_NIGHTLY_CRON", d.nightly_cron),
            rules_check_seconds=number("BENEFIT_RULES_CHECK_SECONDS", d.rules_check_seconds),
        )
