"""Step-by-step guides for older residents: data schema, loading, and the pure
conversation state machine that edges (Rasa actions, mini-program API) drive."""

from huimin.guides.loader import GuideStore, GuideValidationError, Problem, load_guides
from huimin.guides.messages import Command, Event, Message, Option
from huimin.guides.schema import END, MAX_STEP_CHARS, Check, CheckOption, Guide, Step
from huimin.guides.session import (
    RESUME_WINDOW,
    GuideSession,
    Intent,
    Reply,
    answer,
    care_mode_for,
    go_back,
    handle,
    human_handoff,
    interpret,
    next_step,
    repeat,
    start,
    stop,
)

__all__ = [
    "END",
    "MAX_STEP_CHARS",
    "RESUME_WINDOW",
    "Check",
    "CheckOption",
    "Command",
    "Event",
    "Guide",
    "GuideSession",
    "GuideStore",
    "GuideValidationError",
    "Intent",
    "Message",
    "Option",
    "Problem",
    "Reply",
    "Step",
    "answer",
    "care_mode_for",
    "go_back",
    "handle",
    "human_handoff",
    "interpret",
    "load_guides",
    "next_step",
    "repeat",
    "start",
    "stop",
]
