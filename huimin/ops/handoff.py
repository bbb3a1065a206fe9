"""Hand-off tickets: when the assistant cannot help, a person at the bureau takes over."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.ops.models import CLOSED, HandoffTicket
from huimin.privacy.masking import mask_text


def open_ticket(
    session: Session, sender_id: str, reason: str, transcript: list[dict]
) -> HandoffTicket:
    """One open ticket per conversation: asking twice does not queue the citizen twice."""
    existing = session.scalar(
        select(HandoffTicket).where(
            HandoffTicket.sender_id == sender_id, HandoffTicket.status != CLOSED
        )
    )
    masked = [{**turn, "text": mask_text(str(turn.get("text", "")))} for turn in transcript]
    last_user = next((t["text"] for t in reversed(masked) if t.get("who") == "user"), "")
    if existing is not None:
        existing.transcript = masked
        existing.last_message = last_user
        return existing
    ticket = HandoffTicket(
        sender_id=sender_id, reason=reason, transcript=masked, last_message=last_user
    )
    session.add(ticket)
    session.flush()
    return ticket
