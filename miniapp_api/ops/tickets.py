"""Hand-off tickets: claim, reply to the citizen through WeChat, close."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf

from huimin.ops import conversation_log, tickets
from huimin.ops.models import HandoffTicket
from huimin.privacy import audit
from huimin.privacy.masking import mask_text, mask_value
from huimin.wechat.api import WeChatApi
from miniapp_api.auth import require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.ops.base import OPS_ROLES, PageIn, acting_staff, bp, ingest, ops_settings
from miniapp_api.ops.review import MessageOut, message_row
from miniapp_api.pagination import page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class TicketQuery(PageIn):
    status = String(validate=OneOf(("open", "claimed", "closed", "active")))


class TicketEventOut(Schema):
    id = Integer(required=True)
    action = String(required=True)
    actor = String(required=True)
    actor_name = String(allow_none=True)
    text = String(allow_none=True)
    delivered = Boolean(allow_none=True)
    error = String(allow_none=True)
    at = UtcDateTime(required=True)


class TicketRowOut(Schema):
    id = Integer(required=True)
    sender_id = String(required=True)
    reason = String(required=True)
    status = String(required=True)
    last_message = String(required=True)
    created_at = UtcDateTime(required=True)
    claimed_by = String(allow_none=True)
    claimed_by_name = String(allow_none=True)
    mine = Boolean(required=True)


class TicketDetailOut(TicketRowOut):
    transcript = List(Dict(), required=True)
    events = List(Nested(TicketEventOut), required=True)
    conversation = List(Nested(MessageOut), required=True)


class ReplyIn(Schema):
    text = String(required=True, validate=Length(min=1, max=tickets.REPLY_MAX))


def _ticket_row(session: Any, ticket: HandoffTicket, actor: str) -> dict[str, Any]:
    claim = tickets.claimed_by(session, ticket.id) if ticket.status == "claimed" else None
    return {
        "id": ticket.id, "sender_id": ticket.sender_id, "reason": ticket.reason,
        "status": ticket.status, "last_message": mask_text(ticket.last_message or ""),
        "created_at": ticket.created_at,
        "claimed_by": claim.actor if claim else None,
        "claimed_by_name": claim.actor_name if claim else None,
        "mine": bool(claim and claim.actor == actor),
    }


def _ticket_detail(session: Any, ticket: HandoffTicket, actor: str) -> dict[str, Any]:
    low = ops_settings().low_confidence
    return {
        **_ticket_row(session, ticket, actor),
        "transcript": mask_value(list(ticket.transcript or [])),
        "events": [
            {"id": e.id, "action": e.action, "actor": e.actor, "actor_name": e.actor_name,
             "text": mask_text(e.text) if e.text else None, "delivered": e.delivered,
             "error": e.error, "at": e.at}
            for e in tickets.events(session, ticket.id)
        ],
        "conversation": [message_row(m, low)
                         for m in conversation_log.recent(session, ticket.sender_id)],
    }




@bp.get("/tickets")
@require_roles(*OPS_ROLES)
@bp.input(TicketQuery, location="query", arg_name="query")
@bp.output(page_schema(TicketRowOut))
@bp.doc(summary="转人工工单（含认领人）")
def ticket_list(query: dict) -> dict:
    actor, _ = acting_staff()
    with services().db.session() as s:
        page = paginate(s, tickets.list_query(query.get("status")), query,
                        lambda t: _ticket_row(s, t, actor))
        audit.record(s, actor, "ops.handoff_tickets.list", "handoff_tickets", audit.OK,
                     client_ip(), {"page": page["page"], "count": len(page["items"])})
    return page


def _ticket_or_404(session: Any, ticket_id: int) -> HandoffTicket:
    ticket = session.get(HandoffTicket, ticket_id)
    if ticket is None:
        raise ApiError(404, "not_found", "找不到该工单")
    return ticket


@bp.get("/tickets/<int:ticket_id>")
@require_roles(*OPS_ROLES)
@bp.output(TicketDetailOut)
@bp.doc(summary="工单详情与对话")
def ticket_detail(ticket_id: int) -> dict:
    actor, _ = acting_staff()
    with services().db.session() as s:
        ingest(s)
        ticket = _ticket_or_404(s, ticket_id)
        audit.record(s, actor, "ops.conversation.view", f"handoff_ticket:{ticket_id}", audit.OK,
                     client_ip())
        return _ticket_detail(s, ticket, actor)


def _ticket_action(ticket_id: int, act) -> dict:
    actor, name = acting_staff()
    who = tickets.Staff(actor=actor, name=name, ip=client_ip())
    error: tickets.TicketError | None = None
    with services().db.session() as s:
        try:
            act(s, who)
        except tickets.TicketError as exc:
            error = exc
        else:
            return _ticket_detail(s, _ticket_or_404(s, ticket_id), actor)
    raise ApiError(error.status, error.code, error.message)


@bp.post("/tickets/<int:ticket_id>/claim")
@require_roles(*OPS_ROLES)
@bp.output(TicketDetailOut)
@bp.doc(summary="认领工单", responses={409: "已被他人认领或已关闭"})
def ticket_claim(ticket_id: int) -> dict:
    return _ticket_action(ticket_id, lambda s, who: tickets.claim(s, ticket_id, who))


@bp.post("/tickets/<int:ticket_id>/reply")
@require_roles(*OPS_ROLES)
@bp.input(ReplyIn, arg_name="body")
@bp.output(TicketDetailOut)
@bp.doc(summary="回复市民", description="通过微信客服消息发送（用户最后一条消息后48小时内）；"
        "发送结果记录在工单事件中。", responses={409: "未认领或已关闭"})
def ticket_reply(ticket_id: int, body: dict) -> dict:
    svc = services()
    wechat = WeChatApi(svc.settings, svc.redis)
    return _ticket_action(
        ticket_id, lambda s, who: tickets.reply(s, ticket_id, body["text"], who, wechat)
    )


@bp.post("/tickets/<int:ticket_id>/close")
@require_roles(*OPS_ROLES)
@bp.output(TicketDetailOut)
@bp.doc(summary="关闭工单", responses={409: "已关闭或由他人处理"})
def ticket_close(ticket_id: int) -> dict:
    return _ticket_action(ticket_id, lambda s, who: tickets.close(s, ticket_id, who))
