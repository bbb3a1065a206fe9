"""Ops tables: conversation log, hand-off tickets and events, annotations, training runs, models.

Only the mapped classes live here; the rules that use them are in the modules beside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huimin.platform.db import Base, utcnow

# Hand-off ticket states.
OPEN, CLAIMED, CLOSED = "open", "claimed", "closed"
# What a reviewer did with a message; the first three feed the next training.
CORRECT, RELABEL, OUT_OF_SCOPE, IGNORE = "correct", "relabel", "out_of_scope", "ignore"
TRAINING_ACTIONS = frozenset({CORRECT, RELABEL, OUT_OF_SCOPE})
# Training-run states.
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


class ConversationMessage(Base):
    __tablename__ = "conversation_messages"
    __table_args__ = (Index("ix_conversation_messages_sender_at", "sender_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Where it came from: the event stream's entry id ("1700000000000-0"), unique.
    source_key: Mapped[str] = mapped_column(String(64), unique=True)
    sender_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(8))  # user | bot
    text: Mapped[str] = mapped_column(Text, default="")  # masked
    intent: Mapped[str | None] = mapped_column(String(64), index=True)
    confidence: Mapped[float | None] = mapped_column(Float, index=True)
    # [{"intent": name, "confidence": c}, ...] best first, the top intent included.
    alternatives: Mapped[list] = mapped_column(JSON, default=list)
    # [{"entity", "start", "end", "value"}] as the NLU extracted them.
    entities: Mapped[list] = mapped_column(JSON, default=list)
    model_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    handoff_after: Mapped[bool] = mapped_column(Boolean, default=False)
    repeated_after: Mapped[bool] = mapped_column(Boolean, default=False)
    unhelpful: Mapped[bool] = mapped_column(Boolean, default=False)
    # The assistant's reply: a menu of policies to choose from (it hesitated), or a referral
    # to another department.
    menu: Mapped[bool] = mapped_column(Boolean, default=False)
    referral: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def is_payload(self) -> bool:
        """A button/menu payload ("/check_benefits"), not words a citizen typed."""
        return self.text.startswith("/")


class IngestCursor(Base):
    """How far the event stream has been copied (one row per stream)."""

    __tablename__ = "conversation_ingest_cursor"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[str] = mapped_column(String(64), default="0-0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HandoffTicket(Base):
    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    last_message: Mapped[str] = mapped_column(Text, default="")
    # The conversation so far, personal data masked before it is stored.
    transcript: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelRecord(Base):
    __tablename__ = "ops_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    # The model's own id (Rasa's metadata.json): what conversation events carry.
    rasa_model_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Fingerprint of the exported training data (nlu_data, annotations, domain, config ...).
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # training | installed
    started_by: Mapped[str] = mapped_column(String(128))  # actor, e.g. "staff:3"
    started_by_name: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    training_run_id: Mapped[int | None] = mapped_column(Integer)
    annotation_count: Mapped[int] = mapped_column(Integer, default=0)
    # {accuracy, macro_f1, weighted_f1, per_intent_f1, support, heldout_sha, evaluated_at}
    evaluation: Mapped[dict | None] = mapped_column(JSON)
    # The evaluation compared with the model that was live when this one was registered.
    baseline: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)

    @property
    def filename(self) -> str:
        return f"{self.name}.tar.gz"


class ModelFile(Base):
    """A model archive in the store (huimin/ops/model_store.py): its address and length."""

    __tablename__ = "ops_model_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)  # rows in ops_model_blobs; -1 while writing
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelBlob(Base):
    """One chunk (1 MiB) of a stored model archive, in order of ``seq``."""

    __tablename__ = "ops_model_blobs"

    sha256: Mapped[str] = mapped_column(
        ForeignKey("ops_model_files.sha256", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Deployment(Base):
    """One activation, rollback or bootstrap; the newest row names the live model."""

    __tablename__ = "ops_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("ops_models.id"), index=True)
    previous_model_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Annotation(Base):
    __tablename__ = "ops_annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("conversation_messages.id", ondelete="CASCADE"), unique=True
    )
    action: Mapped[str] = mapped_column(String(16), index=True)
    intent: Mapped[str | None] = mapped_column(String(64))
    # [{"entity", "start", "end", "value"}] on ``text``.
    entities: Mapped[list] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)  # the (masked) example text
    annotated_by: Mapped[str] = mapped_column(String(128))  # actor, e.g. "staff:3"
    annotator_name: Mapped[str | None] = mapped_column(String(64))
    annotated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The first model trained with this example (None until a training run uses it).
    first_model_id: Mapped[int | None] = mapped_column(Integer)

    @property
    def trains(self) -> bool:
        return self.action in TRAINING_ACTIONS


class TicketEvent(Base):
    __tablename__ = "ops_ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)  # reply, masked
    delivered: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingRun(Base):
    __tablename__ = "ops_training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    stage: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # 0..100
    started_by: Mapped[str] = mapped_column(String(128))
    started_by_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    job_id: Mapped[str | None] = mapped_column(String(64))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("ops_models.id"))
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    annotation_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[str] = mapped_column(Text, default="")
    log_lines: Mapped[int] = mapped_column(Integer, default=0)  # lines ever written
