"""Real-name binding with proof of presence, attempt limits, and appeals by the real resident.

Knowing someone's name and ID number is not being them: both leak. So binding (accounts.
bind_real_name) needs WeChat's face verification for that very name and ID number, or the
WeChat-confirmed phone matching the bureau's record. This module keeps the face checks in
flight (``FaceChecks``: getverifyid → the mini-program's wx.requestFacialVerify →
queryverifyinfo), limits attempts per citizen account and per ID number (``AttemptLimit``), and
lets the real resident reclaim a record someone else bound (``file_appeal``): the other binding
is suspended at once, staff decide (``resolve_appeal``), both accounts are told.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.identity import accounts
from huimin.identity.accounts import CitizenAccount, RealNameError
from huimin.identity.models import APPEAL_OPEN, RealNameAppeal
from huimin.platform.db import utcnow
from huimin.privacy.pii import ID_NUMBER, PiiCipher
from huimin.wechat.api import FACE_VERIFIED, WeChatApi, face_cert_hash

_PREFIX = "huimin:real-name:"
OPEN = APPEAL_OPEN
UPHELD = "upheld"  # the appellant is the resident: the record moves to their account
REJECTED = "rejected"  # the holder keeps it
DECISIONS = (UPHELD, REJECTED)

# What each account is told (mini-program subscribe message, and the profile's status).
APPEAL_FILED_TO_HOLDER = "有人申诉您绑定的实名信息，相关功能已暂停，工作人员核实后会通知您"
APPEAL_FILED_TO_APPELLANT = "您的实名申诉已提交，工作人员核实后会通知您"
UPHELD_TO_HOLDER = "经核实，您绑定的实名信息不属于您，已解除绑定"
UPHELD_TO_APPELLANT = "经核实申诉成立，请重新完成实名认证"
REJECTED_TO_HOLDER = "申诉未通过，您的实名绑定已恢复"
REJECTED_TO_APPELLANT = "经核实，您的实名申诉未通过，如有疑问请拨打12333"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---- face verification in flight ---------------------------------------------------------------


@dataclass(frozen=True)
class FaceStart:
    verify_id: str
    expires_in: int


class FaceChecks:
    """Face verifications started for an account, kept in Redis until WeChat forgets them.

    Only a hash of the name and ID number is kept (WeChat's cert_hash), so a later binding
    request must name exactly the identity whose face was checked.
    """

    def __init__(self, conn: redis.Redis, wechat: WeChatApi) -> None:
        self.conn, self.wechat = conn, wechat

    @staticmethod
    def _key(verify_id: str) -> str:
        return f"{_PREFIX}face:{_digest(verify_id)}"

    def start(self, account_id: int, openid: str, given: accounts.RealNameInput) -> FaceStart:
        out_seq_no = f"hm{secrets.token_hex(12)}"
        answer = self.wechat.face_verify_id(openid, out_seq_no, given.name, given.id_number)
        verify_id, ttl = str(answer["verify_id"]), int(answer.get("expires_in", 3600))
        pending = {"account": account_id, "seq": out_seq_no,
                   "cert": face_cert_hash(given.name, given.id_number)}
        self.conn.set(self._key(verify_id), json.dumps(pending), ex=max(ttl, 1))
        return FaceStart(verify_id, ttl)

    def passed(self, verify_id: str, account_id: int, openid: str,
               given: accounts.RealNameInput) -> bool:
        """WeChat says this account's user showed the face of exactly this identity.

        Spent on success (one binding per verification); a failure leaves it for a retry."""
        raw = self.conn.get(self._key(verify_id))
        if raw is None:
            return False
        pending = json.loads(raw)
        cert = face_cert_hash(given.name, given.id_number)
        if pending["account"] != account_id or pending["cert"] != cert:
            return False
        ret = self.wechat.face_verify_result(verify_id, pending["seq"], cert, openid)
        if ret != FACE_VERIFIED:
            return False
        return bool(self.conn.delete(self._key(verify_id)))


# ---- attempt limits ----------------------------------------------------------------------------


class AttemptLimit:
    """At most ``per_day`` binding attempts per citizen account and per ID number (hashed),
    whatever their outcome: guessing names against one ID number, or ID numbers from one
    account, stops after a few tries."""

    def __init__(self, conn: redis.Redis, per_day: int) -> None:
        self.conn, self.per_day = conn, per_day

    def allow(self, account_id: int, id_hash: str, now: float | None = None) -> bool:
        day = int((now if now is not None else time.time()) // 86400)
        keys = [f"{_PREFIX}attempts:account:{account_id}:{day}",
                f"{_PREFIX}attempts:id:{id_hash}:{day}"]
        pipe = self.conn.pipeline()
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, 2 * 86400)
        counts = pipe.execute()[0::2]
        return all(int(c) <= self.per_day for c in counts)


def id_hash_for_limit(cipher: PiiCipher, id_number: str) -> str:
    """The keyed hash used for the per-ID limit (never the number itself in Redis)."""
    return cipher.lookup_hash(id_number, field=ID_NUMBER)


# ---- appeals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A line to tell one citizen account (sent by the edge; the profile shows it too)."""

    account_id: int
    openid: str | None
    text: str


def file_appeal(
    session: Session,
    appellant: CitizenAccount,
    given: accounts.RealNameInput,
    cipher: PiiCipher,
    *,
    face_verified: bool,
) -> tuple[RealNameAppeal, list[Notice]]:
    """The real resident (face verified for this identity, or their WeChat-confirmed phone is
    the record's) reclaims a record bound to another account: that binding is suspended
    until staff decide. Any refusal is ``accounts.not_verified()``."""
    resident = accounts.find_resident(session, cipher, given.id_number)
    holder = accounts.holder_of(session, resident.id) if resident is not None else None
    proved = face_verified or accounts.phone_confirms(appellant, resident)
    if resident is None or holder is None or holder.id == appellant.id:
        raise accounts.not_verified("nothing_to_appeal")
    if not proved:
        raise accounts.not_verified("no_proof_of_presence")
    existing = session.scalar(select(RealNameAppeal).where(
        RealNameAppeal.resident_id == resident.id, RealNameAppeal.status == OPEN))
    if existing is not None:
        raise RealNameError("appeal_pending", "id_number", "该实名信息已有申诉正在处理，请耐心等待")
    appeal = RealNameAppeal(resident_id=resident.id, appellant_id=appellant.id,
                            holder_id=holder.id, proof="face" if face_verified else "phone")
    session.add(appeal)
    holder.binding_suspended_at = utcnow()
    session.flush()
    return appeal, [Notice(holder.id, holder.openid, APPEAL_FILED_TO_HOLDER),
                    Notice(appellant.id, appellant.openid, APPEAL_FILED_TO_APPELLANT)]


class AppealError(ValueError):
    """Staff asked for something impossible (plain English, ``field`` names the input)."""

    def __init__(self, message: str, field: str = "_schema") -> None:
        super().__init__(message)
        self.field = field


class AppealNotFound(AppealError):
    """No appeal with that id."""


def resolve_appeal(
    session: Session,
    appeal_id: int,
    decision: str,
    staff_actor: str,
    note: str | None = None,
) -> tuple[RealNameAppeal, list[Notice]]:
    """Uphold (the holder's link is cut, the appellant may bind) or reject (the holder's
    binding is restored). Both accounts are told either way."""
    if decision not in DECISIONS:
        raise AppealError(f"decision must be one of {', '.join(DECISIONS)}", "decision")
    appeal = session.get(RealNameAppeal, appeal_id)
    if appeal is None:
        raise AppealNotFound(f"no appeal {appeal_id}", "appeal_id")
    if appeal.status != OPEN:
        raise AppealError(f"appeal {appeal_id} is already {appeal.status}", "appeal_id")
    holder = session.get(CitizenAccount, appeal.holder_id)
    appellant = session.get(CitizenAccount, appeal.appellant_id)
    if holder is None or appellant is None:
        raise AppealError(f"appeal {appeal_id} names an account that no longer exists")
    holder.binding_suspended_at = None
    if decision == UPHELD:
        # The holder's link is cut (and what they typed in is erased); the record is free,
        # so the appellant binds it with the same proof as anyone, in one more step.
        accounts.unbind_real_name(session, holder)
        texts = (UPHELD_TO_HOLDER, UPHELD_TO_APPELLANT)
    else:
        texts = (REJECTED_TO_HOLDER, REJECTED_TO_APPELLANT)
    appeal.status, appeal.resolved_at, appeal.resolved_by = decision, utcnow(), staff_actor
    appeal.note = note
    session.flush()
    return appeal, [Notice(holder.id, holder.openid, texts[0]),
                    Notice(appellant.id, appellant.openid, texts[1])]


def open_appeal_for(session: Session, account_id: int) -> RealNameAppeal | None:
    """The open appeal this account filed or is the subject of (for its profile)."""
    return session.scalar(select(RealNameAppeal).where(
        RealNameAppeal.status == OPEN,
        (RealNameAppeal.holder_id == account_id) | (RealNameAppeal.appellant_id == account_id),
    ))


def status_of(session: Session, account: CitizenAccount) -> tuple[str, str | None]:
    """(status, latest notice) for the account's profile: ``none``, ``verified``,
    ``suspended`` (someone appealed against this binding) or ``appeal_pending``."""
    appeal = open_appeal_for(session, account.id)
    if account.binding_suspended_at is not None:
        return "suspended", APPEAL_FILED_TO_HOLDER
    if appeal is not None and appeal.appellant_id == account.id:
        return "appeal_pending", APPEAL_FILED_TO_APPELLANT
    last = session.scalar(select(RealNameAppeal).where(
        (RealNameAppeal.holder_id == account.id) | (RealNameAppeal.appellant_id == account.id),
        RealNameAppeal.status != OPEN,
    ).order_by(RealNameAppeal.resolved_at.desc()).limit(1))
    notice = None
    if last is not None:
        to_holder = last.holder_id == account.id
        notice = {(UPHELD, True): UPHELD_TO_HOLDER, (UPHELD, False): UPHELD_TO_APPELLANT,
                  (REJECTED, True): REJECTED_TO_HOLDER,
                  (REJECTED, False): REJECTED_TO_APPELLANT}[(last.status, to_holder)]
    return ("verified" if account.resident_id is not None else "none"), notice
