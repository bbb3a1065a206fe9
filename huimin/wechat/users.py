"""Citizens as seen through WeChat: openid, the pseudonym the assistant uses, subscription."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.platform.db import utcnow
from huimin.residents import models as _residents  # noqa: F401 - FK target table
from huimin.wechat.models import WechatUser


def pseudonym(openid: str, secret: str) -> str:
    """Stable conversation id for an openid; the assistant and its logs never see the openid."""
    digest = hmac.new(secret.encode(), openid.encode(), hashlib.sha256).hexdigest()
    return f"u{digest[:31]}"


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
