"""Privacy tables: the audit log and its head, consent records.

Only the mapped classes live here; the rules that use them are in the modules beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from huimin.platform.db import Base, utcnow
from huimin.residents import models as _residents  # noqa: F401 - FK target table

GENESIS = "0" * 64  # the hash before the first audit entry


def aware(value: datetime) -> datetime:
    """The value in UTC, also when SQLite returned it naive."""
    # SQLite returns naive datetimes (stored as UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # "staff:3", "citizen:12", "system", "cli:<os user>": pseudonymous ids, never names.
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    # "resident:5", "staff:7", "handoff_tickets", ...
    target: Mapped[str] = mapped_column(String(128), index=True)
    result: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's tip and where it starts after a purge (single row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    purged_through_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_through_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    granted_to: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL"), index=True
    )
    evidence: Mapped[str | None] = mapped_column(String(255))
    confirmed_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )

    def active_at(self, at: datetime) -> bool:
        if aware(self.granted_at) > at:
            return False
        if self.withdrawn_at is not None and aware(self.withdrawn_at) <= at:
            return False
        return self.expires_at is None or aware(self.expires_at) > at
