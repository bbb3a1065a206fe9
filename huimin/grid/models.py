"""Tables of the grid-worker features: visit notes and consent requests.

Consent itself lives in ``consents`` (huimin.privacy.consent); a request is the step before it: a
one-tap request waiting for the resident in WeChat, or a paper form recorded by a grid worker
and waiting for a second staff member to confirm it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from huimin.identity import accounts
from huimin.platform.db import Base, utcnow
from huimin.residents import models as _residents  # noqa: F401 - FK target table

# GridConsentRequest.kind
WECHAT, PAPER = "wechat", "paper"
# GridConsentRequest.status
PENDING, GRANTED, DECLINED = "pending", "granted", "declined"
REJECTED, EXPIRED = "rejected", "expired"

# GridVisit.outcome
VISIT_OUTCOMES: dict[str, str] = {
    "met": "见到本人",
    "helped": "已协助办理",
    "not_home": "不在家",
    "declined_help": "本人不需要帮助",
}


class GridVisit(Base):
    __tablename__ = "grid_visits"
    __table_args__ = (
        UniqueConstraint("staff_id", "client_key", name="uq_grid_visits_staff_client_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL"), index=True
    )
    consent_id: Mapped[int | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL")
    )
    visited_at: Mapped[datetime] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(32))
    # ID and phone numbers masked before storing.
    note: Mapped[str] = mapped_column(Text, default="")
    next_visit_on: Mapped[date | None] = mapped_column()
    # The phone's idempotency key: a note written offline is stored once however often
    # the workbench sends it (one staff member's keys are unique).
    client_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GridConsentRequest(Base):
    __tablename__ = "grid_consent_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # wechat | paper
    scopes: Mapped[list] = mapped_column(JSON)
    # How long the consent runs once given.
    days: Mapped[int] = mapped_column(Integer)
    # The consent is for this grid worker only (else any grid worker of the resident's grid).
    only_requester: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL"), index=True
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A one-tap request lapses unanswered; a paper form must be confirmed in time.
    answer_by: Mapped[datetime] = mapped_column()
    # Paper: the reference of the photo of the signed form (no image bytes here).
    evidence: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column()
    consent_ids: Mapped[list] = mapped_column(JSON, default=list)


@accounts.register_eraser
def erase_for_resident(session: Session, resident_id: int) -> None:
    """Account deletion: unanswered requests lapse, and the free text of visit notes goes
    (who visited when, and the outcome, stay: staff remain accountable for their visits)."""
    now = utcnow()
    session.execute(
        update(GridConsentRequest)
        .where(GridConsentRequest.resident_id == resident_id,
               GridConsentRequest.status == PENDING)
        .values(status=EXPIRED, decided_at=now)
    )
    session.execute(update(GridVisit).where(GridVisit.resident_id == resident_id).values(note=""))
