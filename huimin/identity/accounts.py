"""Accounts that sign in to the API: citizens (through WeChat) and staff (password + TOTP).

Citizens: one ``citizen_accounts`` row per mini-program openid. Binding a phone stores it
encrypted on the account; real-name binding links the account to a ``residents`` row (an
existing one found by the ID number's keyed hash, or a new one) and stores name and ID number
encrypted there. Deleting the account erases what the resident gave us and cuts the link; audit
entries stay (they only hold pseudonymous ids).

Staff: ``staff_accounts`` with argon2id password hashes, roles, grid assignments and, for
``ops`` and ``admin``, a TOTP secret (encrypted like personal data). Five failed sign-ins lock
that username out from that client address for fifteen minutes (huimin/identity/staff_lockout.py).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.identity.idcard import birth_date_of, gender_of, validate_id_number
from huimin.identity.models import (
    GRID_ROLES,
    STAFF_ROLES,
    USERNAME_MAX,
    CitizenAccount,
    StaffAccount,
    StaffGrid,
)
from huimin.identity.passwords import (
    hash_password,
    password_problems,
    verify_password,
    verify_unknown_user,
)
from huimin.identity.totp import new_totp_secret, provisioning_uri, verify_totp
from huimin.platform.db import utcnow
from huimin.privacy import consent
from huimin.privacy.pii import ID_NUMBER, NAME, PHONE, PiiCipher, normalise_name, normalise_phone
from huimin.residents.models import Resident

TOTP_FIELD = "staff_totp_secret"
# Residents this service created (not imported from the bureau's records) carry this prefix.
MINIAPP_RESIDENT_PREFIX = "mp-"
NOT_VERIFIED = "real_name_not_verified"
NOT_VERIFIED_MESSAGE = "实名核验未通过。请核对姓名和身份证号，并完成刷脸验证；如有疑问请拨打12333"


# ---- citizens --------------------------------------------------------------------------------


def citizen_by_openid(
    session: Session, openid: str, unionid: str | None = None
) -> CitizenAccount:
    """The live account for a mini-program openid, created on first sign-in."""
    account = session.scalar(select(CitizenAccount).where(CitizenAccount.openid == openid))
    if account is None:
        account = CitizenAccount(openid=openid, unionid=unionid)
        session.add(account)
    elif unionid and account.unionid != unionid:
        account.unionid = unionid
    account.last_login_at = utcnow()
    session.flush()
    return account


def bind_phone(session: Session, account: CitizenAccount, phone: str, cipher: PiiCipher) -> None:
    """Store the WeChat-verified phone (encrypted + keyed hash), on the resident too if linked."""
    phone = normalise_phone(phone)
    account.phone_enc = cipher.encrypt(phone, field=PHONE)
    account.phone_hash = cipher.lookup_hash(phone, field=PHONE)
    if account.resident is not None:
        account.resident.phone_enc = cipher.encrypt(phone, field=PHONE).encode()
        account.resident.phone_hash = account.phone_hash
    session.flush()


class RealNameError(Exception):
    """Real-name binding refused; ``code`` is stable, ``field`` names the input at fault."""

    def __init__(self, code: str, field: str, citizen_message: str, reason: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.citizen_message = citizen_message
        # Why, for the audit log only: the citizen sees the same answer whatever it is.
        self.reason = reason or code


def validate_name(name: str) -> str | None:
    """A citizen-facing problem with the name, or None."""
    clean = normalise_name(name)
    if not clean:
        return "请输入姓名"
    if len(clean) > 50:
        return "姓名太长"
    if any(ch.isdigit() or not ch.isprintable() for ch in clean):
        return "姓名不能包含数字或特殊字符"
    return None


@dataclass(frozen=True)
class RealNameInput:
    """A name and ID number that passed the format checks (nothing looked up yet)."""

    name: str
    id_number: str


def check_real_name_input(name: str, id_number: str) -> RealNameInput:
    """Format checks only: they depend on the input alone, so naming the field reveals
    nothing about anyone's record (RealNameError otherwise)."""
    problem = validate_name(name)
    if problem:
        raise RealNameError("invalid_name", "name", problem)
    check = validate_id_number(id_number)
    if not check.ok:
        assert check.problem is not None
        raise RealNameError(check.problem.code, "id_number", check.problem.citizen_message)
    return RealNameInput(normalise_name(name), check.number)


