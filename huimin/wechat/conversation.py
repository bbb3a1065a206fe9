"""One citizen message in, the assistant's answer out, whatever the channel.

The WeChat channel calls this: it asks the assistant, renders its buttons as numbered lines
(WeChat's chat window has no buttons) and remembers, across processes, when the assistant is
failing so callers can answer politely at once instead of waiting on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.client import Pipeline

from huimin.assistant.client import AssistantClient, AssistantUnavailable, BotMessage
from huimin.wechat.safe_redis import SafeRedis

FALLBACK_TEXT = (
    "抱歉，助手现在有点忙，没能及时回答。您的问题已记下，稍后回复您。"
    "着急可拨打 12333 人工咨询（工作日 9:00-17:00）。"
)


@dataclass(frozen=True)
class Rendered:
    """The answer as WeChat text, and the button payloads behind its numbered lines."""

    text: str
    payloads: tuple[str, ...] = ()


def render(messages: list[BotMessage] | tuple[BotMessage, ...]) -> Rendered:
    """Buttons become `回复 N：title` lines, numbered across the whole answer so N is unique."""
    parts: list[str] = []
    payloads: list[str] = []
    for msg in messages:
        lines = [msg.text] if msg.text else []
        for button in msg.buttons:
            payloads.append(button.payload or button.title)
            lines.append(f"回复 {len(payloads)}：{button.title}")
        if lines:
            parts.append("\n".join(lines))
    return Rendered(text="\n\n".join(parts), payloads=tuple(payloads))


def ask(client: AssistantClient, sender_id: str, text: str, timeout: float) -> Rendered:
    """Ask the assistant; raises AssistantUnavailable when it does not answer in `timeout`,
    and when it answers with nothing to say.

    Every question deserves an answer, so an empty one is a failure, not a silence: Rasa's REST
    channel answers an empty list when its lock store (Redis) times out, when the action server
    fails, or on any other error while handling the message."""
    rendered = render(client.ask(sender_id, text, timeout=timeout))
    if not rendered.text.strip():
        raise AssistantUnavailable("the assistant answered with no message")
    return rendered


class AssistantHealth:
    """A failing assistant, remembered for a short while in Redis (shared by web and worker).

    While it is marked down the callback answers with the apology at once and queues the
    question; the queue's job keeps asking and clears the mark when the assistant answers.
    """

    KEY = "huimin:assistant:unavailable"

    def __init__(self, redis: SafeRedis, hold_seconds: float = 15.0) -> None:
        self.redis = redis
        self.hold_ms = int(hold_seconds * 1000)

    def failed(self) -> None:
        self.redis.get(lambda c: c.set(self.KEY, str(time.time()), px=self.hold_ms), None)

    def recovered(self) -> None:
        self.redis.get(lambda c: c.delete(self.KEY), None)

    def is_down(self) -> bool:
        return bool(self.redis.get(lambda c: c.exists(self.KEY), 0))

    def is_down_on(self, pipe: Pipeline) -> None:
        """Queue `is_down`'s read on a pipeline (its result: non-zero when down)."""
        pipe.exists(self.KEY)
