"""Hand-off tickets worked from the ops console: claim, reply to the citizen, close.

Replies go to the citizen as WeChat customer-service messages (allowed for 48 hours after the
citizen's last message; WeChat answers 45015 after that). Each step is a row in
``ops_ticket_events`` (who, when, the reply text masked) and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.ops.models import CLAIMED, CLOSED, OPEN, HandoffTicket, TicketEvent
from huimin.privacy import audit
from huimin.privacy.masking import mask_text
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError

CLAIM, REPLY, CLOSE = "claim", "reply", "close"
REPLY_MAX = 600  # characters; WeChat allows more, citizens read less
WECHAT_ERRORS = {
    45015: "已超过48小时，微信不允许再主动回复该用户，请电话联系或等用户再次留言。",
    43004: "该用户已取消关注，无法发送消息。",
    43101: "该用户拒绝接收消息。",
    45047: "连续发送的消息太多，需等用户回复后再发送。",
}


class TicketError(Exception):
    """A refused ticket action; ``status`` is the HTTP-like status, message Chinese."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Staff:
    actor: str
    name: str | None
    ip: str | None = None


def events(session: Session, ticket_id: int) -> list[TicketEvent]:
    return list(session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    ))


def claimed_by(session: Session, ticket_id: int) -> TicketEvent | None:
    """The claim in force (the newest claim event of a claimed ticket)."""
    return session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == CLAIM)
        .order_by(TicketEvent.id.desc()).limit(1)
    ).first()


def _live_ticket(session: Session, ticket_id: int) -> tuple[HandoffTicket, TicketEvent | None]:
    """The ticket (locked; 404 if none, 409 if closed) and the claim in force, if any."""
    ticket = session.get(HandoffTicket, ticket_id, with_for_update=True)
    if ticket is None:
        raise TicketError(404, "not_found", "找不到该工单。")
    if ticket.status == CLOSED:
        raise TicketError(409, "ticket_closed", "该工单已关闭。")
    return ticket, claimed_by(session, ticket_id) if ticket.status == CLAIMED else None


def _record(
    session: Session, ticket: HandoffTicket, action: str, who: Staff, **fields: object
) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, action=action, actor=who.actor,
                        actor_name=who.name, **fields)
    session.add(event)
    result = audit.OK if fields.get("delivered", True) is not False else audit.FAILED
    audit.record(session, who.actor, f"ops.ticket.{action}", f"handoff_ticket:{ticket.id}",
                 result, who.ip, {"error": fields.get("error")} if fields.get("error") else None)
    session.flush()
    return event


def claim(session: Session, ticket_id: int, who: Staff) -> TicketEvent:
    ticket, current = _live_ticket(session, ticket_id)
    if current is not None and current.actor != who.actor:
        raise TicketError(409, "ticket_claimed",
                          f"该工单已由 {current.actor_name or current.actor} 认领。")
    ticket.status = CLAIMED
    return _record(session, ticket, CLAIM, who)


def reply(
    session: Session, ticket_id: int, text: str, who: Staff, wechat: WeChatApi
) -> TicketEvent:
    """Send ``text`` to the citizen; the event records whether WeChat took it."""
    text = text.strip()
    if not text:
        raise TicketError(422, "invalid_input", "回复内容不能为空。")
    if len(text) > REPLY_MAX:
        raise TicketError(422, "invalid_input", f"回复内容不能超过 {REPLY_MAX} 字。")
    ticket, current = _live_ticket(session, ticket_id)
    if current is None or current.actor != who.actor:
        raise TicketError(409, "not_claimed", "请先认领该工单再回复。")
    user = wechat_users.by_pseudonym(session, ticket.sender_id)
    if user is None:
        return _record(session, ticket, REPLY, who, text=mask_text(text), delivered=False,
                       error="找不到该用户的微信账号，无法回复。")
    try:
        wechat.send_text(user.openid, text)
    except WeChatError as exc:
        message = WECHAT_ERRORS.get(exc.errcode or 0, f"微信拒绝了该消息（错误码 {exc.errcode}）。")
        return _record(session, ticket, REPLY, who, text=mask_text(text), delivered=False,
                       error=message)
    except Exception:  # noqa: BLE001 - network trouble: tell the staff member, keep the ticket
        return _record(session, ticket, REPLY, who, text=mask_text(text), delivered=False,
                       error="暂时连不上微信，请稍后重试。")
    return _record(session, ticket, REPLY, who, text=mask_text(text), delivered=True)


def close(session: Session, ticket_id: int, who: Staff) -> TicketEvent:
    ticket, current = _live_ticket(session, ticket_id)
    if current is not None and current.actor != who.actor:
        raise TicketError(409, "ticket_claimed",
                          f"该工单由 {current.actor_name or current.actor} 处理，只能由其关闭。")
    ticket.status = CLOSED
    return _record(session, ticket, CLOSE, who)


def list_query(status: str | None):
    query = select(HandoffTicket)
    if status in (OPEN, CLAIMED, CLOSED):
        query = query.where(HandoffTicket.status == status)
    elif status == "active":
        query = query.where(HandoffTicket.status != CLOSED)
    return query.order_by(HandoffTicket.created_at.desc(), HandoffTicket.id.desc())
