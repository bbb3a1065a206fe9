"""The guide conversation as a pure state machine.

Every operation takes the current `GuideSession` (or none), the guide and the time,
and returns a `Reply`: the new session plus the messages to send. Nothing is stored
here; the session round-trips through a JSON dict so it can live in Redis or a Rasa
slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from huimin.guides import render
from huimin.guides.messages import Command, Event, Message, Option
from huimin.guides.parse import command_word, match_words, parse_number
from huimin.guides.schema import END, Guide, Step

RESUME_WINDOW = timedelta(days=7)
CARE_MODE_AGE = 60
# Bounds the stored state when a resident goes round a help loop many times.
MAX_HISTORY = 50


class GuideSession(BaseModel):
    """Where a resident is in a guide. Immutable; operations return a new one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    guide_key: str
    step_id: str
    # Steps visited before the current one, for 上一步.
    history: tuple[str, ...] = ()
    started_at: AwareDatetime
    updated_at: AwareDatetime
    finished: bool = False
    # Left with 不办了 or 转人工: kept for the resume offer, but not taking replies.
    paused: bool = False
    # "上次做到第 N 步，继续吗？" is on screen.
    awaiting_resume: bool = False
    care_mode: bool = False

    @property
    def active(self) -> bool:
        """Whether the resident's next reply belongs to this guide."""
        return not self.finished and not self.paused

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuideSession:
        return cls.model_validate(data)

    def progress(self, guide: Guide) -> int:
        """The main step number the resident has reached (a help step counts as the
        main step it belongs to)."""
        for step_id in (self.step_id, *reversed(self.history)):
            if guide.has_step(step_id):
                number = guide.main_number(step_id)
                if number:
                    return number
        return 1


@dataclass(frozen=True)
class Reply:
    session: GuideSession
    messages: tuple[Message, ...]
    event: Event

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.value,
            "care_mode": self.session.care_mode,
            "session": self.session.to_dict(),
            "messages": [m.to_dict() for m in self.messages],
        }


@dataclass(frozen=True)
class Intent:
    """A resolved reply; `option` is the 0-based answer index for Command.ANSWER."""

    command: Command
    option: int | None = None


def care_mode_for(age: int | None, user_choice: bool | None, assisted: bool) -> bool:
    """Care mode when a grid worker assists; else the resident's own choice if they
    made one (they may turn it off); else on from age 60."""
    if assisted:
        return True
    if user_choice is not None:
        return user_choice
    return age is not None and age >= CARE_MODE_AGE


# ---- operations -------------------------------------------------------------------


def start(
    guide: Guide,
    *,
    previous: GuideSession | None = None,
    care_mode: bool = False,
    now: datetime | None = None,
) -> Reply:
    """Start a guide, or offer to resume `previous` if it is this guide, unfinished,
    past its first step and younger than 7 days."""
    now = _now(now)
    if previous is not None and _resumable(previous, guide, now):
        session = previous.model_copy(
            update={"awaiting_resume": True, "paused": False, "care_mode": care_mode}
        )
        return _reply(session, _prompt(session, guide), Event.RESUME_OFFERED)
    return _fresh(guide, care_mode, now)


def next_step(session: GuideSession, guide: Guide, now: datetime | None = None) -> Reply:
    return _dispatch(session, guide, Intent(Command.NEXT), _now(now))


def repeat(session: GuideSession, guide: Guide, now: datetime | None = None) -> Reply:
    return _dispatch(session, guide, Intent(Command.REPEAT), _now(now))


def go_back(session: GuideSession, guide: Guide, now: datetime | None = None) -> Reply:
    return _dispatch(session, guide, Intent(Command.BACK), _now(now))


def stop(session: GuideSession, guide: Guide, now: datetime | None = None) -> Reply:
    return _dispatch(session, guide, Intent(Command.STOP), _now(now))


