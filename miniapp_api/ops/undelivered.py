"""WeChat messages that could not be delivered, for staff follow-up."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf

from huimin.ops import tickets
from huimin.privacy import audit
from huimin.privacy.masking import mask_openid, mask_text
from huimin.wechat import undelivered
from miniapp_api.auth import require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.ops.base import OPS_ROLES, PageIn, acting_staff, bp
from miniapp_api.pagination import page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


class UndeliveredQuery(PageIn):
    status = String(load_default=undelivered.OPEN, validate=OneOf(undelivered.STATUSES),
                    metadata={"description": "open 未处理 | resolved 已处理 | all 全部"})


class UndeliveredOut(Schema):
    id = Integer(required=True)
    kind = String(required=True, metadata={"description": "answer | question"})
    kind_label = String(required=True, metadata={"description": "回答未送达 | 提问未处理"})
    reason = String(required=True, metadata={"description": "recorded reason (English)"})
    reason_text = String(required=True, metadata={"description": "原因说明（中文）"})
    errcode = Integer(allow_none=True, metadata={"description": "微信错误码"})
    text = String(required=True, metadata={"description": "personal data masked"})
    openid = String(required=True, metadata={"description": "masked: o6_b****fL2M"})
    sender_id = String(required=True, metadata={"description": "对话的匿名编号"})
    created_at = UtcDateTime(required=True)
    resolved_at = UtcDateTime(allow_none=True)
    resolved_by = String(allow_none=True)
    resolved_by_name = String(allow_none=True)
    resolution_note = String(allow_none=True)


class ResolveIn(Schema):
    note = String(validate=Length(max=undelivered.NOTE_MAX), metadata={
        "description": "处理说明（可不填），如“已电话联系”"})


def _undelivered_row(row: undelivered.UndeliveredMessage) -> dict[str, Any]:
    # Text is stored masked; masked again so older or hand-edited rows cannot leak. The raw
    # openid never leaves the server: it would let anyone address the citizen through WeChat.
    return {
        "id": row.id, "kind": row.kind,
        "kind_label": undelivered.KIND_LABELS.get(row.kind, row.kind), "reason": row.reason,
        "reason_text": undelivered.explain(row), "errcode": row.errcode,
        "text": mask_text(row.text or ""), "openid": mask_openid(row.openid),
        "sender_id": row.sender_id, "created_at": row.created_at,
        "resolved_at": row.resolved_at, "resolved_by": row.resolved_by,
        "resolved_by_name": row.resolved_by_name,
        "resolution_note": mask_text(row.resolution_note) if row.resolution_note else None,
    }




@bp.get("/undelivered")
@require_roles(*OPS_ROLES)
@bp.input(UndeliveredQuery, location="query", arg_name="query")
@bp.output(page_schema(UndeliveredOut))
@bp.doc(summary="未送达的微信消息", description="微信拒绝送达的回答（超过48小时未互动、客服消息"
        "条数已达上限、已取消关注……）和未能转交助手的提问，最新的在前。文字已打码，openid "
        "只显示首尾几位。")
def undelivered_list(query: dict) -> dict:
    actor, _ = acting_staff()
    with services().db.session() as s:
        page = paginate(s, undelivered.list_query(query["status"]), query, _undelivered_row)
        audit.record(s, actor, "ops.undelivered.list", "wechat_undelivered", audit.OK,
                     client_ip(), {"status": query["status"], "page": page["page"],
                                   "count": len(page["items"])})
    return page


@bp.post("/undelivered/<int:message_id>/resolve")
@require_roles(*OPS_ROLES)
@bp.input(ResolveIn, arg_name="body")
@bp.output(UndeliveredOut)
@bp.doc(summary="标记为已处理", description="跟进后（如已电话联系）标记；重复标记不改变第一次的"
        "处理人和时间。每次标记都记入审计日志。", responses={404: "没有这条记录"})
def undelivered_resolve(message_id: int, body: dict) -> dict:
    actor, name = acting_staff()
    who = tickets.Staff(actor=actor, name=name, ip=client_ip())
    with services().db.session() as s:
        try:
            row = undelivered.resolve(s, message_id, who, body.get("note"))
        except undelivered.UndeliveredNotFound:
            raise ApiError(404, "not_found", f"找不到编号为 {message_id} 的未送达消息",
                           fields={"message_id": "没有这条记录"}) from None
        return _undelivered_row(row)
