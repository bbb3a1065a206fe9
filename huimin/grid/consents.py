"""Consent for grid workers, collected two ways, recorded through huimin.privacy.consent.

- In WeChat, one tap: a grid worker asks; the resident gets a message with a link that
  opens the mini-program's consent page, and one tap there grants it.
- On paper: the grid worker records the signed form with a reference to its photo; it takes
  effect only when a grid supervisor of the resident's grid (never the person who recorded
  it) has checked the photo and confirmed it. An employer's code verifier or an admin cannot:
  a grid worker and a friendly account outside the grid must not be able to make consent.

Either way the consent runs for ``days`` (default 30) from when it is given and the resident
can withdraw it at any time (DELETE /api/v1/me/consents/<scope>, huimin.privacy.consent.withdraw).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from huimin.grid import notify
from huimin.grid.access import GridDenied, authorize
from huimin.grid.actions import Done, record
from huimin.grid.models import (
    DECLINED,
    EXPIRED,
    GRANTED,
    PAPER,
    PENDING,
    REJECTED,
    WECHAT,
    GridConsentRequest,
)
from huimin.identity.models import GRID_SUPERVISOR, GRID_WORKER, StaffAccount
from huimin.platform.db import utcnow
from huimin.privacy import consent
from huimin.residents.models import Resident

DEFAULT_DAYS = 30
MAX_DAYS = 365
# A one-tap request the resident has not answered lapses; so does an unconfirmed paper form.
ANSWER_WITHIN = timedelta(days=7)
GRANTABLE = (consent.GRID_WORKER_ASSIST, *consent.GRID_SCOPES)
CONFIRMER_ROLES = frozenset({GRID_SUPERVISOR})

SCOPE_REQUIRED = (422, "invalid_input", "请选择授权范围")
NO_WECHAT = (409, "no_wechat", "该居民没有可用的微信，请使用纸质授权")
REQUEST_GONE = (404, "not_found", "找不到这条授权请求")
REQUEST_CLOSED = (409, "request_closed", "这条授权请求已处理或已过期")
SAME_PERSON = (403, "second_staff_required", "纸质授权须由另一名工作人员确认")
NOT_CONFIRMER = (403, "forbidden", "您没有权限确认这份授权")
REQUESTER_LEFT = (409, "requester_not_in_grid", "提出请求的网格员已不负责您所在的网格")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """Grid scopes only; ``grid_worker_assist`` stands for all three."""
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in GRANTABLE]
    if unknown or not chosen:
        raise GridDenied(*SCOPE_REQUIRED)
    if consent.GRID_WORKER_ASSIST in chosen:
        return [consent.GRID_WORKER_ASSIST]
    return chosen


def _days(days: int | None) -> int:
    if days is None:
        return DEFAULT_DAYS
    if not 1 <= days <= MAX_DAYS:
        raise GridDenied(422, "invalid_input", f"有效期应为 1 到 {MAX_DAYS} 天")
    return days


def _lapsed(request: GridConsentRequest, now: datetime) -> bool:
    return _aware(request.answer_by) <= now


def _open(session: Session, request_id: int, kind: str) -> GridConsentRequest:
    request = session.get(GridConsentRequest, request_id)
    if request is None or request.kind != kind:
        raise GridDenied(*REQUEST_GONE)
    now = utcnow()
    if request.status == PENDING and _lapsed(request, now):
        request.status = EXPIRED
        request.decided_at = now
        session.flush()
    if request.status != PENDING:
        raise GridDenied(*REQUEST_CLOSED)
    return request


def _grant(
    session: Session, request: GridConsentRequest, channel: str, confirmed_by: int | None
) -> list[consent.Consent]:
    now = utcnow()
    granted = [
        consent.grant(
            session, request.resident_id, scope, channel,
            expires_at=now + timedelta(days=request.days),
            granted_to=request.requested_by if request.only_requester else None,
            evidence=request.evidence, confirmed_by=confirmed_by,
        )
        for scope in request.scopes
    ]
    request.consent_ids = [c.id for c in granted]
    request.decided_at = now
    return granted


# ---- one tap in WeChat ---------------------------------------------------------------------


def request_in_wechat(
    session: Session,
    staff_id: int,
    resident_id: int,
    scopes: Iterable[str],
    *,
    days: int | None = None,
    only_me: bool = False,
    link_for: Callable[[int], str] = lambda request_id: "",
    ip: str | None = None,
) -> tuple[GridConsentRequest, Done]:
    """Ask the resident (their grid only). An unanswered request by the same grid worker is
    replaced, so asking twice does not leave two requests on the resident's screen."""
    auth = authorize(session, staff_id, resident_id)
    if notify.wechat_openid(session, resident_id) is None:
        raise GridDenied(*NO_WECHAT)
    chosen, length = clean_scopes(scopes), _days(days)
    now = utcnow()
    for old in session.scalars(select(GridConsentRequest).where(
        GridConsentRequest.resident_id == resident_id, GridConsentRequest.kind == WECHAT,
        GridConsentRequest.requested_by == staff_id, GridConsentRequest.status == PENDING,
    )):
        old.status, old.decided_at = EXPIRED, now
    request = GridConsentRequest(
        resident_id=resident_id, kind=WECHAT, scopes=chosen, days=length,
        only_requester=only_me, requested_by=staff_id, requested_at=now,
        answer_by=now + ANSWER_WITHIN, status=PENDING, consent_ids=[],
    )
    session.add(request)
    session.flush()
    done = record(
        session, auth.actor, "grid.consent.request", resident_id,
        {"request_id": request.id, "scopes": chosen, "days": length}, ip=ip,
        notify=notify.consent_requested(auth.staff.username, length, link_for(request.id)),
    )
    return request, done


