"""The ops console's API (/api/v1/ops/...): review inbox and annotations, hand-off tickets,
undelivered WeChat messages, training runs, the model registry with its gate, and the quality
dashboard.

Thin: every rule is in ``huimin.ops`` (conversation log, tickets) and ``huimin.wechat.undelivered``.
Staff actions that change something (annotating, ticket work, marking an undelivered message
handled, training, activation, rollback) and views of conversations are in the audit log.
"""

from __future__ import annotations

from typing import Any

import structlog
from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from sqlalchemy import func, select

from huimin.ops import conversation_log, dashboard, registry, review, tickets, training
from huimin.ops.gate import GateConfigError, load_gate_config
from huimin.ops.models import ConversationMessage, HandoffTicket
from huimin.ops.settings import OpsSettings, load_ops_settings
from huimin.privacy import audit
from huimin.privacy.masking import mask_openid, mask_text, mask_value
from huimin.wechat import undelivered
from huimin.wechat.api import WeChatApi
from jobs.training import enqueue_training
from miniapp_api.auth import current_principal, require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.pagination import MAX_PER_PAGE, page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services

log = structlog.get_logger("ops")
bp = APIBlueprint("api_ops", __name__, tag="运营后台", url_prefix="/ops")
OPS_ROLES = ("ops", "admin")


def ops_settings() -> OpsSettings:
    return load_ops_settings()


def _who() -> tuple[str, str | None]:
    me = current_principal()
    return me.actor, me.username


def _ingest(session: Any) -> None:
    """Bring the conversation log up to date with the assistant's event stream."""
    result = conversation_log.ingest(session, services().redis)
    if result.events:
        log.info("conversations_ingested", events=result.events, messages=result.messages)


# ---- schemas ------------------------------------------------------------------------------------


class PageIn(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000))
    per_page = Integer(load_default=20, validate=Range(min=1, max=MAX_PER_PAGE))


class InboxQuery(PageIn):
    reason = String(validate=OneOf(review.REASONS))
    intent = String(validate=Length(max=64))
    date_from = Date()
    date_to = Date()
    min_confidence = Float(validate=Range(min=0, max=1))
    max_confidence = Float(validate=Range(min=0, max=1))
    q = String(validate=Length(max=100), metadata={"description": "消息文字包含"})
    status = String(load_default=review.PENDING,
                    validate=OneOf((review.PENDING, review.REVIEWED, review.ALL)))


class EntityIn(Schema):
    entity = String(required=True, validate=Length(min=1, max=64))
    start = Integer(required=True, validate=Range(min=0))
    end = Integer(required=True, validate=Range(min=1))


class AnnotationIn(Schema):
    action = String(required=True, validate=OneOf(review.ACTIONS), metadata={
        "description": "correct 预测正确 | relabel 改为正确意图 | out_of_scope 超出范围 | "
                       "ignore 忽略"})
    intent = String(validate=Length(max=64))
    entities = List(Nested(EntityIn), load_default=list)


class AnnotationOut(Schema):
    id = Integer(required=True)
    message_id = Integer(required=True)
    action = String(required=True)
    intent = String(allow_none=True)
    entities = List(Dict(), required=True)
    text = String(required=True)
    annotated_by = String(required=True)
    annotator_name = String(allow_none=True)
    annotated_at = UtcDateTime(required=True)
    first_model_id = Integer(allow_none=True)


class MessageOut(Schema):
    id = Integer(required=True)
    sender_id = String(required=True)
    role = String(required=True)
    text = String(required=True, metadata={"description": "personal data masked"})
    intent = String(allow_none=True)
    confidence = Float(allow_none=True)
    alternatives = List(Dict(), required=True)
    entities = List(Dict(), required=True)
    model_id = String(allow_none=True)
    at = UtcDateTime(required=True)
    reasons = List(String(), required=True)
    annotation = Nested(AnnotationOut, allow_none=True)


class MessageDetailOut(Schema):
    message = Nested(MessageOut, required=True)
    context = List(Nested(MessageOut), required=True)


