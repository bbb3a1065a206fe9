"""Identity tables: citizen and staff accounts, refresh tokens.

Only the mapped classes live here; the rules that use them are in the modules beside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from huimin.platform.db import Base, utcnow
from huimin.residents.models import Resident

# Roles: citizens sign in through WeChat, staff with a password (ops and admin also TOTP).
CITIZEN = "citizen"
GRID_WORKER = "grid_worker"
# Confirms the paper consents grid workers record, only in the grids assigned to them.
GRID_SUPERVISOR = "grid_supervisor"
# An employer's (or office's) employment-code scanner: nothing to do with grids or consents.
VERIFIER = "verifier"
OPS = "ops"
ADMIN = "admin"
STAFF_ROLES = (GRID_WORKER, GRID_SUPERVISOR, VERIFIER, OPS, ADMIN)
GRID_ROLES = frozenset({GRID_WORKER, GRID_SUPERVISOR})  # roles with grid assignments
ROLES = (CITIZEN, *STAFF_ROLES)
TOTP_ROLES = frozenset({OPS, ADMIN})
USERNAME_MAX = 64



class CitizenAccount(Base):
    __tablename__ = "citizen_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Mini-program openid; cleared when the account is deleted.
    openid: Mapped[str | None] = mapped_column(String(128), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(128))
    # Official-account openid from WeChat web authorisation (the /my/ pages), the same
    # openid the chat sees; cleared when the account is deleted.
    oa_openid: Mapped[str | None] = mapped_column(String(128), unique=True)
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="SET NULL"), unique=True
    )
    phone_enc: Mapped[str | None] = mapped_column(String(255))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    # Set while another person's appeal against this binding waits for staff (real_name.py):
    # the account then acts as if it had no real name.
    binding_suspended_at: Mapped[datetime | None] = mapped_column()

    resident: Mapped[Resident | None] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.deleted_at is None

    @property
    def bound_resident_id(self) -> int | None:
        """The resident this account may act for: none while the binding is suspended."""
        return None if self.binding_suspended_at is not None else self.resident_id


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Comma-separated, sorted (see STAFF_ROLES).
    roles: Mapped[str] = mapped_column(String(128))
    totp_secret_enc: Mapped[str | None] = mapped_column(String(255))
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    grids: Mapped[list[StaffGrid]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="StaffGrid.grid_id"
    )

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    @property
    def grid_ids(self) -> frozenset[str]:
        return frozenset(g.grid_id for g in self.grids)

    @property
    def needs_totp(self) -> bool:
        return bool(self.role_set & TOTP_ROLES)


class StaffGrid(Base):
    """A grid worker's assignment to a grid (residents.grid_id)."""

    __tablename__ = "staff_grids"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


# Real-name appeals (huimin/identity/real_name.py): the appeal's states.
APPEAL_OPEN = "open"


class RealNameAppeal(Base):
    """The real resident says another account holds their record; staff decide."""

    __tablename__ = "real_name_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"),
                                             index=True)
    appellant_id: Mapped[int] = mapped_column(ForeignKey("citizen_accounts.id"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("citizen_accounts.id"))
    # How the appellant proved presence: "face" or "phone".
    proof: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=APPEAL_OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
