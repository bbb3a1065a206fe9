"""Numbered choices: WeChat shows buttons as `回复 1：…` lines, the citizen replies "1".

The payloads behind the numbers are kept per user in Redis for a while; a reply that is just a
number (ASCII or full-width digits, or a Chinese numeral 一…十) maps back to that payload.
"""

from __future__ import annotations

import json
import re
import unicodedata

from huimin.wechat.safe_redis import SafeRedis

CHOICES_TTL = 1800
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9, "十": 10}
_CHOICE = re.compile(r"^(?:第)?(\d{1,2}|[一二两三四五六七八九十])(?:个|项|条|号)?$")
_TRIM = " \t\r\n。．.、，,！!？?）)（(：:"


def parse_choice(text: str) -> int | None:
    """The number in a reply like "2", "２", "二", "第2个", "2。"; None for anything else."""
    cleaned = unicodedata.normalize("NFKC", text).strip(_TRIM)
    match = _CHOICE.match(cleaned)
    if not match:
        return None
    token = match.group(1)
    number = int(token) if token.isdigit() else _NUMERALS[token]
    return number if number >= 1 else None


class ChoiceStore:
    def __init__(self, redis: SafeRedis, ttl: int = CHOICES_TTL) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def _key(sender: str) -> str:
        return f"huimin:wechat:choices:{sender}"

    def remember(self, sender: str, payloads: tuple[str, ...] | list[str]) -> None:
        """The latest answer's choices replace earlier ones; an answer without any clears them."""
        key = self._key(sender)
        if payloads:
            value = json.dumps(list(payloads), ensure_ascii=False)
            self.redis.get(lambda c: c.set(key, value, ex=self.ttl), None)
        else:
            self.redis.get(lambda c: c.delete(key), None)

    def resolve(self, sender: str, text: str) -> str | None:
        """The payload a numeric reply stands for, or None (send the text as typed)."""
        number = parse_choice(text)
        if number is None:
            return None
        raw = self.redis.get(lambda c: c.get(self._key(sender)), None)
        if not raw:
            return None
        payloads = json.loads(raw)
        return payloads[number - 1] if number <= len(payloads) else None