class VocabularyOut(Schema):
    intents = List(String(), required=True)
    entities = List(String(), required=True)
    reasons = Dict(required=True)
    low_confidence = Float(required=True)


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


class RunOut(Schema):
    id = Integer(required=True)
    status = String(required=True)
    stage = String(required=True)
    stage_label = String(required=True)
    progress = Integer(required=True)
    started_by = String(required=True)
    started_by_name = String(allow_none=True)
    created_at = UtcDateTime(required=True)
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    model_id = Integer(allow_none=True)
    data_fingerprint = String(allow_none=True)
    annotation_count = Integer(required=True)
    error = String(allow_none=True)


class RunLogQuery(Schema):
    since = Integer(load_default=0, validate=Range(min=0), metadata={
        "description": "从第几行日志开始（上次返回的 next_line）"})


class RunDetailOut(RunOut):
    lines = List(String(), required=True)
    next_line = Integer(required=True)


class ModelOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    source = String(required=True)
    sha256 = String(required=True)
    size = Integer(required=True)
    rasa_model_id = String(allow_none=True)
    data_fingerprint = String(allow_none=True)
    started_by = String(required=True)
    started_by_name = String(allow_none=True)
    started_at = UtcDateTime(required=True)
    registered_at = UtcDateTime(required=True)
    training_run_id = Integer(allow_none=True)
    annotation_count = Integer(required=True)
    accuracy = Float(allow_none=True)
    macro_f1 = Float(allow_none=True)
    active = Boolean(required=True)
    deployed_before = Boolean(required=True)


class ModelDetailOut(ModelOut):
    evaluation = Dict(allow_none=True)
    baseline = Dict(allow_none=True)
    diff = Dict(required=True, metadata={"description": "与当前上线模型的比较"})
    gate = Dict(required=True, metadata={"description": "上线检查：ok、reasons、checks"})


class ActionOut(Schema):
    ok = Boolean(required=True)
    message = String(required=True)
    model = Nested(ModelDetailOut, required=True)


class RollbackIn(Schema):
    model_id = Integer(validate=Range(min=1), metadata={"description": "不填：回到上一个模型"})


class DeploymentOut(Schema):
    id = Integer(required=True)
    model_id = Integer(required=True)
    previous_model_id = Integer(allow_none=True)
    action = String(required=True)
    actor = String(required=True)
    actor_name = String(allow_none=True)
    at = UtcDateTime(required=True)


class DashboardQuery(Schema):
    days = Integer(load_default=30, validate=Range(min=1, max=366))


class DashboardOut(Schema):
    days = List(Dict(), required=True)
    totals = Dict(required=True)
    intents = List(Dict(), required=True)
    unrecognised = List(Dict(), required=True)
    notices = Dict(allow_none=True, metadata={"description": "福利通知模块尚未提供数据时为空"})


class StatusOut(Schema):
    me = String(allow_none=True)
    pending_reviews = Integer(required=True)
    open_tickets = Integer(required=True)
    open_undelivered = Integer(required=True, metadata={"description": "未处理的未送达消息"})
    active_model = Nested(ModelOut, allow_none=True)
    current_run = Nested(RunOut, allow_none=True)


# ---- rows ---------------------------------------------------------------------------------------


def _annotation_row(a: review.Annotation | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "id": a.id, "message_id": a.message_id, "action": a.action, "intent": a.intent,
        "entities": list(a.entities or []), "text": mask_text(a.text),
        "annotated_by": a.annotated_by, "annotator_name": a.annotator_name,
        "annotated_at": a.annotated_at, "first_model_id": a.first_model_id,
    }


def _message_row(m: ConversationMessage, low: float, annotation: review.Annotation | None = None):
    return {
        "id": m.id, "sender_id": m.sender_id, "role": m.role, "text": mask_text(m.text),
        "intent": m.intent, "confidence": m.confidence,
        "alternatives": list(m.alternatives or []), "entities": mask_value(list(m.entities or [])),
        "model_id": m.model_id, "at": m.at,
        "reasons": review.reasons_of(m, low) if m.role == conversation_log.USER else [],
        "annotation": _annotation_row(annotation),
    }


