"""Consent records: who agreed to what, when, through which channel, until when.

PIPL art. 14/15/29: processing rests on consent that is specific, separate for sensitive data
(the ID number: scope ``real_name``), and can be withdrawn as easily as it was given; a
withdrawal takes effect at once, so every check reads the records at the moment of use
(``has_consent``) rather than caching a yes.

Scopes:

- ``real_name``: store and use the name and resident ID number (separate consent).
- ``benefit_push``: proactive notices about benefits the resident may qualify for.
- ``share_with_employers``: show the employment code / job profile to employers.
- ``grid_worker_assist``: a grid worker may help; it covers the three grid scopes
  ``view_benefits``, ``apply_on_behalf`` and ``guide``, which can also be given one by one.

``granted_to`` narrows a consent to one staff account; ``None`` means any authorised staff
member for that purpose (for grid scopes: the grid workers of the resident's grid, which the
caller checks). ``evidence`` (e.g. a photo reference) and ``confirmed_by`` (a second staff
member) record consent collected in person.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.platform.db import utcnow
from huimin.privacy.models import Consent, aware
from huimin.residents import models as _residents  # noqa: F401 - FK target table

REAL_NAME = "real_name"
BENEFIT_PUSH = "benefit_push"
SHARE_WITH_EMPLOYERS = "share_with_employers"
GRID_WORKER_ASSIST = "grid_worker_assist"
VIEW_BENEFITS = "view_benefits"
APPLY_ON_BEHALF = "apply_on_behalf"
GUIDE = "guide"

GRID_SCOPES = (VIEW_BENEFITS, APPLY_ON_BEHALF, GUIDE)
SCOPES = (REAL_NAME, BENEFIT_PUSH, SHARE_WITH_EMPLOYERS, GRID_WORKER_ASSIST, *GRID_SCOPES)
# A consent to the key scope also covers these.
COVERS: dict[str, tuple[str, ...]] = {GRID_WORKER_ASSIST: GRID_SCOPES}

CHANNELS = ("miniapp", "official_account", "grid_worker", "counter")

# Short Chinese labels for citizens (consent lists, export).
LABELS = {
    REAL_NAME: "实名认证（姓名和身份证号）",
    BENEFIT_PUSH: "接收可享受政策的提醒",
    SHARE_WITH_EMPLOYERS: "向用人单位展示就业信息",
    GRID_WORKER_ASSIST: "网格员协助办理",
    VIEW_BENEFITS: "网格员查看我可享受的政策",
    APPLY_ON_BEHALF: "网格员代我申请",
    GUIDE: "网格员指导我办理",
}


class ConsentError(ValueError):
    """A consent request that cannot be recorded (unknown scope or channel, bad expiry)."""


def _check(scope: str, channel: str | None = None) -> None:
    if scope not in SCOPES:
        raise ConsentError(f"unknown consent scope {scope!r}; expected one of {', '.join(SCOPES)}")
    if channel is not None and channel not in CHANNELS:
        raise ConsentError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")


def scopes_satisfying(scope: str) -> tuple[str, ...]:
    """The scopes whose consent allows ``scope`` (itself and any key scope covering it)."""
    return (scope, *(key for key, covered in COVERS.items() if scope in covered))


def has_consent(
    session: Session,
    resident_id: int,
    scope: str,
    grantee: int | None = None,
    at: datetime | None = None,
) -> bool:
    """Is there a consent in force for ``scope`` at ``at`` (default: now)?

    With ``grantee`` (a staff account id) consents given to anyone or to that person count;
    without it only consents not tied to a person count.
    """
    _check(scope)
    moment = aware(at) if at is not None else utcnow()
    rows = session.scalars(
        select(Consent).where(
            Consent.resident_id == resident_id, Consent.scope.in_(scopes_satisfying(scope))
        )
    )
    return any(
        c.active_at(moment) and (c.granted_to is None or c.granted_to == grantee) for c in rows
    )


def active_consents(
    session: Session, resident_id: int, at: datetime | None = None
) -> list[Consent]:
    moment = aware(at) if at is not None else utcnow()
    rows = session.scalars(
        select(Consent).where(Consent.resident_id == resident_id).order_by(Consent.granted_at)
    )
    return [c for c in rows if c.active_at(moment)]


def history(session: Session, resident_id: int) -> list[Consent]:
    """Every record, including withdrawn and expired ones (the resident's export)."""
    return list(session.scalars(
        select(Consent).where(Consent.resident_id == resident_id).order_by(Consent.id)
    ))


def grant(
    session: Session,
    resident_id: int,
    scope: str,
    channel: str,
    *,
    expires_at: datetime | None = None,
    granted_to: int | None = None,
    evidence: str | None = None,
    confirmed_by: int | None = None,
) -> Consent:
    """Record a consent; an identical one already in force is extended instead of duplicated."""
    _check(scope, channel)
    now = utcnow()
    if expires_at is not None and aware(expires_at) <= now:
        raise ConsentError("expires_at must be in the future")
    for existing in session.scalars(
        select(Consent).where(
            Consent.resident_id == resident_id, Consent.scope == scope,
            Consent.granted_to.is_(None) if granted_to is None
            else Consent.granted_to == granted_to,
        )
    ):
        if existing.active_at(now):
            if existing.expires_at is not None and (
                expires_at is None or aware(expires_at) > aware(existing.expires_at)
            ):
                existing.expires_at = expires_at
            return existing
    consent = Consent(
        resident_id=resident_id, scope=scope, channel=channel, granted_at=now,
        expires_at=expires_at, granted_to=granted_to, evidence=evidence,
        confirmed_by=confirmed_by,
    )
    session.add(consent)
    session.flush()
    return consent


def withdraw(
    session: Session,
    resident_id: int,
    scope: str,
    *,
    granted_to: int | None = None,
    at: datetime | None = None,
) -> list[Consent]:
    """Withdraw every consent in force for ``scope`` (and the scopes it covers) at once.

    ``granted_to`` limits the withdrawal to consents given to that staff member.
    """
    _check(scope)
    moment = aware(at) if at is not None else utcnow()
    scopes: Iterable[str] = (scope, *COVERS.get(scope, ()))
    query = select(Consent).where(Consent.resident_id == resident_id, Consent.scope.in_(scopes))
    if granted_to is not None:
        query = query.where(Consent.granted_to == granted_to)
    withdrawn = [c for c in session.scalars(query) if c.active_at(moment)]
    for consent in withdrawn:
        consent.withdrawn_at = moment
    session.flush()
    return withdrawn


def withdraw_all(session: Session, resident_id: int) -> list[Consent]:
    """Account deletion: every consent ends now."""
    moment = utcnow()
    withdrawn = [c for c in history(session, resident_id) if c.active_at(moment)]
    for consent in withdrawn:
        consent.withdrawn_at = moment
    session.flush()
    return withdrawn
