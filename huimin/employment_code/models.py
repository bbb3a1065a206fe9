"""Employment-code tables: issued codes and verifier scans.

Only the mapped classes live here; the rules that use them are in the modules beside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huimin.platform.db import Base, utcnow


class IssuedCodeRecord(Base):
    """One issued code. `code` is kept (no personal data in it) so the holder's short-lived
    QR image URLs can render it; it is useless after `expires_at`."""

    __tablename__ = "employment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(16), unique=True)
    subject: Mapped[str] = mapped_column(String(22), unique=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    kid: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(16))


class ScanRecord(Base):
    """One verification through our API: who (public or a named verifier), when, result.
    `resident_id` is set when the code's signature checked out and we know its holder."""

    __tablename__ = "employment_code_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("employment_codes.id", ondelete="SET NULL"), index=True
    )
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(32))
    verifier_kind: Mapped[str] = mapped_column(String(16))
    verifier_id: Mapped[str | None] = mapped_column(String(64))
    verifier_name: Mapped[str | None] = mapped_column(String(64))
    disclosed: Mapped[bool] = mapped_column(default=False)
