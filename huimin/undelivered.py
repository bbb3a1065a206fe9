"""Messages WeChat would not let us deliver, kept for staff to follow up.

An answer refused by WeChat (45015 the 48-hour window passed, 45047 the per-message quota,
the user unsubscribed ...) or a question that could not even be queued is recorded here
instead of being dropped: nothing a citizen asked is lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from huimin.db import Base, utcnow
from huimin.masking import mask_text

ANSWER, QUESTION = "answer", "question"


class UndeliveredMessage(Base):
    __tablename__ = "wechat_undelivered"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Staff reply through the official-account console, which addresses users by openid.
    openid: Mapped[str] = mapped_column(String(64), index=True)
    sender_id: Mapped[str] = mapped_column(String(64), index=True)
    message_key: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(16))  # answer | question
    text: Mapped[str] = mapped_column(Text, default="")  # personal data masked
    reason: Mapped[str] = mapped_column(String(64))
    errcode: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)


def record(
    session: Session,
    *,
    openid: str,
    sender_id: str,
    message_key: str,
    kind: str,
    text: str,
    reason: str,
    errcode: int | None = None,
) -> UndeliveredMessage:
    row = UndeliveredMessage(
        openid=openid, sender_id=sender_id, message_key=message_key[:128], kind=kind,
        text=mask_text(text), reason=reason[:64], errcode=errcode,
    )
    session.add(row)
    session.flush()
    return row
