"""A grid worker's worklist: who in their grids needs a visit, most urgent first.

A resident is on it when they have benefit notices they have not answered, an open hand-off
ticket (they asked for a person in the chat), no WeChat channel at all (nobody can reach
them but the grid worker), a follow-up visit that is due (the next visit date of their latest
visit note), or a grid consent that runs out within a week. One SQL query ranks and pages
it, so a grid of thousands of residents costs one round trip.

Urgency (higher first; ties: whoever has waited longest):

| condition | points |
|---|---|
| an open hand-off ticket | 400 |
| an unanswered notice only the grid worker can deliver (no WeChat) | 200 |
| another unanswered notice | 100 |
| a notice that lapses within 14 days | 150 |
| each further unanswered notice (up to 4) | 10 |
| a follow-up visit due today or earlier | 120 |
| the grid consent runs out within 7 days | 60 |
| no WeChat channel | 50 |
| aged 80+ / 60-79 | 30 / 15 |
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from huimin.benefits.models import GRID_WORKER as DELIVERED_BY_GRID
from huimin.benefits.models import OPEN, BenefitNotice
from huimin.grid.models import GridVisit
from huimin.identity.models import CitizenAccount
from huimin.ops.models import CLOSED, HandoffTicket
from huimin.platform.db import utcnow
from huimin.privacy import consent
from huimin.privacy.models import Consent
from huimin.residents.models import Resident
from huimin.rules.dates import age_on, latest_birth_date
from huimin.wechat.models import WechatUser

OPEN_TICKET, PENDING_NOTICE, NO_WECHAT = "open_ticket", "pending_notice", "no_wechat"
FOLLOW_UP, CONSENT_EXPIRING = "follow_up", "consent_expiring"
REASONS = (OPEN_TICKET, PENDING_NOTICE, FOLLOW_UP, CONSENT_EXPIRING, NO_WECHAT)
REASON_LABELS = {OPEN_TICKET: "在线求助未处理", PENDING_NOTICE: "有政策提醒未确认",
                 FOLLOW_UP: "约好的回访到期了", CONSENT_EXPIRING: "授权快到期了",
                 NO_WECHAT: "没有微信"}
SOON = timedelta(days=14)
CONSENT_SOON = timedelta(days=7)
_GRID_CONSENTS = (consent.GRID_WORKER_ASSIST, *consent.GRID_SCOPES)


@dataclass(frozen=True)
class Filters:
    reason: str | None = None  # one of REASONS
    grid_id: str | None = None  # one of the worker's grids
    older: bool = False  # aged 60+ only
    # A search: these residents (already limited to the worker's grids), whether or not
    # they need a visit.
    resident_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Item:
    resident: Resident
    urgency: int
    open_notices: int
    grid_notices: int
    soonest_expiry: datetime | None
    open_tickets: int
    has_wechat: bool
    waiting_since: datetime | None
    follow_up_on: date | None = None
    consent_expires: datetime | None = None

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.open_tickets:
            found.append(OPEN_TICKET)
        if self.open_notices:
            found.append(PENDING_NOTICE)
        if self.follow_up_on is not None:
            found.append(FOLLOW_UP)
        if self.consent_expires is not None:
            found.append(CONSENT_EXPIRING)
        if not self.has_wechat:
            found.append(NO_WECHAT)
        return found

    def to_dict(self, today: date) -> dict[str, Any]:
        birth = self.resident.birth_date
        return {
            "resident_id": self.resident.id,
            "grid_id": self.resident.grid_id,
            "age": age_on(birth, today) if birth else None,
            "urgency": self.urgency,
            "reasons": self.reasons,
            "reason_labels": [REASON_LABELS[r] for r in self.reasons],
            "open_notices": self.open_notices,
            "notices_for_grid_worker": self.grid_notices,
            "soonest_notice_expiry": self.soonest_expiry,
            "open_tickets": self.open_tickets,
            "has_wechat": self.has_wechat,
            "waiting_since": self.waiting_since,
            "follow_up_on": self.follow_up_on,
            "consent_expires": self.consent_expires,
        }


def _has_wechat() -> ColumnElement[bool]:
    chat = exists().where(WechatUser.resident_id == Resident.id, WechatUser.subscribed.is_(True))
    miniapp = exists().where(CitizenAccount.resident_id == Resident.id,
                             CitizenAccount.deleted_at.is_(None))
    return or_(Resident.wechat_channel.is_(True), chat, miniapp)


def query(grid_ids: Collection[str], filters: Filters, now: datetime, today: date) -> Select:
    """Rows of (Resident, urgency, open_notices, grid_notices, soonest_expiry, open_tickets,
    has_wechat, waiting_since), most urgent first."""
    notices = (
        select(
            BenefitNotice.resident_id.label("rid"),
            func.count().label("n"),
            func.sum(case((BenefitNotice.delivery == DELIVERED_BY_GRID, 1), else_=0)).label("g"),
            func.min(BenefitNotice.expires_at).label("soonest"),
            func.min(BenefitNotice.matched_at).label("since"),
        )
        .where(BenefitNotice.status.in_(OPEN), BenefitNotice.expires_at > now)
        .group_by(BenefitNotice.resident_id)
        .subquery()
    )
    tickets = (
        select(
            WechatUser.resident_id.label("rid"),
            func.count().label("n"),
            func.min(HandoffTicket.created_at).label("since"),
        )
        .join(HandoffTicket, HandoffTicket.sender_id == WechatUser.pseudonym)
        .where(HandoffTicket.status != CLOSED, WechatUser.resident_id.is_not(None))
        .group_by(WechatUser.resident_id)
        .subquery()
    )
    latest = (
        select(GridVisit.resident_id.label("rid"), func.max(GridVisit.id).label("vid"))
        .group_by(GridVisit.resident_id).subquery()
    )
    follow = (
        select(latest.c.rid, GridVisit.next_visit_on.label("due"))
        .join(GridVisit, GridVisit.id == latest.c.vid)
        .where(GridVisit.next_visit_on.is_not(None), GridVisit.next_visit_on <= today)
        .subquery()
    )
    # Residents whose grid consents in force all end within a week (none is open-ended).
    consents = (
        select(Consent.resident_id.label("rid"), func.max(Consent.expires_at).label("ends"))
        .where(Consent.scope.in_(_GRID_CONSENTS), Consent.withdrawn_at.is_(None),
               or_(Consent.expires_at.is_(None), Consent.expires_at > now))
        .group_by(Consent.resident_id)
        .having(func.sum(case((Consent.expires_at.is_(None), 1), else_=0)) == 0)
        .having(func.max(Consent.expires_at) <= now + CONSENT_SOON)
        .subquery()
    )
    n_notices = func.coalesce(notices.c.n, 0)
    n_grid = func.coalesce(notices.c.g, 0)
    n_tickets = func.coalesce(tickets.c.n, 0)
    wechat = _has_wechat()
    at_80 = latest_birth_date(today, 80)
    at_60 = latest_birth_date(today, 60)
    urgency = (
        case((n_tickets > 0, 400), else_=0)
        + case((n_grid > 0, 200), (n_notices > 0, 100), else_=0)
        + case((notices.c.soonest <= now + SOON, 150), else_=0)
        + case((n_notices > 5, 40), (n_notices > 1, (n_notices - 1) * 10), else_=0)
        + case((follow.c.due.is_not(None), 120), else_=0)
        + case((consents.c.ends.is_not(None), 60), else_=0)
        + case((wechat, 0), else_=50)
        + case((Resident.birth_date <= at_80, 30), (Resident.birth_date <= at_60, 15), else_=0)
    ).label("urgency")
    # The earlier of the oldest ticket and the oldest notice.
    since = type_coerce(case(
        (and_(tickets.c.since.is_not(None), notices.c.since.is_not(None)),
         case((tickets.c.since < notices.c.since, tickets.c.since), else_=notices.c.since)),
        (tickets.c.since.is_not(None), tickets.c.since),
        else_=notices.c.since,
    ), DateTime(timezone=True)).label("since")
    grids = sorted(grid_ids)
    if filters.grid_id is not None:
        grids = [g for g in grids if g == filters.grid_id]
    stmt = (
        select(Resident, urgency, n_notices, n_grid, notices.c.soonest, n_tickets,
               wechat.label("has_wechat"), since, follow.c.due, consents.c.ends)
        .outerjoin(notices, notices.c.rid == Resident.id)
        .outerjoin(tickets, tickets.c.rid == Resident.id)
        .outerjoin(follow, follow.c.rid == Resident.id)
        .outerjoin(consents, consents.c.rid == Resident.id)
        .where(Resident.grid_id.in_(grids))
    )
    needs = {OPEN_TICKET: n_tickets > 0, PENDING_NOTICE: n_notices > 0,
             FOLLOW_UP: follow.c.due.is_not(None), CONSENT_EXPIRING: consents.c.ends.is_not(None),
             NO_WECHAT: ~wechat}
    if filters.resident_ids is not None:
        stmt = stmt.where(Resident.id.in_(filters.resident_ids))
        if filters.reason is not None:
            stmt = stmt.where(needs[filters.reason])
    elif filters.reason is not None:
        stmt = stmt.where(needs[filters.reason])
    else:
        stmt = stmt.where(or_(*needs.values()))
    if filters.older:
        stmt = stmt.where(Resident.birth_date <= at_60)
    # NULLs last on both databases: is_(None) sorts false (has a date) first.
    return stmt.order_by(urgency.desc(), since.is_(None), since, Resident.id)


def worklist(
    session: Session,
    grid_ids: Collection[str],
    filters: Filters,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
    today: date | None = None,
) -> tuple[list[Item], int]:
    """One page of the worklist and the total number of residents on it."""
    now = now or utcnow()
    today = today or date.today()
    stmt = query(grid_ids, filters, now, today)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    items = [
        Item(resident=r[0], urgency=int(r[1]), open_notices=int(r[2]), grid_notices=int(r[3]),
             soonest_expiry=r[4], open_tickets=int(r[5]), has_wechat=bool(r[6]),
             waiting_since=r[7], follow_up_on=r[8], consent_expires=r[9])
        for r in rows
    ]
    return items, int(total or 0)
