"""A guide in assisted mode: the grid worker reads the steps out to the resident.

The session lives under its own conversation id (``grid:<staff>:<resident>``), separate from
the resident's own chat, and is always in care mode. Every call checks the ``guide``
consent again, so a withdrawal stops the grid worker at the next step. Starting, finishing
and leaving the guide are audited; the resident is told when a grid worker starts one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from huimin.grid import notify
from huimin.grid.access import GridDenied, authorize
from huimin.grid.actions import Done, record
from huimin.guides.messages import Command, Event
from huimin.guides.service import GuideService, Turn, UnknownGuide
from huimin.privacy import consent

UNKNOWN_GUIDE = (404, "unknown_guide", "没有这个办事指引")
NO_SESSION = (409, "no_guide_session", "还没有开始这个办事指引")
_ENDINGS = {Event.FINISHED: "grid.guide.finish", Event.STOPPED: "grid.guide.stop",
            Event.HANDOFF: "grid.guide.stop"}


def conversation_id(staff_id: int, resident_id: int) -> str:
    return f"grid:{staff_id}:{resident_id}"


def start(
    session: Session,
    guides: GuideService,
    staff_id: int,
    resident_id: int,
    key: str,
    *,
    ip: str | None = None,
) -> tuple[Turn, Done]:
    auth = authorize(session, staff_id, resident_id, (consent.GUIDE,))
    assert auth.consent is not None
    try:
        turn = guides.start(conversation_id(staff_id, resident_id), key, care_mode=True)
    except UnknownGuide:
        raise GridDenied(*UNKNOWN_GUIDE) from None
    done = record(session, auth.actor, "grid.guide.start", resident_id, {
        "guide": key, "title": turn.guide.title, "consent_id": auth.consent.id,
        "event": turn.event.value,
    }, ip=ip, notify=notify.guide_started(auth.staff.username, turn.guide.title)
        if turn.event is Event.STARTED else None)  # a resumed guide was announced already
    return turn, done


def step(
    session: Session,
    guides: GuideService,
    staff_id: int,
    resident_id: int,
    key: str,
    *,
    command: Command | None = None,
    choice: int | None = None,
    ip: str | None = None,
) -> Turn:
    """下一步 / 再说一遍 / 上一步 / 不办了, or a numbered answer read out by the resident."""
    auth = authorize(session, staff_id, resident_id, (consent.GUIDE,))
    assert auth.consent is not None
    try:
        guides.guide(key)
    except UnknownGuide:
        raise GridDenied(*UNKNOWN_GUIDE) from None
    turn = guides.step(conversation_id(staff_id, resident_id), key=key, command=command,
                       choice=choice, care_mode=True)
    if turn is None:
        raise GridDenied(*NO_SESSION)
    action = _ENDINGS.get(turn.event)
    if action:
        record(session, auth.actor, action, resident_id, {
            "guide": key, "title": turn.guide.title, "consent_id": auth.consent.id,
            "event": turn.event.value,
        }, ip=ip)
    return turn