def not_verified(reason: str) -> RealNameError:
    """The one answer for every refusal that depends on someone's record (bound elsewhere,
    other name, no proof of presence, face not matched, rate limit): no oracle. ``reason``
    goes to the audit log only."""
    return RealNameError(NOT_VERIFIED, "id_number", NOT_VERIFIED_MESSAGE, reason)


def find_resident(session: Session, cipher: PiiCipher, id_number: str) -> Resident | None:
    id_hash = cipher.lookup_hash(id_number, field=ID_NUMBER)
    return session.scalar(select(Resident).where(Resident.id_number_hash == id_hash))


def holder_of(session: Session, resident_id: int) -> CitizenAccount | None:
    return session.scalar(select(CitizenAccount).where(CitizenAccount.resident_id == resident_id))


def phone_confirms(account: CitizenAccount, resident: Resident | None) -> bool:
    """The phone WeChat confirmed for this account (getuserphonenumber) is the one in the
    bureau's record: proof enough that the record's owner holds this WeChat account."""
    return (resident is not None and not resident.external_id.startswith(
        MINIAPP_RESIDENT_PREFIX) and bool(resident.phone_hash)
        and account.phone_hash == resident.phone_hash)


def bind_real_name(
    session: Session,
    account: CitizenAccount,
    name: str,
    id_number: str,
    cipher: PiiCipher,
    channel: str = "miniapp",
    *,
    face_verified: bool = False,
) -> Resident:
    """Link the account to the resident with this ID number and record the separate consent.

    Knowing a name and an ID number proves nothing (both leak), so the person must be shown
    to be present: WeChat's face verification for exactly this name and ID number
    (``face_verified``, checked by the caller with queryverifyinfo), or the WeChat-confirmed
    phone of the account matching the phone in the bureau's record. The name must also
    match the record, and a record bound to another account stays theirs (the real resident
    appeals: real_name.py). Every such refusal is the same ``not_verified`` error.
    """
    given = check_real_name_input(name, id_number)
    clean_name, number = given.name, given.id_number
    id_hash = cipher.lookup_hash(number, field=ID_NUMBER)
    if account.resident is not None and account.resident.id_number_hash != id_hash:
        raise RealNameError("already_bound", "id_number", "您已完成实名认证，如需更换请先解除")
    resident = find_resident(session, cipher, number)
    if resident is not None:
        holder = holder_of(session, resident.id)
        if holder is not None and holder.id != account.id:
            raise not_verified("id_number_bound")
        if resident.name_enc is not None:
            stored = cipher.decrypt(resident.name_enc.decode(), field=NAME)
            if normalise_name(stored) != clean_name:
                raise not_verified("name_mismatch")
    if not (face_verified or phone_confirms(account, resident)):
        raise not_verified("no_proof_of_presence")
    if resident is None:
        resident = Resident(
            external_id=f"{MINIAPP_RESIDENT_PREFIX}{uuid.uuid4().hex}",
            birth_date=birth_date_of(number),
            gender=gender_of(number).value,
        )
        session.add(resident)
    resident.name_enc = cipher.encrypt(clean_name, field=NAME).encode()
    resident.id_number_enc = cipher.encrypt(number, field=ID_NUMBER).encode()
    resident.id_number_hash = id_hash
    if account.phone_enc:
        phone = cipher.decrypt(account.phone_enc, field=PHONE)
        resident.phone_enc = cipher.encrypt(phone, field=PHONE).encode()
        resident.phone_hash = account.phone_hash
    resident.openid = account.openid
    session.flush()
    account.resident_id = resident.id
    account.resident = resident
    consent.grant(session, resident.id, consent.REAL_NAME, channel)
    session.flush()
    return resident


