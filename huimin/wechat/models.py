"""WeChat channel tables: users seen through WeChat, undelivered messages.

Only the mapped classes live here; the rules that use them are in the modules beside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huimin.platform.db import Base, utcnow
from huimin.residents import models as _residents  # noqa: F401 - FK target table

NOTE_MAX = 500  # characters of a staff resolution note


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
    # Who marked it handled ("staff:3", display name) and what they did; note masked.
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_by_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(String(NOTE_MAX), nullable=True)


class WechatUser(Base):
    __tablename__ = "wechat_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
