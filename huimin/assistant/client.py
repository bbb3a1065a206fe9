"""The narrow boundary to the NLU/dialogue engine (Rasa today), reached over HTTP only.

Everything the rest of the system knows about Rasa is in this module, so the engine could be
replaced by changing only this file and `bot/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from huimin.platform.settings import Settings


class AssistantUnavailable(Exception):
    """Rasa did not answer (down, slow or broken); callers fall back politely."""


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class BotMessage:
    text: str = ""
    image: str | None = None
    buttons: tuple[Button, ...] = ()
    custom: dict = field(default_factory=dict)


def _parse(item: dict) -> BotMessage:
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in item.get("buttons") or []
    )
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
    return BotMessage(
        text=str(item.get("text") or ""), image=item.get("image"), buttons=buttons, custom=custom
    )


class AssistantClient:
    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.base = settings.rasa_url.rstrip("/")
        self.token = settings.rasa_token
        self.http = session or requests.Session()

    def ask(self, sender_id: str, text: str, timeout: float) -> list[BotMessage]:
        """Send one user message and return the assistant's messages, in order.

        Each message goes on a connection of its own (``Connection: close``): Rasa's worker
        processes share one listening socket, and a kept-alive connection stays with the worker
        that accepted it, which left one worker with most of the load (py-spy, README); a new
        connection is taken by a worker that is free. It costs well under a millisecond."""
        try:
            resp = self.http.post(
                f"{self.base}/webhooks/rest/webhook",
                json={"sender": sender_id, "message": text},
                headers={"Connection": "close"},
                timeout=timeout,
            )
            resp.raise_for_status()
            data = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise AssistantUnavailable(str(exc)) from exc
        if not isinstance(data, list):
            raise AssistantUnavailable("unexpected response shape from the assistant")
        return [_parse(item) for item in data if isinstance(item, dict)]

    def is_ready(self, timeout: float = 2.0) -> bool:
        """True when the server is up with a model loaded."""
        try:
            resp = self.http.get(
                f"{self.base}/status", params={"token": self.token}, timeout=timeout
            )
            return resp.ok and bool(resp.json().get("model_file"))
        except (requests.RequestException, ValueError):
            return False
