"""Hand-off tickets: when the assistant cannot help, a person at the bureau takes over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from huimin.platform.db import Base, utcnow
from huimin.privacy.masking import mask_text

OPEN, CLAIMED, CLOSED = "open", "claimed", "closed"


class HandoffTicket(Base):
    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    last_message: Mapped[str] = mapped_column(Text, default="")
    # The conversation so far, personal data masked before it is stored.
    transcript: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
