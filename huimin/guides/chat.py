"""Guides in the chat (WeChat official account, through Rasa): turning the assistant's
understanding of a message into a guide step, and a guide reply into chat messages.

The Rasa actions (bot/actions/guides.py) are a thin shell around `GuideChat`. Numbered
choices become buttons whose payloads are Rasa intents (`/next_step`, and
`/guide_answer{"guide_choice":"2"}` for an answer), so a digit typed in WeChat maps back
to them (huimin.wechat.choices); words and voice-recognised text are read against the step's menu
first, then the assistant's intent is used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from huimin.guides import care
from huimin.guides.messages import Command, Event, Message
from huimin.guides.parse import normalize
from huimin.guides.schema import Guide
from huimin.guides.service import GuideService, Turn, UnknownGuide
from huimin.platform.db import Database
from huimin.wechat.models import WechatUser

log = logging.getLogger(__name__)

GUIDE_ANSWER = "guide_answer"
GUIDE_CHOICE = "guide_choice"
# Rasa intents of the guide commands.
INTENT_COMMANDS: dict[str, Command] = {
    "next_step": Command.NEXT,
    "repeat": Command.REPEAT,
    "go_back": Command.BACK,
    "stop": Command.STOP,
    "human_handoff": Command.HANDOFF,
}
COMMAND_INTENTS = {command: intent for intent, command in INTENT_COMMANDS.items()}

PICK_A_GUIDE = "我可以一步一步教您办这些事。您想办哪一件？"
UNKNOWN_GUIDE = "这件事还没有一步一步的指引。下面这些可以教您："
STORAGE_DOWN = "抱歉，系统有点忙，请稍后再发一次。着急可以打 12333。"
STOPPED_NO_GUIDE = "好的，先不办了。有需要随时找我。"


@dataclass(frozen=True)
class ChatMessage:
    text: str
    # (title, payload) pairs: WeChat shows them as numbered lines, the mini-program as buttons.
    buttons: tuple[tuple[str, str], ...] = ()
    image: str | None = None


@dataclass(frozen=True)
class ChatAnswer:
    messages: list[ChatMessage] = field(default_factory=list)
    # Replies go to the guide (a step or a numbered choice is on screen).
    guide_active: bool = False
    # The resident asked for a person: the edge opens the hand-off as usual.
    handoff: bool = False
    # No guide took the message: the edge answers it as it would without guides.
    unhandled: bool = False


def answer_payload(number: int) -> str:
    return f"/{GUIDE_ANSWER}" + json.dumps({GUIDE_CHOICE: str(number)}, separators=(",", ":"))


def start_payload(key: str) -> str:
    return "/start_guide" + json.dumps({"guide": key}, separators=(",", ":"))


def render(messages: tuple[Message, ...]) -> list[ChatMessage]:
    """Each guide message as chat text and buttons; care mode's closing line goes last."""
    out: list[ChatMessage] = []
    for message in messages:
        buttons = tuple(
            (o.label, f"/{COMMAND_INTENTS[o.command]}" if o.command in COMMAND_INTENTS
             else answer_payload(o.number))
            for o in message.options
        )
        image = message.image if message.image and message.image.startswith(
            ("http://", "https://")) else None
        out.append(ChatMessage("\n".join(message.lines), buttons, image))
        if message.footer:
            out.append(ChatMessage(message.footer))
    return out


def _choice(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 1 else None


class GuideChat:
    def __init__(self, service: GuideService, db: Database) -> None:
        self.service = service
        self.db = db

    def care_mode(self, sender: str, today: date | None = None) -> bool:
        """For the resident behind this chat: 60+ by birth date, or their own choice. The
        guide goes on (in the normal wording) when the database cannot be read."""
        try:
            with self.db.session() as session:
                user = session.scalar(select(WechatUser).where(WechatUser.pseudonym == sender))
                if user is None or user.resident_id is None:
                    return False
                return care.resolve(session, resident_id=user.resident_id, today=today).enabled
        except SQLAlchemyError:
            log.warning("care mode unknown for %s: database unavailable", sender)
            return False

    def guide_named(self, text: str) -> Guide | None:
        """A guide whose title is in the text (the assistant found no `guide` entity)."""
        norm = normalize(text)
        found = [g for g in self.service.listing() if normalize(g.title) in norm]
        return found[0] if len(found) == 1 else None

    def menu(self, lead: str = PICK_A_GUIDE) -> ChatAnswer:
        buttons = tuple((g.title, start_payload(g.key)) for g in self.service.listing())
        return ChatAnswer([ChatMessage(lead, buttons)])

    def start(self, sender: str, key: str | None, text: str = "") -> ChatAnswer:
        """`start_guide`: the named guide (or the offer to go on with an unfinished one, or
        the list of guides when none is named)."""
        care_mode = self.care_mode(sender)
        if key is None:
            named = self.guide_named(text)
            key = named.key if named else None
        if key is None:
            offer = self.service.offer_resume(sender, care_mode=care_mode)
            return self._answer(offer) if offer else self.menu()
        try:
            return self._answer(self.service.start(sender, key, care_mode=care_mode))
        except UnknownGuide:
            return self.menu(UNKNOWN_GUIDE)

    def reply(
        self, sender: str, intent: str | None, text: str | None, choice: object = None
    ) -> ChatAnswer:
        """Any message that may belong to a guide: a command, a numbered answer, or words
        (answers in words, voice). `unhandled` when no guide is waiting for it."""
        number = _choice(choice) if choice is not None else None
        typed = None if (text or "").startswith("/") else text  # a button's payload
        turn = self.service.step(
            sender, text=typed, command=INTENT_COMMANDS.get(intent or ""), choice=number,
            care_mode=self.care_mode(sender),
        )
        if turn is None:
            return ChatAnswer(handoff=intent == "human_handoff", unhandled=True)
        return self._answer(turn)

    @staticmethod
    def _answer(turn: Turn) -> ChatAnswer:
        session = turn.reply.session
        if turn.event is Event.HANDOFF:
            # The edge's hand-off says what happens next; the guide waits to be resumed.
            return ChatAnswer(handoff=True)
        return ChatAnswer(render(turn.reply.messages), guide_active=session.active)
