"""Guide tables: care-mode choices.

Only the mapped classes live here; the rules that use them are in the modules beside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from huimin.platform.db import Base, utcnow


class CareModeChoice(Base):
    __tablename__ = "care_mode_choices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), unique=True
    )
    citizen_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizen_accounts.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
