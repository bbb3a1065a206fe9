"""Messages WeChat would not let us deliver, kept for staff to follow up.

An answer refused by WeChat (45015 the 48-hour window passed, 45047 the per-message quota,
the user unsubscribed ...) or a question that could not even be queued is recorded here
instead of being dropped: nothing a citizen asked is lost. Ops staff see the open ones in the
console (运营后台 · 未送达消息) and mark each as handled once they have followed it up (a
phone call, a reply when the citizen writes again); every such mark is in the audit log.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from huimin.platform.db import utcnow
from huimin.privacy import audit
from huimin.privacy.masking import mask_text
from huimin.wechat.models import NOTE_MAX, UndeliveredMessage

ANSWER, QUESTION = "answer", "question"
KIND_LABELS = {ANSWER: "回答未送达", QUESTION: "提问未处理"}
OPEN, RESOLVED, ALL = "open", "resolved", "all"
STATUSES = (OPEN, RESOLVED, ALL)

# What WeChat's refusal means, in words an operator can act on.
ERRCODE_TEXT: dict[int, str] = {
    45015: "超过48小时未互动，无法主动发送",
    45047: "客服消息条数已达上限（需等市民回复后才能再发）",
    43004: "市民已取消关注公众号，无法发送",
    43101: "市民拒绝接收消息",
    40003: "微信账号标识无效，无法发送",
    45009: "微信接口今日调用次数已达上限",
    48001: "公众号没有发送客服消息的权限",
}
# A late answer's part WeChat had when its job was killed (huimin.wechat.delivery).
INTERRUPTED = "send interrupted, may have been delivered; not resent"
# A part whose send WeChat took but did not answer in time (a read timeout): never resent.
TIMED_OUT = "wechat answer timed out, may have been delivered; not resent"
# Reasons recorded without a WeChat error code (see huimin.wechat.delivery, huimin.wechat.channel).
REASON_TEXT: dict[str, str] = {
    "reply window passed": "超过48小时未互动，无法主动发送",
    "user unsubscribed": "市民已取消关注公众号，无法发送",
    "queue unavailable": "系统排队服务暂时不可用，问题未能转交助手",
    "grid notification refused by WeChat": "网格员协助通知被微信拒收",
    INTERRUPTED: "发送时系统中断，市民可能已收到，未重发，请核实",
    TIMED_OUT: "微信未及时答复，市民可能已收到，未重发，请核实",
}


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


class StaffMember(Protocol):
    """Who resolves (``huimin.ops.tickets.Staff`` fits): pseudonymous actor, display name, IP."""

    actor: str
    name: str | None
    ip: str | None


class UndeliveredNotFound(LookupError):
    """No recorded message has this id."""

    def __init__(self, message_id: int) -> None:
        super().__init__(f"no undelivered message with id {message_id}")
        self.message_id = message_id


def explain(row: UndeliveredMessage) -> str:
    """Plain Chinese for why the message did not reach the citizen (errcode first, then the
    recorded reason), so staff need not know WeChat's error codes."""
    if row.errcode is not None and row.errcode in ERRCODE_TEXT:
        return ERRCODE_TEXT[row.errcode]
    if row.reason in REASON_TEXT:
        return REASON_TEXT[row.reason]
    if row.reason.startswith("wechat unavailable"):
        return "微信接口暂时不可用，未能发送"
    if row.errcode is not None:
        return f"微信拒绝发送（错误码 {row.errcode}）"
    return f"未能送达（{row.reason}）"


def list_query(status: str = OPEN) -> Select[tuple[UndeliveredMessage]]:
    """Newest first; ``open`` (not yet handled), ``resolved`` or ``all``. Paginated by the
    caller (``miniapp_api.pagination.paginate``), like the other ops lists."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    query = select(UndeliveredMessage)
    if status == OPEN:
        query = query.where(UndeliveredMessage.resolved_at.is_(None))
    elif status == RESOLVED:
        query = query.where(UndeliveredMessage.resolved_at.is_not(None))
    return query.order_by(UndeliveredMessage.created_at.desc(), UndeliveredMessage.id.desc())


def count_open(session: Session) -> int:
    """For the console's badge and the ``huimin_wechat_undelivered_open`` gauge."""
    return int(session.scalar(
        select(func.count()).select_from(UndeliveredMessage)
        .where(UndeliveredMessage.resolved_at.is_(None))
    ) or 0)


def resolve(
    session: Session, message_id: int, staff: StaffMember, note: str | None = None
) -> UndeliveredMessage:
    """Mark the message handled and audit it. Idempotent: a second mark (two operators on the
    same row, a double click) keeps the first one's who/when/note and is audited as such.

    Raises ``UndeliveredNotFound`` for an unknown id.
    """
    row = session.get(UndeliveredMessage, message_id, with_for_update=True)
    if row is None:
        raise UndeliveredNotFound(message_id)
    already = row.resolved_at is not None
    if not already:
        clean = mask_text(note.strip())[:NOTE_MAX] if note and note.strip() else None
        row.resolved_at = utcnow()
        row.resolved_by = staff.actor[:128]
        row.resolved_by_name = staff.name[:64] if staff.name else None
        row.resolution_note = clean
    audit.record(
        session, staff.actor, "ops.undelivered.resolve", f"wechat_undelivered:{row.id}",
        audit.OK, staff.ip,
        {"already_resolved": already, "kind": row.kind, "errcode": row.errcode,
         "note": bool(row.resolution_note)},
    )
    session.flush()
    return row