def _run_row(run: training.TrainingRun) -> dict[str, Any]:
    return {
        "id": run.id, "status": run.status, "stage": run.stage,
        "stage_label": training.STAGES.get(run.stage, run.stage), "progress": run.progress,
        "started_by": run.started_by, "started_by_name": run.started_by_name,
        "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "model_id": run.model_id,
        "data_fingerprint": run.data_fingerprint, "annotation_count": run.annotation_count,
        "error": run.error,
    }


def _model_row(record: registry.ModelRecord, live_id: int | None, deployed: set[int]):
    evaluation = record.evaluation or {}
    return {
        "id": record.id, "name": record.name, "source": record.source, "sha256": record.sha256,
        "size": record.size, "rasa_model_id": record.rasa_model_id,
        "data_fingerprint": record.data_fingerprint, "started_by": record.started_by,
        "started_by_name": record.started_by_name, "started_at": record.started_at,
        "registered_at": record.registered_at, "training_run_id": record.training_run_id,
        "annotation_count": record.annotation_count, "accuracy": evaluation.get("accuracy"),
        "macro_f1": evaluation.get("macro_f1"), "active": record.id == live_id,
        "deployed_before": record.id in deployed,
    }


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


def _gate_config():
    try:
        return load_gate_config(ops_settings().gate_file)
    except GateConfigError as exc:
        log.error("gate_config_invalid", error=str(exc))
        raise ApiError(500, "gate_config_invalid", "上线检查规则文件有误，请联系技术人员") from None


def _model_detail(session: Any, record: registry.ModelRecord) -> dict[str, Any]:
    live = registry.active_model(session)
    row = _model_row(record, live.id if live else None, registry.deployed_ids(session))
    is_live = live is not None and live.id == record.id
    verdict = registry.gate_verdict(session, record, _gate_config())
    return {
        **row,
        "evaluation": record.evaluation, "baseline": record.baseline,
        "diff": ({"against": live.id, **registry.compare(record.evaluation, live.evaluation)}
                 if live is not None and not is_live else {}),
        "gate": verdict.as_dict(),
    }


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
        "conversation": [_message_row(m, low)
                         for m in conversation_log.recent(session, ticket.sender_id)],
    }


# ---- status -------------------------------------------------------------------------------------


@bp.get("/status")
@require_roles(*OPS_ROLES)
@bp.output(StatusOut)
@bp.doc(summary="运营后台概况", description="待审消息数、未关闭工单数、当前模型、进行中的训练。")
def status() -> dict:
    me = current_principal()
    settings = ops_settings()
    with services().db.session() as s:
        _ingest(s)
        live = registry.active_model(s)
        run = training.current_run(s)
        open_tickets = s.scalar(
            select(func.count()).select_from(HandoffTicket).where(HandoffTicket.status != "closed")
        )
        return {
            "me": me.username,
            "pending_reviews": review.pending_count(s, settings.low_confidence),
            "open_tickets": int(open_tickets or 0),
            "open_undelivered": undelivered.count_open(s),
            "active_model": _model_row(live, live.id, registry.deployed_ids(s)) if live else None,
            "current_run": _run_row(run) if run else None,
        }


# ---- review -------------------------------------------------------------------------------------


@bp.get("/vocabulary")
@require_roles(*OPS_ROLES)
@bp.output(VocabularyOut)
@bp.doc(summary="可选的意图和实体")
def vocabulary() -> dict:
    vocab = review.vocabulary()
    return {"intents": list(vocab.intents), "entities": list(vocab.entities),
            "reasons": review.REASON_LABELS, "low_confidence": ops_settings().low_confidence}


