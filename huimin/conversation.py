"""One citizen message in, the assistant's answer out, whatever the channel.

The WeChat handler and the simulator call this; it asks the assistant within a time budget and
falls back to a polite answer naming the 12333 hotline when the assistant cannot answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from huimin.assistant import AssistantClient, AssistantUnavailable, BotMessage

FALLBACK_TEXT = (
    "抱歉，助手现在有点忙，没能及时回答。您的问题已记下，稍后回复您。"
    "着急可拨打 12333 人工咨询（工作日 9:00-17:00）。"
)


@dataclass(frozen=True)
class Answer:
    text: str
    messages: tuple[BotMessage, ...]
    degraded: bool  # True when the assistant did not answer and the fallback was used


def render_text(messages: list[BotMessage] | tuple[BotMessage, ...]) -> str:
    """WeChat has no buttons in the chat window: buttons become numbered lines."""
    parts: list[str] = []
    for msg in messages:
        lines = [msg.text] if msg.text else []
        lines += [f"回复 {i}：{b.title}" for i, b in enumerate(msg.buttons, start=1)]
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def answer(client: AssistantClient, sender_id: str, text: str, budget: float) -> Answer:
    try:
        messages = client.ask(sender_id, text, timeout=budget)
    except AssistantUnavailable:
        return Answer(text=FALLBACK_TEXT, messages=(), degraded=True)
    return Answer(text=render_text(messages), messages=tuple(messages), degraded=False)