def human_handoff(session: GuideSession, guide: Guide, now: datetime | None = None) -> Reply:
    """Pause the guide; the edge opens the hand-off ticket on Event.HANDOFF."""
    return _dispatch(session, guide, Intent(Command.HANDOFF), _now(now))


def answer(
    session: GuideSession, guide: Guide, choice: int | str, now: datetime | None = None
) -> Reply:
    """A reply to the numbered choices on screen: a check answer, 继续/重新开始, or a
    numbered command. Accepts 1, "1", "１", "一", and the option's words."""
    now = _now(now)
    blocked = _guard(session, guide, now)
    if blocked:
        return blocked
    intent = _from_menu(session, guide, str(choice))
    if intent is None:
        return _not_understood(session, guide)
    return _dispatch(session, guide, intent, now)


def handle(session: GuideSession, guide: Guide, text: str, now: datetime | None = None) -> Reply:
    """Any text (typed or voice-recognised) while the guide is active."""
    now = _now(now)
    blocked = _guard(session, guide, now)
    if blocked:
        return blocked
    intent = interpret(session, guide, text)
    if intent is None:
        return _not_understood(session, guide)
    return _dispatch(session, guide, intent, now)


def interpret(session: GuideSession, guide: Guide, text: str) -> Intent | None:
    """What `text` asks for at this point, without acting on it: the numbered menu
    first (digits and option words), then command words. None if unclear, so the
    edge can hand the text to the general assistant instead."""
    if not guide.has_step(session.step_id):
        return None
    return _from_menu(session, guide, text) or _from_command_word(session, text)


# ---- internals --------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _resumable(previous: GuideSession, guide: Guide, now: datetime) -> bool:
    return (
        previous.guide_key == guide.key
        and not previous.finished
        and not _stale(previous, guide)
        and now - previous.updated_at < RESUME_WINDOW
        and (bool(previous.history) or previous.step_id != guide.first_step.id)
    )


def _stale(session: GuideSession, guide: Guide) -> bool:
    """The guide was edited and the session's step no longer exists."""
    if session.guide_key != guide.key:
        raise ValueError(f"session is for guide '{session.guide_key}', not '{guide.key}'")
    return not guide.has_step(session.step_id)


def _guard(session: GuideSession, guide: Guide, now: datetime) -> Reply | None:
    """Replies for a session that can't take this input: paused/finished, or its step
    was removed when ops edited the guide (then start again)."""
    if not session.active:
        return _reply(session, [], Event.INACTIVE)
    if _stale(session, guide):
        return _fresh(guide, session.care_mode, now, render.GUIDE_CHANGED)
    return None


def _reply(session: GuideSession, messages: list[Message], event: Event) -> Reply:
    if session.care_mode and messages and event is not Event.HANDOFF:
        messages = render.with_closing(messages)
    return Reply(session, tuple(messages), event)


def _menu(session: GuideSession, guide: Guide) -> tuple[Option, ...]:
    return render.menu(guide, session.step_id, session.awaiting_resume)


def _prompt(session: GuideSession, guide: Guide, lead: str | None = None) -> list[Message]:
    """What is on screen now: the resume offer or the current step."""
    options = _menu(session, guide)
    if session.awaiting_resume:
        number = session.progress(guide)
        return [render.resume_offer(guide, number, options, session.care_mode, lead)]
    step = guide.step(session.step_id)
    return render.step_messages(guide, step, options, session.care_mode, lead)


def _fresh(guide: Guide, care_mode: bool, now: datetime, lead: str | None = None) -> Reply:
    session = GuideSession(
        guide_key=guide.key,
        step_id=guide.first_step.id,
        started_at=now,
        updated_at=now,
        care_mode=care_mode,
    )
    intro = render.intro(guide, care_mode)
    if lead:
        intro = Message((lead, *intro.lines))
    return _reply(session, [intro, *_prompt(session, guide)], Event.STARTED)


