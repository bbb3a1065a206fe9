"""Push timing (quiet hours, per-minute and per-resident limits, spread-out slots) and settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from huimin.benefits.push import Message, PushLimiter
from huimin.platform.settings import BenefitSettings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=SHANGHAI)


def test_quiet_hours_defer_to_the_morning_in_spread_slots(redis_conn):
    limiter = PushLimiter(redis_conn, BenefitSettings(pushes_per_minute=2))
    first = limiter.wait_until(1, at(23, 30))
    second = limiter.wait_until(2, at(23, 40))
    third = limiter.wait_until(3, at(2, 0, day=11))
    assert first == at(8, 0, day=11)
    assert second == first + timedelta(seconds=30)  # two per minute: half a minute apart
    assert third == first + timedelta(seconds=60)
    assert limiter.wait_until(4, at(9, 0)) is None  # daytime: go now


def test_per_resident_and_per_minute_limits(redis_conn):
    limiter = PushLimiter(redis_conn, BenefitSettings(pushes_per_minute=3,
                                                      pushes_per_resident_per_day=2))
    now = at(10, 15)
    assert limiter.wait_until(1, now) is None
    assert limiter.wait_until(1, now) is None
    assert limiter.wait_until(1, now) == at(8, 0, day=11)  # third today: tomorrow
    assert limiter.wait_until(2, now) is None  # the refused one was not counted
    later = limiter.wait_until(3, now)
    assert later == at(10, 16)  # the minute is full: next minute
    limiter.release(2, now)  # a push that did not go out gives its place back
    assert limiter.wait_until(4, now) is None


def test_message_texts_are_short_and_use_the_given_title_and_amount():
    message = Message(7, "城乡居民基本养老保险待遇领取资格确认提醒", "10000元")
    data = message.subscribe_data()
    assert all(len(item["value"]) <= 20 for item in data.values())
    assert data["thing2"]["value"] == "10000元"
    assert "一键确认" in message.text() and "10000元" in message.text()
    assert Message(7, "高龄津贴", None).subscribe_data()["thing2"]["value"] == "以审核结果为准"


def test_settings_from_env_and_plain_errors():
    s = BenefitSettings.from_env({"BENEFIT_QUIET_HOURS": "22-7", "BENEFIT_PUSHES_PER_MINUTE": "5"})
    assert (s.quiet_start, s.quiet_end, s.pushes_per_minute) == (22, 7, 5)
    assert s.quiet(23) and s.quiet(3) and not s.quiet(7) and not s.quiet(12)
    assert not BenefitSettings.from_env({"BENEFIT_QUIET_HOURS": "0-0"}).quiet(3)
    with pytest.raises(ValueError, match="BENEFIT_QUIET_HOURS"):
        BenefitSettings.from_env({"BENEFIT_QUIET_HOURS": "night"})
    with pytest.raises(ValueError, match="BENEFIT_PUSHES_PER_MINUTE: expected a whole number"):
        BenefitSettings.from_env({"BENEFIT_PUSHES_PER_MINUTE": "lots"})
