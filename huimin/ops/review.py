"""The review inbox and its annotations.

Inbox: citizens' messages worth a look (fallback, low confidence, followed by a hand-off or by
the citizen repeating themselves, marked unhelpful, answered with a menu of policies), newest
first, filtered by intent, date,
confidence, reason and text, with or without those already reviewed.

Annotations: the reviewer's verdict on one message, stored in the database with who and when
(never written into the repository). "correct", "relabel" (the right intent, optionally entity
spans) and "out_of_scope" become training examples for the next training run; "ignore" only
takes the message out of the inbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from huimin.ops.conversation_log import BOT, FALLBACK_INTENT, USER
from huimin.ops.models import (
    CORRECT,
    IGNORE,
    OUT_OF_SCOPE,
    RELABEL,
    TRAINING_ACTIONS,
    Annotation,
    ConversationMessage,
)
from huimin.platform.db import utcnow
from huimin.platform.settings import ROOT

ACTIONS = (CORRECT, RELABEL, OUT_OF_SCOPE, IGNORE)
OUT_OF_SCOPE_INTENT = "out_of_scope"
REASONS = ("fallback", "low_confidence", "handoff", "repeated", "unhelpful", "menu")
REASON_LABELS = {
    "fallback": "未识别", "low_confidence": "置信度低", "handoff": "随后转人工",
    "repeated": "用户重复提问", "unhelpful": "用户说没帮到", "menu": "让用户选政策",
}
PENDING, REVIEWED, ALL = "pending", "reviewed", "all"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the city's day boundaries for date filters


class ReviewError(ValueError):
    """An annotation the reviewer must fix; ``field`` names the input, message is Chinese."""

    def __init__(self, message: str, field: str = "_schema") -> None:
        super().__init__(message)
        self.field = field


# ---- the assistant's vocabulary -----------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    intents: tuple[str, ...]
    entities: tuple[str, ...]


@lru_cache(maxsize=4)
def _vocabulary(path: Path, mtime: float) -> Vocabulary:
    domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    intents = tuple(
        (next(iter(i)) if isinstance(i, dict) else str(i)) for i in domain.get("intents", [])
    )
    entities = tuple(
        (next(iter(e)) if isinstance(e, dict) else str(e)) for e in domain.get("entities", [])
    )
    return Vocabulary(tuple(i for i in intents if i != FALLBACK_INTENT), entities)


def vocabulary(domain_file: Path = ROOT / "bot" / "domain.yml") -> Vocabulary:
    """Intents a reviewer may choose (the domain's, without the fallback) and entity names."""
    return _vocabulary(domain_file, domain_file.stat().st_mtime)


# ---- the inbox ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    low_confidence: float
    reason: str | None = None
    intent: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    search: str | None = None
    status: str = PENDING
    sender_id: str | None = None


def _reason_condition(reason: str, low: float):
    m = ConversationMessage
    return {
        "fallback": m.fallback.is_(True),
        "low_confidence": and_(m.confidence.is_not(None), m.confidence < low,
                               m.fallback.is_(False)),
        "handoff": m.handoff_after.is_(True),
        "repeated": m.repeated_after.is_(True),
        "unhelpful": m.unhelpful.is_(True),
        "menu": m.menu.is_(True),
    }[reason]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, LOCAL_TZ)


def inbox_query(flt: InboxFilter) -> Select:
    m = ConversationMessage
    query = (
        select(m)
        .outerjoin(Annotation, Annotation.message_id == m.id)
        .where(m.role == USER, ~m.text.startswith("/"))
    )
    if flt.reason:
        query = query.where(_reason_condition(flt.reason, flt.low_confidence))
    else:
        query = query.where(or_(*(_reason_condition(r, flt.low_confidence) for r in REASONS)))
    if flt.status == PENDING:
        query = query.where(Annotation.id.is_(None))
    elif flt.status == REVIEWED:
        query = query.where(Annotation.id.is_not(None))
    if flt.intent:
        query = query.where(m.intent == flt.intent)
    if flt.date_from:
        query = query.where(m.at >= _local_midnight(flt.date_from))
    if flt.date_to:
        query = query.where(m.at < _local_midnight(flt.date_to + timedelta(days=1)))
    if flt.min_confidence is not None:
        query = query.where(m.confidence >= flt.min_confidence)
    if flt.max_confidence is not None:
        query = query.where(m.confidence <= flt.max_confidence)
    if flt.search:
        escaped = flt.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(m.text.like(f"%{escaped}%", escape="\\"))
    if flt.sender_id:
        query = query.where(m.sender_id == flt.sender_id)
    return query.order_by(m.at.desc(), m.id.desc())