@bp.get("/inbox")
@require_roles(*OPS_ROLES)
@bp.input(InboxQuery, location="query", arg_name="query")
@bp.output(page_schema(MessageOut))
@bp.doc(summary="待审消息", description="未识别、置信度低、随后转人工、用户重复提问、用户说没帮到的"
        "消息，最新的在前。文字中的个人信息已打码。")
def inbox(query: dict) -> dict:
    low = ops_settings().low_confidence
    flt = review.InboxFilter(
        low_confidence=low, reason=query.get("reason"), intent=query.get("intent"),
        date_from=query.get("date_from"), date_to=query.get("date_to"),
        min_confidence=query.get("min_confidence"), max_confidence=query.get("max_confidence"),
        search=(query.get("q") or "").strip() or None, status=query["status"],
    )
    actor, _ = _who()
    with services().db.session() as s:
        _ingest(s)
        page = paginate(s, review.inbox_query(flt), query)
        notes = review.annotations_for(s, [m.id for m in page["items"]])
        page["items"] = [_message_row(m, low, notes.get(m.id)) for m in page["items"]]
        audit.record(s, actor, "ops.inbox.list", "conversation_messages", audit.OK, client_ip(),
                     {"page": page["page"], "count": len(page["items"])})
    return page


def _message_or_404(session: Any, message_id: int) -> ConversationMessage:
    message = session.get(ConversationMessage, message_id)
    if message is None or message.role != conversation_log.USER:
        raise ApiError(404, "not_found", "找不到这条消息")
    return message


@bp.get("/messages/<int:message_id>")
@require_roles(*OPS_ROLES)
@bp.output(MessageDetailOut)
@bp.doc(summary="消息及其上下文", description="同一对话中前后的消息（已打码）。")
def message_detail(message_id: int) -> dict:
    low = ops_settings().low_confidence
    actor, _ = _who()
    with services().db.session() as s:
        message = _message_or_404(s, message_id)
        around = conversation_log.context(s, message)
        notes = review.annotations_for(s, [m.id for m in around])
        audit.record(s, actor, "ops.conversation.view", f"conversation:{message.sender_id}",
                     audit.OK, client_ip(), {"message": message_id})
        return {
            "message": _message_row(message, low, notes.get(message.id)),
            "context": [_message_row(m, low, notes.get(m.id)) for m in around],
        }


@bp.put("/messages/<int:message_id>/annotation")
@require_roles(*OPS_ROLES)
@bp.input(AnnotationIn, arg_name="body")
@bp.output(AnnotationOut)
@bp.doc(summary="标注消息", description="预测正确、改为正确意图（可标实体）、超出范围或忽略。"
        "标注保存在数据库中，下次训练时使用。", responses={404: "没有这条消息", 422: "标注有误"})
def annotate(message_id: int, body: dict) -> dict:
    actor, name = _who()
    with services().db.session() as s:
        _message_or_404(s, message_id)
        try:
            annotation = review.annotate(
                s, message_id,
                review.Verdict(action=body["action"], intent=body.get("intent"),
                               entities=body.get("entities") or []),
                actor, name,
            )
        except review.ReviewError as exc:
            raise ApiError(422, "invalid_annotation", str(exc), fields={exc.field: str(exc)}) \
                from None
        audit.record(s, actor, "ops.annotate", f"message:{message_id}", audit.OK, client_ip(),
                     {"action": annotation.action, "intent": annotation.intent})
        return _annotation_row(annotation) or {}


@bp.delete("/messages/<int:message_id>/annotation")
@require_roles(*OPS_ROLES)
@bp.output({}, status_code=204)
@bp.doc(summary="撤销标注", description="消息回到待审列表。")
def unannotate(message_id: int) -> str:
    actor, _ = _who()
    with services().db.session() as s:
        _message_or_404(s, message_id)
        if not review.remove_annotation(s, message_id):
            raise ApiError(404, "not_found", "这条消息还没有标注")
        audit.record(s, actor, "ops.annotate.undo", f"message:{message_id}", audit.OK,
                     client_ip())
    return ""


# ---- hand-off tickets ---------------------------------------------------------------------------