def unbind_real_name(session: Session, account: CitizenAccount) -> None:
    """Withdrawing the real-name consent: cut the link and erase what the citizen gave us."""
    resident = account.resident
    if resident is None:
        return
    consent.withdraw(session, resident.id, consent.REAL_NAME)
    _erase_resident_identity(resident)
    _forget(account, _ACCOUNT_LINK)
    session.flush()


# What a citizen gave us, column by column: erased on unbinding or deletion.
_ACCOUNT_LINK = ("resident_id", "resident")
_ACCOUNT_IDENTITY = (*_ACCOUNT_LINK, "openid", "oa_openid", "unionid", "phone_enc", "phone_hash")
_RESIDENT_IDENTITY = ("name_enc", "id_number_enc", "id_number_hash", "phone_enc", "phone_hash",
                      "birth_date", "gender", "grid_id")


def _forget(row: object, columns: tuple[str, ...]) -> None:
    """Set these mapped columns (or relationships) to None; a misspelt name fails loudly."""
    for column in columns:
        if not hasattr(type(row), column):
            raise AttributeError(f"{type(row).__name__} has no column {column!r}")
        setattr(row, column, None)


def _erase_resident_identity(resident: Resident) -> None:
    resident.openid = None
    if resident.external_id.startswith(MINIAPP_RESIDENT_PREFIX):
        # We created this row from the citizen's own input: nothing of it may stay.
        _forget(resident, _RESIDENT_IDENTITY)


# Other parts of the domain register what account deletion must also do for a resident
# (e.g. revoke an employment code): ``register_eraser(fn)``, fn(session, resident_id).
_ERASERS: list[Callable[[Session, int], None]] = []


def register_eraser(fn: Callable[[Session, int], None]) -> Callable[[Session, int], None]:
    """Run ``fn(session, resident_id)`` inside every account deletion (same transaction)."""
    if fn not in _ERASERS:
        _ERASERS.append(fn)
    return fn


def erase_citizen(session: Session, account: CitizenAccount) -> None:
    """Account deletion: consents end, personal data goes, the row stays as a tombstone."""
    resident = account.resident
    if resident is not None:
        for eraser in _ERASERS:
            eraser(session, resident.id)
        consent.withdraw_all(session, resident.id)
        _erase_resident_identity(resident)
        resident.wechat_channel = False
        resident.push_opt_out = True
    _forget(account, _ACCOUNT_IDENTITY)
    account.deleted_at = utcnow()
    session.flush()


# ---- staff -----------------------------------------------------------------------------------


class StaffError(ValueError):
    """Invalid staff account data; the message is plain English for operators, ``field``
    names the input at fault."""

    def __init__(self, message: str, field: str = "_schema") -> None:
        super().__init__(message)
        self.field = field


def parse_roles(roles: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    clean = sorted({r.strip() for r in roles if r.strip()})
    if not clean:
        raise StaffError("at least one role is required", "roles")
    unknown = [r for r in clean if r not in STAFF_ROLES]
    if unknown:
        raise StaffError(
            f"unknown role(s) {', '.join(unknown)}; staff roles are {', '.join(STAFF_ROLES)}",
            "roles",
        )
    return ",".join(clean)


@dataclass(frozen=True)
class NewStaff:
    account: StaffAccount
    totp_uri: str | None


def create_staff(
    session: Session,
    username: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    cipher: PiiCipher,
    grids: list[str] | tuple[str, ...] = (),
) -> NewStaff:
    """Create an account; for ops/admin also a TOTP secret, whose URI is shown once."""
    username = username.strip()
    if not username or len(username) > USERNAME_MAX or not username.isprintable():
        raise StaffError(f"username must be 1-{USERNAME_MAX} printable characters", "username")
    if session.scalar(select(StaffAccount).where(StaffAccount.username == username)):
        raise StaffError(f"username {username!r} is taken", "username")
    problems = password_problems(password, username=username)
    if problems:
        raise StaffError(" ".join(problems), "password")
    role_text = parse_roles(roles)
    grid_ids = sorted({g.strip() for g in grids if g.strip()})
    if grid_ids and not GRID_ROLES & set(role_text.split(",")):
        raise StaffError("grid assignments are for grid_worker and grid_supervisor accounts",
                         "grids")
    account = StaffAccount(
        username=username, password_hash=hash_password(password), roles=role_text,
        grids=[StaffGrid(grid_id=g) for g in grid_ids],
    )
    uri = None
    if account.needs_totp:
        secret = new_totp_secret()
        account.totp_secret_enc = cipher.encrypt(secret, field=TOTP_FIELD)
        uri = provisioning_uri(secret, username)
    session.add(account)
    session.flush()
    return NewStaff(account=account, totp_uri=uri)


class LoginOutcome(enum.StrEnum):
    OK = "ok"
    INVALID = "invalid_credentials"
    LOCKED = "locked"
    TOTP_REQUIRED = "totp_required"
    TOTP_INVALID = "totp_invalid"
    TOTP_REPLAYED = "totp_replayed"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class StaffLogin:
    outcome: LoginOutcome
    account: StaffAccount | None = None
    retry_after: int | None = None


class LoginLock(Protocol):
    """Where failed sign-ins are counted (huimin.staff_lockout.PairLock: per username and
    client address, so a stranger cannot lock a staff member out)."""

    def retry_after(self) -> int | None: ...

    def failed(self) -> int | None: ...

    def succeeded(self) -> None: ...


def _fail(account: StaffAccount | None, lock: LoginLock, outcome: LoginOutcome) -> StaffLogin:
    locked_for = lock.failed()
    if locked_for is not None:
        return StaffLogin(LoginOutcome.LOCKED, account, locked_for)
    return StaffLogin(outcome, account)


def authenticate_staff(
    session: Session,
    username: str,
    password: str,
    totp_code: str | None,
    cipher: PiiCipher,
    now: datetime | None = None,
    *,
    lock: LoginLock,
) -> StaffLogin:
    """Password, then (ops/admin) TOTP; failures are counted on ``lock``, which refuses
    further tries for a while after ``staff_lockout.MAX_FAILURES``.

    A missing TOTP code after a correct password is not a failure (the client asks for it);
    a wrong or replayed one is. Unknown usernames count too, so a lockout says nothing about
    whether the account exists.
    """
    now = now or utcnow()
    retry = lock.retry_after()
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    if retry is not None:
        return StaffLogin(LoginOutcome.LOCKED, account, retry)
    if account is None:
        verify_unknown_user(password)
        return _fail(None, lock, LoginOutcome.INVALID)
    check = verify_password(account.password_hash, password)
    if not check.ok:
        return _fail(account, lock, LoginOutcome.INVALID)
    if not account.active:
        return StaffLogin(LoginOutcome.INACTIVE, account)
    if check.new_hash:
        account.password_hash = check.new_hash
    if account.needs_totp:
        if not totp_code:
            return StaffLogin(LoginOutcome.TOTP_REQUIRED, account)
        if account.totp_secret_enc is None:
            return StaffLogin(LoginOutcome.TOTP_INVALID, account)
        secret = cipher.decrypt(account.totp_secret_enc, field=TOTP_FIELD)
        result = verify_totp(
            secret, totp_code, last_used_counter=account.totp_last_counter, at=now.timestamp()
        )
        if not result.ok:
            outcome = LoginOutcome.TOTP_REPLAYED if result.replayed else LoginOutcome.TOTP_INVALID
            return _fail(account, lock, outcome)
        account.totp_last_counter = result.counter
    lock.succeeded()
    account.last_login_at = now
    session.flush()
    return StaffLogin(LoginOutcome.OK, account)


def staff_by_username(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username))