def reasons_of(message: ConversationMessage, low_confidence: float) -> list[str]:
    """Why the message is in the inbox (keys of REASON_LABELS)."""
    out = []
    if message.fallback:
        out.append("fallback")
    elif message.confidence is not None and message.confidence < low_confidence:
        out.append("low_confidence")
    if message.handoff_after:
        out.append("handoff")
    if message.repeated_after:
        out.append("repeated")
    if message.unhelpful:
        out.append("unhelpful")
    if message.menu:
        out.append("menu")
    return out


def annotation_of(session: Session, message_id: int) -> Annotation | None:
    return session.scalar(select(Annotation).where(Annotation.message_id == message_id))


def annotations_for(session: Session, ids: list[int]) -> dict[int, Annotation]:
    if not ids:
        return {}
    rows = session.scalars(select(Annotation).where(Annotation.message_id.in_(ids)))
    return {a.message_id: a for a in rows}


# ---- annotating ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    action: str
    intent: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)


def _check_entities(text: str, spans: list[dict[str, Any]], names: tuple[str, ...]):
    clean: list[dict[str, Any]] = []
    for i, span in enumerate(sorted(spans, key=lambda s: int(s.get("start", -1)))):
        try:
            start, end = int(span["start"]), int(span["end"])
            entity = str(span["entity"])
        except (KeyError, TypeError, ValueError):
            raise ReviewError("实体标注缺少 start、end 或 entity", f"entities.{i}") from None
        if entity not in names:
            raise ReviewError(f"没有名为 {entity} 的实体", f"entities.{i}.entity")
        if not 0 <= start < end <= len(text):
            raise ReviewError("实体位置超出了消息文字", f"entities.{i}")
        if clean and start < clean[-1]["end"]:
            raise ReviewError("实体标注不能重叠", f"entities.{i}")
        value = text[start:end]
        if "*" in value:
            raise ReviewError("已隐去的个人信息不能标成实体", f"entities.{i}")
        clean.append({"entity": entity, "start": start, "end": end, "value": value})
    return clean


def annotate(
    session: Session,
    message_id: int,
    verdict: Verdict,
    actor: str,
    actor_name: str | None = None,
    vocab: Vocabulary | None = None,
) -> Annotation:
    """Record (or replace) the reviewer's verdict on one message."""
    message = session.get(ConversationMessage, message_id)
    if message is None or message.role == BOT:
        raise ReviewError("找不到这条消息", "message_id")
    vocab = vocab or vocabulary()
    if verdict.action not in ACTIONS:
        raise ReviewError("不支持的操作", "action")
    intent: str | None
    entities: list[dict[str, Any]] = []
    if verdict.action == CORRECT:
        if not message.intent or message.intent == FALLBACK_INTENT:
            raise ReviewError("助手没有识别出意图，请选择正确的意图", "action")
        intent = message.intent
        entities = _check_entities(
            message.text,
            verdict.entities or [e for e in message.entities if e.get("start") is not None],
            vocab.entities,
        )
    elif verdict.action == RELABEL:
        if not verdict.intent:
            raise ReviewError("请选择正确的意图", "intent")
        if verdict.intent not in vocab.intents:
            raise ReviewError(f"没有名为 {verdict.intent} 的意图", "intent")
        intent = verdict.intent
        entities = _check_entities(message.text, verdict.entities, vocab.entities)
    elif verdict.action == OUT_OF_SCOPE:
        intent = OUT_OF_SCOPE_INTENT
    else:
        intent = None
    annotation = annotation_of(session, message_id)
    if annotation is None:
        annotation = Annotation(message_id=message_id, text=message.text)
        session.add(annotation)
    annotation.action = verdict.action
    annotation.intent = intent
    annotation.entities = entities
    annotation.annotated_by = actor
    annotation.annotator_name = actor_name
    annotation.annotated_at = utcnow()
    session.flush()
    return annotation


def remove_annotation(session: Session, message_id: int) -> bool:
    """Undo: the message goes back to the inbox."""
    annotation = annotation_of(session, message_id)
    if annotation is None:
        return False
    session.delete(annotation)
    session.flush()
    return True


def training_annotations(session: Session) -> list[Annotation]:
    """Accepted annotations (oldest first, so a later verdict on the same text wins)."""
    return list(session.scalars(
        select(Annotation).where(Annotation.action.in_(TRAINING_ACTIONS))
        .order_by(Annotation.annotated_at, Annotation.id)
    ))


def pending_count(session: Session, low_confidence: float) -> int:
    query = inbox_query(InboxFilter(low_confidence=low_confidence))
    return int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
               or 0)