def pending_for(session: Session, resident_id: int) -> list[GridConsentRequest]:
    """One-tap requests waiting for this resident's answer."""
    now = utcnow()
    rows = session.scalars(select(GridConsentRequest).where(
        GridConsentRequest.resident_id == resident_id, GridConsentRequest.kind == WECHAT,
        GridConsentRequest.status == PENDING,
    ).order_by(GridConsentRequest.id))
    return [r for r in rows if not _lapsed(r, now)]


def answer(
    session: Session,
    resident_id: int,
    request_id: int,
    accept: bool,
    *,
    actor: str,
    channel: str = "miniapp",
    ip: str | None = None,
) -> GridConsentRequest:
    """The resident's one tap: yes grants the consent, no declines the request."""
    request = _open(session, request_id, WECHAT)
    if request.resident_id != resident_id:
        raise GridDenied(*REQUEST_GONE)
    if not accept:
        request.status, request.decided_at = DECLINED, utcnow()
        record(session, actor, "grid.consent.decline", resident_id,
               {"request_id": request.id}, ip=ip)
        return request
    requester = session.get(StaffAccount, request.requested_by) if request.requested_by else None
    resident_grid = _resident_grid(session, resident_id)
    if (requester is None or not requester.active or GRID_WORKER not in requester.role_set
            or resident_grid not in requester.grid_ids):
        raise GridDenied(*REQUESTER_LEFT)
    granted = _grant(session, request, channel, None)
    request.status = GRANTED
    record(session, actor, "consent.grant", resident_id, {
        "request_id": request.id, "scopes": list(request.scopes), "days": request.days,
        "consent_ids": [c.id for c in granted], "granted_to": granted[0].granted_to,
    }, ip=ip)
    return request


def _resident_grid(session: Session, resident_id: int) -> str | None:
    resident = session.get(Resident, resident_id)
    return resident.grid_id if resident is not None else None


# ---- paper, confirmed by a second staff member -------------------------------------------------


def record_paper(
    session: Session,
    staff_id: int,
    resident_id: int,
    scopes: Iterable[str],
    evidence: str,
    *,
    days: int | None = None,
    only_me: bool = False,
    ip: str | None = None,
) -> tuple[GridConsentRequest, Done]:
    """A signed paper form, recorded by the grid worker; not in force until confirmed."""
    auth = authorize(session, staff_id, resident_id)
    evidence = evidence.strip()
    if not evidence or len(evidence) > 255:
        raise GridDenied(422, "invalid_input", "请填写纸质授权书照片的编号或地址")
    chosen, length = clean_scopes(scopes), _days(days)
    now = utcnow()
    request = GridConsentRequest(
        resident_id=resident_id, kind=PAPER, scopes=chosen, days=length,
        only_requester=only_me, requested_by=staff_id, requested_at=now,
        answer_by=now + ANSWER_WITHIN, evidence=evidence, status=PENDING, consent_ids=[],
    )
    session.add(request)
    session.flush()
    done = record(session, auth.actor, "grid.consent.paper_record", resident_id,
                  {"request_id": request.id, "scopes": chosen, "days": length,
                   "evidence": evidence}, ip=ip)
    return request, done


