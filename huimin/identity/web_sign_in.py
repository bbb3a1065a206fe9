"""Citizens signing in to the /my/ pages through WeChat web authorisation (snsapi_base).

The openid WeChat gives the pages is the official account's, the same one the chat sees as
``FromUserName``. So the account is found, in this order, by that openid (signed in before),
else through the chat user's resident (the citizen already uses the mini-program or was
linked by the bureau), else it is created; a resident known to the chat comes along.
One citizen therefore has one account, whichever door they came in by.

A binding suspended by an appeal (``CitizenAccount.bound_resident_id`` is then None) opens
nothing: the chat user is not merged into the suspended holder's account, and a new account
does not take the resident either; staff decide the appeal first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.identity.accounts import holder_of
from huimin.identity.models import CitizenAccount
from huimin.platform.db import utcnow
from huimin.wechat.models import WechatUser


def _chat_resident(session: Session, openid: str) -> tuple[int | None, CitizenAccount | None]:
    """(resident, the account holding it) the chat knows for this openid: (resident, None)
    when no account holds it yet, (None, None) when the chat knows no resident or the
    holder's binding is suspended (or the holder is deleted)."""
    chat_user = session.scalar(select(WechatUser).where(WechatUser.openid == openid))
    resident_id = chat_user.resident_id if chat_user is not None else None
    if resident_id is None:
        return None, None
    holder = holder_of(session, resident_id)
    if holder is None:
        return resident_id, None
    if not holder.active or holder.bound_resident_id is None:
        return None, None
    return resident_id, holder


def citizen_for_official_openid(session: Session, openid: str) -> CitizenAccount:
    """The live account for an official-account openid, created on first sign-in."""
    account = session.scalar(select(CitizenAccount).where(CitizenAccount.oa_openid == openid))
    if account is None:
        resident_id, account = _chat_resident(session, openid)
        if account is None:
            account = CitizenAccount(resident_id=resident_id)
            session.add(account)
        account.oa_openid = openid
    account.last_login_at = utcnow()
    session.flush()
    return account
