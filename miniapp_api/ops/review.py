"""Review inbox: messages the assistant misunderstood, and their annotations."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Date, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from huimin.ops import conversation_log, review
from huimin.ops.models import ConversationMessage
from huimin.privacy import audit
from huimin.privacy.masking import mask_text, mask_value
from miniapp_api.auth import require_roles
from miniapp_api.context import client_ip
from miniapp_api.errors import ApiError
from miniapp_api.ops.base import OPS_ROLES, PageIn, acting_staff, bp, ingest, ops_settings
from miniapp_api.pagination import page_schema, paginate
from miniapp_api.schemas import UtcDateTime
from webapp.extensions import services


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


def annotation_row(a: review.Annotation | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "id": a.id, "message_id": a.message_id, "action": a.action, "intent": a.intent,
        "entities": list(a.entities or []), "text": mask_text(a.text),
        "annotated_by": a.annotated_by, "annotator_name": a.annotator_name,
        "annotated_at": a.annotated_at, "first_model_id": a.first_model_id,
    }


def message_row(m: ConversationMessage, low: float, annotation: review.Annotation | None = None):
    return {
        "id": m.id, "sender_id": m.sender_id, "role": m.role, "text": mask_text(m.text),
        "intent": m.intent, "confidence": m.confidence,
        "alternatives": list(m.alternatives or []), "entities": mask_value(list(m.entities or [])),
        "model_id": m.model_id, "at": m.at,
        "reasons": review.reasons_of(m, low) if m.role == conversation_log.USER else [],
        "annotation": annotation_row(annotation),
    }




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
    actor, _ = acting_staff()
    with services().db.session() as s:
        ingest(s)
        page = paginate(s, review.inbox_query(flt), query)
        notes = review.annotations_for(s, [m.id for m in page["items"]])
        page["items"] = [message_row(m, low, notes.get(m.id)) for m in page["items"]]
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
    actor, _ = acting_staff()
    with services().db.session() as s:
        message = _message_or_404(s, message_id)
        around = conversation_log.context(s, message)
        notes = review.annotations_for(s, [m.id for m in around])
        audit.record(s, actor, "ops.conversation.view", f"conversation:{message.sender_id}",
                     audit.OK, client_ip(), {"message": message_id})
        return {
            "message": message_row(message, low, notes.get(message.id)),
            "context": [message_row(m, low, notes.get(m.id)) for m in around],
        }


@bp.put("/messages/<int:message_id>/annotation")
@require_roles(*OPS_ROLES)
@bp.input(AnnotationIn, arg_name="body")
@bp.output(AnnotationOut)
@bp.doc(summary="标注消息", description="预测正确、改为正确意图（可标实体）、超出范围或忽略。"
        "标注保存在数据库中，下次训练时使用。", responses={404: "没有这条消息", 422: "标注有误"})
def annotate(message_id: int, body: dict) -> dict:
    actor, name = acting_staff()
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
        return annotation_row(annotation) or {}


@bp.delete("/messages/<int:message_id>/annotation")
@require_roles(*OPS_ROLES)
@bp.output({}, status_code=204)
@bp.doc(summary="撤销标注", description="消息回到待审列表。")
def unannotate(message_id: int) -> str:
    actor, _ = acting_staff()
    with services().db.session() as s:
        _message_or_404(s, message_id)
        if not review.remove_annotation(s, message_id):
            raise ApiError(404, "not_found", "这条消息还没有标注")
        audit.record(s, actor, "ops.annotate.undo", f"message:{message_id}", audit.OK,
                     client_ip())
    return ""