def _not_understood(session: GuideSession, guide: Guide) -> Reply:
    return _reply(session, _prompt(session, guide, render.NOT_UNDERSTOOD), Event.NOT_UNDERSTOOD)


def _from_menu(session: GuideSession, guide: Guide, text: str) -> Intent | None:
    options = _menu(session, guide)
    number = parse_number(text)
    if number is not None:
        if 1 <= number <= len(options):
            return _intent_for(options[number - 1])
        return None
    words: list[tuple[str, ...]] = [(o.label,) for o in options]
    step = guide.step(session.step_id)
    if step.check and not session.awaiting_resume:
        for i, option in enumerate(step.check.options):
            words[i] = (option.label, *option.aliases)
    index = match_words(text, words)
    return None if index is None else _intent_for(options[index])


def _intent_for(option: Option) -> Intent:
    if option.command is Command.ANSWER:
        return Intent(Command.ANSWER, option.number - 1)
    return Intent(option.command)


def _from_command_word(session: GuideSession, text: str) -> Intent | None:
    command = command_word(text)
    if command is None:
        return None
    if session.awaiting_resume and command is Command.NEXT:
        # "继续" on the resume offer already matched the menu; "好的" here is unclear.
        return None
    return Intent(command)


def _dispatch(session: GuideSession, guide: Guide, intent: Intent, now: datetime) -> Reply:
    blocked = _guard(session, guide, now)
    if blocked:
        return blocked
    command = intent.command
    if command is Command.STOP:
        paused = session.model_copy(
            update={"paused": True, "awaiting_resume": False, "updated_at": now}
        )
        return _reply(paused, [render.stopped(guide, session.care_mode)], Event.STOPPED)
    if command is Command.HANDOFF:
        paused = session.model_copy(
            update={"paused": True, "awaiting_resume": False, "updated_at": now}
        )
        return _reply(paused, [render.handoff()], Event.HANDOFF)
    if command is Command.RESTART:
        return _fresh(guide, session.care_mode, now)
    if command is Command.REPEAT:
        event = Event.RESUME_OFFERED if session.awaiting_resume else Event.STEP
        return _reply(session, _prompt(session, guide), event)
    if session.awaiting_resume:
        if command is Command.RESUME:
            resumed = session.model_copy(update={"awaiting_resume": False, "updated_at": now})
            return _reply(resumed, _prompt(resumed, guide, render.RESUMING), Event.RESUMED)
        return _not_understood(session, guide)
    step = guide.step(session.step_id)
    if command is Command.BACK:
        return _back(session, guide, now)
    if command is Command.ANSWER and step.check and intent.option is not None:
        return _move(session, guide, step, step.check.options[intent.option].goto, now)
    if command is Command.NEXT:
        if step.check:
            return _reply(session, _prompt(session, guide, render.ANSWER_FIRST), Event.REPROMPT)
        return _move(session, guide, step, guide.next_of(step), now)
    return _not_understood(session, guide)


def _move(session: GuideSession, guide: Guide, step: Step, target: str, now: datetime) -> Reply:
    history = (*session.history, step.id)[-MAX_HISTORY:]
    if target == END:
        done = session.model_copy(update={"finished": True, "history": history, "updated_at": now})
        message = render.finished(guide, completed=not step.help, care=session.care_mode)
        return _reply(done, [message], Event.FINISHED)
    moved = session.model_copy(update={"step_id": target, "history": history, "updated_at": now})
    return _reply(moved, _prompt(moved, guide), Event.STEP)


def _back(session: GuideSession, guide: Guide, now: datetime) -> Reply:
    history = [s for s in session.history if guide.has_step(s)]
    if not history:
        return _reply(session, _prompt(session, guide, render.AT_FIRST_STEP), Event.STEP)
    back = session.model_copy(
        update={"step_id": history[-1], "history": tuple(history[:-1]), "updated_at": now}
    )
    return _reply(back, _prompt(back, guide), Event.STEP)
