"""The `benefit_notices` table: one notice per resident, policy and rule version.

The unique constraint is what makes matching exactly-once: however often a batch runs (or
is retried), inserting an existing (resident, policy, rule version) does nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huimin.identity import accounts as _accounts  # noqa: F401 - FK target tables
from huimin.platform.db import Base, utcnow
from huimin.privacy import consent as _consent  # noqa: F401
from huimin.residents import models as _residents  # noqa: F401

# Lifecycle (see huimin.benefits.notices): matched -> notified -> confirmed | declined |
# expired; confirmed -> granted.
MATCHED, NOTIFIED, CONFIRMED, DECLINED, EXPIRED, GRANTED = (
    "matched", "notified", "confirmed", "declined", "expired", "granted",
)
STATUSES = (MATCHED, NOTIFIED, CONFIRMED, DECLINED, EXPIRED, GRANTED)
OPEN = (MATCHED, NOTIFIED)  # waiting for the resident's answer

# How the notice reached (or will reach) the resident.
PENDING = "pending"  # no push job yet
QUEUED = "queued"  # a push job is queued or scheduled
SENDING = "sending"  # a push job claimed it and is talking to WeChat
MINIAPP = "miniapp"  # mini-program subscribe message delivered
OFFICIAL_ACCOUNT = "official_account"  # customer-service message delivered
GRID_WORKER = "grid_worker"  # on the grid worker's worklist (no WeChat channel)
WITHHELD = "withheld"  # the resident opted out of pushes
UNREACHABLE = "unreachable"  # no WeChat channel and no grid
DELIVERIES = (
    PENDING, QUEUED, SENDING, MINIAPP, OFFICIAL_ACCOUNT, GRID_WORKER, WITHHELD, UNREACHABLE,
)


class BenefitNotice(Base):
    __tablename__ = "benefit_notices"
    __table_args__ = (
        UniqueConstraint("resident_id", "policy", "rule_version"),
        Index("ix_benefit_notices_policy_status", "policy", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    policy: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)  # the evaluation date of the match
    amount: Mapped[int | None] = mapped_column(Integer)
    amount_unit: Mapped[str | None] = mapped_column(String(16))
    duration: Mapped[int | None] = mapped_column(Integer)
    duration_unit: Mapped[str | None] = mapped_column(String(16))

    status: Mapped[str] = mapped_column(String(16), default=MATCHED, index=True)
    matched_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # unanswered by then: expired
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    delivery: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    push_started_at: Mapped[datetime | None] = mapped_column()
    push_note: Mapped[str | None] = mapped_column(String(255))  # last push outcome, English
    notified_at: Mapped[datetime | None] = mapped_column()

    # The resident's answer: when, through which channel (huimin.privacy.consent.CHANNELS), and for
    # answers given by a grid worker, who and under which consent.
    confirmed_at: Mapped[datetime | None] = mapped_column()
    declined_at: Mapped[datetime | None] = mapped_column()
    response_channel: Mapped[str | None] = mapped_column(String(32))
    responded_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )
    consent_id: Mapped[int | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL")
    )
    expired_at: Mapped[datetime | None] = mapped_column()
    expire_reason: Mapped[str | None] = mapped_column(String(32))
    granted_at: Mapped[datetime | None] = mapped_column()
    granted_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )
