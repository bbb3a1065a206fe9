"""The `residents` table: identity (encrypted / hashed), channels, and one column per fact.

Fact columns are named exactly as the facts contract (huimin.residents.facts) so the rules
compile to SQL over this table without a mapping layer; NULL means unknown.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from huimin.platform.db import Base, utcnow


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    openid: Mapped[str | None] = mapped_column(String(128), unique=True)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(128), index=True)
    wechat_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    push_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped whenever a fact changes, so re-matching can target changed residents only.
    facts_version: Mapped[int] = mapped_column(Integer, default=1)

    # Facts (see huimin.residents.facts). Indexed where batch matching filters narrow
    # the table: age thresholds, recent dates, employment status, final-year students.
    birth_date: Mapped[date | None] = mapped_column(Date, index=True)
    gender: Mapped[str | None] = mapped_column(String(16))
    local_hukou: Mapped[bool | None] = mapped_column(Boolean)
    employment_status: Mapped[str | None] = mapped_column(String(16), index=True)
    registered_unemployed: Mapped[bool | None] = mapped_column(Boolean)
    involuntary_separation: Mapped[bool | None] = mapped_column(Boolean)
    unemployment_insurance_months: Mapped[int | None] = mapped_column(Integer)
    hard_to_employ: Mapped[bool | None] = mapped_column(Boolean)
    flexible_employment_registered: Mapped[bool | None] = mapped_column(Boolean)
    paying_pension_insurance: Mapped[bool | None] = mapped_column(Boolean)
    receiving_pension: Mapped[bool | None] = mapped_column(Boolean)
    resident_pension_insured: Mapped[bool | None] = mapped_column(Boolean)
    pension_contribution_years: Mapped[int | None] = mapped_column(Integer)
    graduation_date: Mapped[date | None] = mapped_column(Date, index=True)
    final_year_student: Mapped[bool | None] = mapped_column(Boolean, index=True)
    low_income_household: Mapped[bool | None] = mapped_column(Boolean)
    disabled: Mapped[bool | None] = mapped_column(Boolean)
    business_registered_date: Mapped[date | None] = mapped_column(Date, index=True)
    startup_subsidy_received: Mapped[bool | None] = mapped_column(Boolean)
    returned_migrant_worker: Mapped[bool | None] = mapped_column(Boolean)
    certificate_level: Mapped[int | None] = mapped_column(Integer)
    certificate_date: Mapped[date | None] = mapped_column(Date, index=True)
