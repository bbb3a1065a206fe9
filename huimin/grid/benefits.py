"""Acting on a resident's benefits for them: what they qualify for and why, and confirming a
notice on their behalf (channel ``grid_worker``, with who and under which consent)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from huimin.benefits import notices
from huimin.benefits.check import check, resident_facts
from huimin.benefits.models import BenefitNotice
from huimin.grid import notify
from huimin.grid.access import GridDenied, authorize
from huimin.grid.actions import Done, record
from huimin.privacy import consent
from huimin.residents.facts import LABELS
from huimin.rules import RuleBook

NOTICE_GONE = (404, "not_found", "找不到这条政策提醒")
NOTICE_ERRORS = {
    "notice_expired": (409, "notice_expired", "这条提醒已过期，不能再确认"),
    "notice_declined": (409, "notice_declined", "居民已表示不需要这项政策"),
}
# Answers shown to the grid worker: what the resident gets or may get once facts are known.
SHOWN = ("eligible", "unknown")


def _notice_json(notice: BenefitNotice) -> dict[str, Any]:
    return {
        "id": notice.id, "status": notice.status, "matched_at": notice.matched_at,
        "expires_at": notice.expires_at, "confirmed_at": notice.confirmed_at,
        "response_channel": notice.response_channel,
    }


def matched(
    session: Session,
    staff_id: int,
    resident_id: int,
    book: RuleBook,
    titles: Mapping[str, str],
    today: date,
    *,
    ip: str | None = None,
) -> tuple[list[dict[str, Any]], int, Done]:
    """Every policy the resident qualifies (or may qualify) for, with the reasons, and the
    notice about it if one was made; and the id of the consent relied on. Needs the
    ``view_benefits`` consent."""
    auth = authorize(session, staff_id, resident_id, (consent.VIEW_BENEFITS,))
    assert auth.consent is not None
    answers = {a.policy: a for a in check(book, titles, resident_facts(auth.resident), today)}
    latest: dict[str, BenefitNotice] = {}
    for notice in session.scalars(notices.for_resident(resident_id)):
        latest.setdefault(notice.policy, notice)  # newest first
    items = []
    for policy in sorted(set(latest) | {p for p, a in answers.items() if a.status in SHOWN}):
        answer = answers.get(policy)
        notice = latest.get(policy)
        items.append({
            "policy": policy,
            "title": titles.get(policy, policy),
            "status": answer.status if answer else "no_rule",
            "reasons": list(answer.reasons) if answer else [],
            "missing": [LABELS[f] for f in answer.missing] if answer else [],
            "amount": answer.amount.text if answer and answer.amount else None,
            "duration": answer.duration.text if answer and answer.duration else None,
            "notice": _notice_json(notice) if notice else None,
        })
    done = record(session, auth.actor, "grid.benefits.view", resident_id,
                  {"consent_id": auth.consent.id, "count": len(items)}, ip=ip,
                  notify=notify.benefits_viewed(auth.staff.username))
    return items, auth.consent.id, done


def confirm(
    session: Session,
    staff_id: int,
    resident_id: int,
    notice_id: int,
    titles: Mapping[str, str],
) -> tuple[BenefitNotice, Done | None]:
    """Confirm for the resident (免申即享). Needs the ``apply_on_behalf`` consent. The
    notice records channel ``grid_worker``, the staff member and the consent, and the
    lifecycle audits it; confirming again changes nothing and tells nobody twice."""
    auth = authorize(session, staff_id, resident_id, (consent.APPLY_ON_BEHALF,))
    assert auth.consent is not None
    notice = session.get(BenefitNotice, notice_id)
    if notice is None or notice.resident_id != resident_id:
        raise GridDenied(*NOTICE_GONE)
    try:
        changed = notices.confirm(session, notice, "grid_worker", auth.actor,
                                  staff_id=staff_id, consent_id=auth.consent.id)
    except notices.NoticeError as exc:
        status, code, message = NOTICE_ERRORS.get(
            exc.code, (409, exc.code, "这条提醒现在不能确认"))
        raise GridDenied(status, code, message) from None
    if not changed:
        return notice, None
    title = titles.get(notice.policy, notice.policy)
    return notice, Done(resident_id, f"notice-{notice.id}-confirmed",
                        notify.notice_confirmed(auth.staff.username, title))
