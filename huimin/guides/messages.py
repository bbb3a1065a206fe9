"""Outgoing messages as plain data, so every edge (WeChat text, mini-program buttons,
a grid worker reading aloud) can present them its own way."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Command(StrEnum):
    """What a resident's reply asks for; also the action behind a numbered option."""

    NEXT = "next_step"
    REPEAT = "repeat"
    BACK = "go_back"
    STOP = "stop"
    HANDOFF = "human_handoff"
    ANSWER = "answer"
    RESUME = "resume"
    RESTART = "restart"


# Options that answer the question on screen (listed first, before the commands).
ANSWER_COMMANDS = frozenset({Command.ANSWER, Command.RESUME, Command.RESTART})


class Event(StrEnum):
    """What happened, for the edge: e.g. HANDOFF means open a ticket for a person."""

    STARTED = "started"
    RESUME_OFFERED = "resume_offered"
    RESUMED = "resumed"
    STEP = "step"
    REPROMPT = "reprompt"
    NOT_UNDERSTOOD = "not_understood"
    FINISHED = "finished"
    STOPPED = "stopped"
    HANDOFF = "handoff"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class Option:
    number: int
    label: str
    command: Command

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "label": self.label, "command": self.command.value}


@dataclass(frozen=True)
class Message:
    """One chat message: text lines, numbered options, an optional picture.

    `one_per_line` puts each option on its own line (care mode); `footer` is a
    last line after the options (care mode's "how to get a person").
    """

    lines: tuple[str, ...]
    options: tuple[Option, ...] = ()
    image: str | None = None
    one_per_line: bool = False
    footer: str | None = None

    @property
    def text(self) -> str:
        """The message as one plain-text chat bubble."""
        out = list(self.lines)
        if self.options:
            if self.one_per_line:
                out.append("请回复数字：")
                out.extend(f"{o.number} {o.label}" for o in self.options)
            else:
                answers = [o for o in self.options if o.command in ANSWER_COMMANDS]
                commands = [o for o in self.options if o.command not in ANSWER_COMMANDS]
                for group in (answers, commands):
                    if group:
                        out.append("  ".join(f"{o.number} {o.label}" for o in group))
        if self.footer:
            out.append(self.footer)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "lines": list(self.lines),
            "options": [o.to_dict() for o in self.options],
            "image": self.image,
            "footer": self.footer,
        }
