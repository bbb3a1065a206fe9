"""Citizens as seen through WeChat: openid, the pseudonym the assistant uses, subscription."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from huimin.platform.db import Base, utcnow
from huimin.residents import models as _residents  # noqa: F401 - FK target table


def pseudonym(openid: str, secret: str) -> str:
    """Stable conversation id for an openid; the assistant and its logs never see the openid."""
    digest = hmac.new(secret.encode(), openid.encode(), hashlib.sha256).hexdigest()
    return f"u{digest[:31]}"


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


def touch(session: Session, openid: str, secret: str, subscribed: bool | None = None) -> WechatUser:
    """Record that the user interacted now (opens WeChat's 48-hour reply window)."""
    user = session.scalar(select(WechatUser).where(WechatUser.openid == openid))
    if user is None:
        user = WechatUser(openid=openid, pseudonym=pseudonym(openid, secret))
        session.add(user)
    user.last_seen_at = utcnow()
    if subscribed is not None:
        user.subscribed = subscribed
    session.flush()
    return user


def by_pseudonym(session: Session, sender_id: str) -> WechatUser | None:
    return session.scalar(select(WechatUser).where(WechatUser.pseudonym == sender_id))


def is_subscribed(session: Session, openid: str) -> bool:
    """Whether messages may be pushed to this user (unknown users count as subscribed:
    WeChat itself refuses messages to users who are not)."""
    user = session.scalar(select(WechatUser).where(WechatUser.openid == openid))
    return user is None or user.subscribed
