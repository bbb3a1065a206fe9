"""Telling a resident what a grid worker did for them, in WeChat.

Every action a grid worker takes for a resident is followed by a customer-service message to
the resident's WeChat (when they have one), so nothing is done behind their back; the message
also says how to withdraw the consent. The actions of a minute are sent together, by an RQ
job (jobs/grid.py) after the actions are committed; the audit entries are the record.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.platform.db import Database
from huimin.platform.settings import Settings
from huimin.residents.models import Resident
from huimin.wechat import undelivered
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.models import WechatUser

# WeChat codes worth retrying (system busy, frequency limits); None is a network failure.
TRANSIENT = frozenset({None, -1, 45009, 45011})
SENT, NO_WECHAT, REFUSED, NOTHING = "sent", "no_wechat", "refused", "nothing"
WITHDRAW_HINT = "不想再让网格员帮忙，可在公众号菜单“网格员帮办”里撤回。"
# Actions taken for a resident within this time go out as one message: a grid worker's visit
# is several actions, WeChat allows only a few customer-service messages per user message,
# and an older resident is better served by one clear message than by five.
DIGEST_DELAY = timedelta(seconds=60)
_PREFIX = "huimin:grid:notify"


def who(username: str) -> str:
    return f"网格员（{username}）"


def benefits_viewed(username: str) -> str:
    return f"{who(username)}查看了您可以享受的政策。"


def notice_confirmed(username: str, title: str) -> str:
    return f"{who(username)}已帮您确认领取“{title}”。有疑问请打 12333。"


def guide_started(username: str, title: str) -> str:
    return f"{who(username)}正在一步一步帮您办“{title}”。"


def visit_recorded(username: str, outcome: str) -> str:
    return f"{who(username)}记录了一次上门走访：{outcome}。"


def consent_withdrawn(username: str) -> str:
    return f"{who(username)}按您的要求撤回了您给网格员的授权，网格员不能再替您办事。"


def paper_consent_confirmed(days: int) -> str:
    return f"您签字同意网格员协助办理，已登记，{days} 天内有效。"


def consent_requested(username: str, days: int, link: str) -> str:
    return (f"{who(username)}想协助您办理社保、补贴等事项，需要您同意（{days} 天内有效，"
            f"随时可撤回）。{link}")


def digest(lines: list[str]) -> str:
    """One message for the actions queued for a resident."""
    if len(lines) == 1:
        return f"{lines[0]}\n{WITHDRAW_HINT}"
    body = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    return f"刚刚为您办了这些事：\n{body}\n{WITHDRAW_HINT}"


def queue_line(conn: redis.Redis, resident_id: int, line: str, key: str) -> bool:
    """Keep a line for the resident's next message; False if this action (``key``) was
    queued already (a retried request)."""
    if not conn.set(f"{_PREFIX}:seen:{key}", 1, nx=True, ex=86400):
        return False
    conn.rpush(f"{_PREFIX}:lines:{resident_id}", line)
    return True


def _take(conn: redis.Redis, resident_id: int) -> list[str]:
    key = f"{_PREFIX}:lines:{resident_id}"
    pipe = conn.pipeline()  # MULTI: nothing pushed in between is lost
    pipe.lrange(key, 0, -1)
    pipe.delete(key)
    raw, _ = pipe.execute()
    return [item.decode() for item in raw]


def _put_back(conn: redis.Redis, resident_id: int, lines: list[str]) -> None:
    if lines:
        conn.lpush(f"{_PREFIX}:lines:{resident_id}", *reversed(lines))


def page_link(settings: Settings, path: str, label: str) -> str:
    """A text-message link to one of the citizen's own pages (/my/...), opened inside
    WeChat, which signs the citizen in (web authorisation)."""
    return f'<a href="{settings.public_base_url.rstrip("/")}{path}">{label}</a>'


def wechat_openid(session: Session, resident_id: int) -> str | None:
    """The official-account openid to message: a subscribed chat user linked to the
    resident, else the openid the bureau's records hold."""
    user = session.scalar(
        select(WechatUser).where(WechatUser.resident_id == resident_id,
                                 WechatUser.subscribed.is_(True))
        .order_by(WechatUser.last_seen_at.desc()).limit(1)
    )
    if user is not None:
        return user.openid
    resident = session.get(Resident, resident_id)
    if resident is not None and resident.wechat_channel and resident.openid:
        return resident.openid
    return None


def send_queued(
    db: Database, wechat: WeChatApi, conn: redis.Redis, resident_id: int, secret: str
) -> str:
    """Send what is queued for the resident as one message. Raises WeChatError on a
    transient failure, with the lines put back for the retry; a refusal that will not change
    (48-hour window passed, message quota, unsubscribed) is final and recorded for staff to
    follow up (huimin.wechat.undelivered); the actions are in the resident's history either way."""
    lines = _take(conn, resident_id)
    if not lines:
        return NOTHING
    with db.session() as session:
        openid = wechat_openid(session, resident_id)
    if openid is None:
        return NO_WECHAT
    text = digest(lines)
    try:
        wechat.send_text(openid, text)
    except WeChatError as exc:
        if exc.errcode in TRANSIENT:
            _put_back(conn, resident_id, lines)
            raise
        with db.session() as session:
            undelivered.record(
                session, openid=openid, sender_id=wechat_users.pseudonym(openid, secret),
                message_key=f"grid-notify:{resident_id}", kind=undelivered.ANSWER, text=text,
                reason="grid notification refused by WeChat", errcode=exc.errcode,
            )
        return f"{REFUSED}:{exc.errcode}"
    return SENT
