"""Driving a guide conversation over stored sessions: the one entry point for the edges.

The Rasa actions (a resident in WeChat) and the grid-worker API (a grid worker reading the
steps out to a resident) both call `GuideService`; it loads the conversation's session,
runs the pure state machine (`huimin.guides.session`) and stores the result.

"Coming back" is decided here: a resident who returns after a break (longer than
`IDLE_RESUME`) and says 下一步 is first asked "上次做到第 N 步，继续吗？" instead of being
moved on from a step they may no longer have on their phone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from huimin.guides import render
from huimin.guides import session as machine
from huimin.guides.loader import GuideStore
from huimin.guides.messages import Command, Event
from huimin.guides.schema import Guide
from huimin.guides.session import RESUME_WINDOW, GuideSession, Reply
from huimin.guides.storage import SessionStore

IDLE_RESUME = timedelta(minutes=30)

_COMMANDS: dict[Command, Callable[..., Reply]] = {
    Command.NEXT: machine.next_step,
    Command.REPEAT: machine.repeat,
    Command.BACK: machine.go_back,
    Command.STOP: machine.stop,
    Command.HANDOFF: machine.human_handoff,
}
# Commands that move the resident on; after a break they get the resume offer first.
_MOVING = frozenset({Command.NEXT, Command.BACK, Command.ANSWER})


class UnknownGuide(LookupError):
    """No guide with this key (never was, or ops removed it)."""


@dataclass(frozen=True)
class Turn:
    guide: Guide
    reply: Reply

    @property
    def event(self) -> Event:
        return self.reply.event

    def to_dict(self) -> dict:
        return {"guide": {"key": self.guide.key, "title": self.guide.title},
                **self.reply.to_dict()}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=4)
def guide_store(directory: Path) -> GuideStore:
    """One store per guides folder and process; edited files are picked up per request."""
    return GuideStore(directory)


class GuideService:
    def __init__(
        self,
        guides: GuideStore,
        sessions: SessionStore,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.guides = guides
        self.sessions = sessions
        self.clock = clock

    def guide(self, key: str) -> Guide:
        self.guides.reload_if_changed()
        guide = self.guides.get(key)
        if guide is None:
            raise UnknownGuide(key)
        return guide

    def listing(self) -> list[Guide]:
        """Every guide, in a stable order (the files' keys)."""
        self.guides.reload_if_changed()
        return [self.guides.guides[k] for k in sorted(self.guides.guides)]

    # ---- starting and coming back ------------------------------------------------------------

    def start(self, conversation: str, key: str, *, care_mode: bool) -> Turn:
        """Start `key`, or offer to go on where this conversation left it (within 7 days)."""
        guide = self.guide(key)
        now = self.clock()
        previous = self.sessions.load(conversation, key)
        if previous is not None and not guide.has_step(previous.step_id):
            previous = None  # ops removed the step: start afresh
        return self._keep(conversation, guide, machine.start(
            guide, previous=previous, care_mode=care_mode, now=now))

    def resumable(self, conversation: str) -> tuple[Guide, GuideSession] | None:
        """The guide this conversation left unfinished in the last 7 days, if any."""
        session = self.sessions.current(conversation)
        if session is None or session.finished:
            return None
        guide = self.guides.get(session.guide_key)
        if guide is None or not guide.has_step(session.step_id):
            return None
        if self.clock() - session.updated_at >= RESUME_WINDOW:
            return None
        return guide, session

    def offer_resume(self, conversation: str, *, care_mode: bool) -> Turn | None:
        """For "办事指引" without naming a guide: the offer for the unfinished one, if any."""
        found = self.resumable(conversation)
        if found is None:
            return None
        guide, session = found
        if not session.history and session.step_id == guide.first_step.id:
            return None  # nothing done yet: nothing to resume
        return self.start(conversation, guide.key, care_mode=care_mode)

    # ---- one message inside a guide --------------------------------------------------------

    def active(self, conversation: str, key: str | None = None) -> GuideSession | None:
        """The session replies go to: unfinished and not left with 不办了/转人工."""
        session = (self.sessions.load(conversation, key) if key
                   else self.sessions.current(conversation))
        return session if session is not None and session.active else None

    def step(
        self,
        conversation: str,
        *,
        key: str | None = None,
        text: str | None = None,
        command: Command | None = None,
        choice: int | None = None,
        care_mode: bool | None = None,
    ) -> Turn | None:
        """Act on one reply in the conversation's guide (`key`, or the one touched last).

        `choice`: a number picked from the menu on screen (a button); `text`: what the
        resident typed or said, read against the menu and the command words first;
        `command`: what the general assistant understood, used when the text alone is
        unclear. None when there is no guide to continue (the edge answers otherwise).
        """
        session = self.sessions.load(conversation, key) if key else self.sessions.current(
            conversation)
        if session is None or session.finished:
            return None
        guide = self.guides.get(session.guide_key)
        if guide is None:
            return None
        if care_mode is not None and care_mode != session.care_mode:
            session = session.model_copy(update={"care_mode": care_mode})
        now = self.clock()
        if not session.active:
            if command is Command.HANDOFF:
                return None  # already left the guide: the edge hands over as usual
            if command is Command.STOP:
                return self._keep(conversation, guide, machine.stop(
                    session.model_copy(update={"paused": False}), guide, now))
            # Left with 不办了 / 转人工 and now a step command: offer to go on.
            if now - session.updated_at >= RESUME_WINDOW:
                return None
            return self._keep(conversation, guide, machine.start(
                guide, previous=session, care_mode=session.care_mode, now=now))
        wanted = self._intent(session, guide, text, command, choice)
        if (
            wanted in _MOVING
            and not session.awaiting_resume
            and now - session.updated_at >= IDLE_RESUME
        ):
            return self._keep(conversation, guide, machine.start(
                guide, previous=session, care_mode=session.care_mode, now=now))
        if choice is not None:
            reply = machine.answer(session, guide, choice, now)
        elif text is not None and machine.interpret(session, guide, text) is not None:
            reply = machine.handle(session, guide, text, now)
        elif command in _COMMANDS:
            reply = _COMMANDS[command](session, guide, now)
        else:
            reply = machine.handle(session, guide, text or "", now)
        return self._keep(conversation, guide, reply)

    @staticmethod
    def _intent(
        session: GuideSession,
        guide: Guide,
        text: str | None,
        command: Command | None,
        choice: int | None,
    ) -> Command | None:
        if choice is not None:
            options = render.menu(guide, session.step_id, session.awaiting_resume)
            return options[choice - 1].command if 1 <= choice <= len(options) else None
        if text is not None:
            intent = machine.interpret(session, guide, text)
            if intent is not None:
                return intent.command
        return command

    def _keep(self, conversation: str, guide: Guide, reply: Reply) -> Turn:
        if reply.event is Event.FINISHED:
            self.sessions.discard(conversation, guide.key)
        elif reply.event is not Event.INACTIVE:
            # updated_at is the last time the resident did anything: the 7 days and the
            # break before the resume offer both count from there.
            self.sessions.save(
                conversation, reply.session.model_copy(update={"updated_at": self.clock()}))
        return Turn(guide, reply)