@bp.get("/tickets")
@require_roles(*OPS_ROLES)
@bp.input(TicketQuery, location="query", arg_name="query")
@bp.output(page_schema(TicketRowOut))
@bp.doc(summary="转人工工单（含认领人）")
def ticket_list(query: dict) -> dict:
    actor, _ = _who()
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
    actor, _ = _who()
    with services().db.session() as s:
        _ingest(s)
        ticket = _ticket_or_404(s, ticket_id)
        audit.record(s, actor, "ops.conversation.view", f"handoff_ticket:{ticket_id}", audit.OK,
                     client_ip())
        return _ticket_detail(s, ticket, actor)


def _ticket_action(ticket_id: int, act) -> dict:
    actor, name = _who()
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


# ---- undelivered WeChat messages ----------------------------------------------------------------


@bp.get("/undelivered")
@require_roles(*OPS_ROLES)
@bp.input(UndeliveredQuery, location="query", arg_name="query")
@bp.output(page_schema(UndeliveredOut))
@bp.doc(summary="未送达的微信消息", description="微信拒绝送达的回答（超过48小时未互动、客服消息"
        "条数已达上限、已取消关注……）和未能转交助手的提问，最新的在前。文字已打码，openid "
        "只显示首尾几位。")
def undelivered_list(query: dict) -> dict:
    actor, _ = _who()
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
    actor, name = _who()
    who = tickets.Staff(actor=actor, name=name, ip=client_ip())
    with services().db.session() as s:
        try:
            row = undelivered.resolve(s, message_id, who, body.get("note"))
        except undelivered.UndeliveredNotFound:
            raise ApiError(404, "not_found", f"找不到编号为 {message_id} 的未送达消息",
                           fields={"message_id": "没有这条记录"}) from None
        return _undelivered_row(row)


# ---- training -----------------------------------------------------------------------------------


@bp.post("/training")
@require_roles(*OPS_ROLES)
@bp.output(RunOut, status_code=202)
@bp.doc(summary="开始训练", description="导出仓库的 nlu_data 和已采纳的标注，检查、训练、在测试集上"
        "评估并登记模型。同一时间只能有一个训练。", responses={409: "已有训练在进行中"})
def start_training() -> dict:
    actor, name = _who()
    svc = services()
    with svc.db.session() as s:
        try:
            run = training.start_run(s, actor, name)
        except training.TrainingBusy as exc:
            raise ApiError(409, "training_busy", f"训练 #{exc.run.id} 正在进行，请等它结束。") \
                from None
        audit.record(s, actor, "ops.training.start", f"training_run:{run.id}", audit.OK,
                     client_ip())
        run_id = run.id
    job_id = enqueue_training(svc.redis, run_id, ops_settings().training_timeout_seconds)
    with svc.db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        run.job_id = job_id
        return _run_row(run)


@bp.get("/training")
@require_roles(*OPS_ROLES)
@bp.input(PageIn, location="query", arg_name="query")
@bp.output(page_schema(RunOut))
@bp.doc(summary="训练记录")
def training_runs(query: dict) -> dict:
    with services().db.session() as s:
        training.current_run(s)  # closes a run whose worker died
        return paginate(s, select(training.TrainingRun).order_by(training.TrainingRun.id.desc()),
                        query, _run_row)


@bp.get("/training/<int:run_id>")
@require_roles(*OPS_ROLES)
@bp.input(RunLogQuery, location="query", arg_name="query")
@bp.output(RunDetailOut)
@bp.doc(summary="训练进度和日志", description="用 since=上次的 next_line 只取新增的日志行。")
def training_run(run_id: int, query: dict) -> dict:
    with services().db.session() as s:
        run = s.get(training.TrainingRun, run_id)
        if run is None:
            raise ApiError(404, "not_found", "找不到该训练")
        lines, next_line = training.log_since(run, query["since"])
        return {**_run_row(run), "lines": lines, "next_line": next_line}


# ---- models -------------------------------------------------------------------------------------