def _confirmer(session: Session, staff_id: int, request: GridConsentRequest) -> StaffAccount:
    staff = session.get(StaffAccount, staff_id)
    if staff is None or not staff.active:
        raise GridDenied(*NOT_CONFIRMER)
    if staff.id == request.requested_by:
        raise GridDenied(*SAME_PERSON)
    grid = _resident_grid(session, request.resident_id)
    if staff.role_set & CONFIRMER_ROLES and grid is not None and grid in staff.grid_ids:
        return staff
    raise GridDenied(*NOT_CONFIRMER)


def decide_paper(
    session: Session,
    staff_id: int,
    request_id: int,
    confirm: bool,
    *,
    reason: str = "",
    ip: str | None = None,
) -> tuple[GridConsentRequest, Done]:
    """The grid supervisor's check of the photo: confirm puts the consent in force.

    Who may decide is checked before the request's state, so staff outside the grid learn
    nothing about it (not even that it was decided)."""
    found = session.get(GridConsentRequest, request_id)
    if found is None or found.kind != PAPER:
        raise GridDenied(*REQUEST_GONE)
    staff = _confirmer(session, staff_id, found)
    request = _open(session, request_id, PAPER)
    request.decided_by = staff.id
    actor = f"staff:{staff.id}"
    if not confirm:
        request.status, request.decided_at = REJECTED, utcnow()
        done = record(session, actor, "grid.consent.paper_reject", request.resident_id,
                      {"request_id": request.id, "reason": reason[:200]}, ip=ip)
        return request, done
    granted = _grant(session, request, "grid_worker", staff.id)
    request.status = GRANTED
    done = record(session, actor, "grid.consent.paper_confirm", request.resident_id, {
        "request_id": request.id, "scopes": list(request.scopes), "days": request.days,
        "consent_ids": [c.id for c in granted], "recorded_by": request.requested_by,
    }, ip=ip, notify=notify.paper_consent_confirmed(request.days))
    return request, done


def paper_to_confirm(session: Session, staff_id: int) -> list[GridConsentRequest]:
    """Pending paper forms this grid supervisor may confirm: their grids, never their own."""
    staff = session.get(StaffAccount, staff_id)
    if staff is None or not staff.active or not staff.role_set & CONFIRMER_ROLES:
        return []
    query = select(GridConsentRequest).where(
        GridConsentRequest.kind == PAPER, GridConsentRequest.status == PENDING,
        or_(GridConsentRequest.requested_by.is_(None),
            GridConsentRequest.requested_by != staff.id),
    ).order_by(GridConsentRequest.requested_at)
    query = query.join(Resident, Resident.id == GridConsentRequest.resident_id).where(
        Resident.grid_id.in_(sorted(staff.grid_ids)))
    now = utcnow()
    return [r for r in session.scalars(query) if not _lapsed(r, now)]


def withdraw_in_person(
    session: Session, staff_id: int, resident_id: int, scopes: Iterable[str], *,
    ip: str | None = None,
) -> tuple[list[int], Done]:
    """The resident tells their grid worker face to face to stop: the grid consents end at
    once (``grid_worker_assist`` ends all three), audited and told to the resident. Only the
    grid check applies: withdrawing never needs the consent it ends."""
    auth = authorize(session, staff_id, resident_id)
    chosen = clean_scopes(scopes)
    ended = [c.id for scope in chosen for c in consent.withdraw(session, resident_id, scope)]
    done = record(session, auth.actor, "grid.consent.withdraw", resident_id,
                  {"scopes": chosen, "consent_ids": ended}, ip=ip,
                  notify=notify.consent_withdrawn(auth.staff.username))
    return ended, done