@bp.get("/models")
@require_roles(*OPS_ROLES)
@bp.input(PageIn, location="query", arg_name="query")
@bp.output(page_schema(ModelOut))
@bp.doc(summary="模型列表", description="所有训练过的模型，最新的在前。")
def models(query: dict) -> dict:
    with services().db.session() as s:
        live = registry.active_model(s)
        deployed = registry.deployed_ids(s)
        return paginate(s, select(registry.ModelRecord).order_by(registry.ModelRecord.id.desc()),
                        query, lambda r: _model_row(r, live.id if live else None, deployed))


def _model_or_404(session: Any, model_id: int) -> registry.ModelRecord:
    record = session.get(registry.ModelRecord, model_id)
    if record is None:
        raise ApiError(404, "not_found", "找不到该模型")
    return record


@bp.get("/models/<int:model_id>")
@require_roles(*OPS_ROLES)
@bp.output(ModelDetailOut)
@bp.doc(summary="模型详情", description="评估结果、与当前模型的比较、上线检查结果。")
def model_detail(model_id: int) -> dict:
    with services().db.session() as s:
        return _model_detail(s, _model_or_404(s, model_id))


def _deploy_action(model_id: int | None, act) -> dict:
    actor, name = _who()
    with services().db.session() as s:
        outcome = act(s, actor, name)
        target = outcome.deployment.model_id if outcome.deployment else model_id
        detail = _model_detail(s, _model_or_404(s, target)) if target else None
    if not outcome.ok:
        fields = {"gate": "；".join(outcome.verdict.reasons)} if outcome.verdict else None
        raise ApiError(409, "gate_refused" if outcome.verdict else "not_allowed",
                       outcome.message, fields=fields)
    return {"ok": True, "message": outcome.message, "model": detail}


@bp.post("/models/<int:model_id>/activate")
@require_roles(*OPS_ROLES)
@bp.output(ActionOut)
@bp.doc(summary="上线模型", description="通过上线检查才能上线；助手服务在几秒内拉取新模型，"
        "对话不中断。", responses={409: "未通过上线检查（message 说明原因）"})
def activate(model_id: int) -> dict:
    config = _gate_config()
    return _deploy_action(model_id, lambda s, actor, name: registry.activate(
        s, model_id, config, actor, name, client_ip()))


@bp.post("/models/rollback")
@require_roles(*OPS_ROLES)
@bp.input(RollbackIn, arg_name="body")
@bp.output(ActionOut)
@bp.doc(summary="回滚模型", description="回到曾经上线过的模型（默认上一个），无需检查。",
        responses={404: "没有该模型", 409: "没有可回滚的模型或该模型从未上线"})
def rollback(body: dict) -> dict:
    target = body.get("model_id")
    return _deploy_action(target, lambda s, actor, name: registry.rollback(
        s, actor, target, name, client_ip()))


@bp.get("/deployments")
@require_roles(*OPS_ROLES)
@bp.input(PageIn, location="query", arg_name="query")
@bp.output(page_schema(DeploymentOut))
@bp.doc(summary="上线和回滚记录")
def deployments(query: dict) -> dict:
    with services().db.session() as s:
        return paginate(s, select(registry.Deployment).order_by(registry.Deployment.id.desc()),
                        query, lambda d: {
                            "id": d.id, "model_id": d.model_id,
                            "previous_model_id": d.previous_model_id, "action": d.action,
                            "actor": d.actor, "actor_name": d.actor_name, "at": d.at})


# ---- dashboard ----------------------------------------------------------------------------------


@bp.get("/dashboard")
@require_roles(*OPS_ROLES)
@bp.input(DashboardQuery, location="query", arg_name="query")
@bp.output(DashboardOut)
@bp.doc(summary="质量看板", description="每日消息量、未识别率、转人工率、意图分布、最常见的未识别"
        "说法、福利通知送达率和确认率。")
def quality(query: dict) -> dict:
    with services().db.session() as s:
        _ingest(s)
        return dashboard.quality(s, days=query["days"])
