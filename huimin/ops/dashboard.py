"""Quality figures for the ops dashboard: volume, fallback, hand-off, menu and referral rates
(a menu: the assistant asked the citizen to choose a policy; a referral: it named another
department), intents, the most
common phrases the assistant did not understand, and benefit-notice push delivery and
confirmation. Days are the city's calendar days (Asia/Shanghai)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.benefits.models import (
    MINIAPP,
    OFFICIAL_ACCOUNT,
    PENDING,
    QUEUED,
    SENDING,
    WITHHELD,
    BenefitNotice,
)
from huimin.ops.conversation_log import USER, normalise
from huimin.ops.models import ConversationMessage, HandoffTicket
from huimin.ops.review import LOCAL_TZ

TOP_INTENTS = 15
TOP_PHRASES = 15
PUSH_UNDECIDED = frozenset({PENDING, QUEUED, SENDING, WITHHELD})  # no push outcome (yet)
PUSH_DELIVERED = frozenset({MINIAPP, OFFICIAL_ACCOUNT})
NOTICE_COUNTS = ("notices", "pushed", "delivered", "reached", "confirmed")


def _local_day(value: datetime) -> date:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(LOCAL_TZ).date()


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def quality(session: Session, days: int = 30, today: date | None = None) -> dict[str, Any]:
    today = today or datetime.now(LOCAL_TZ).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), LOCAL_TZ)
    per_day: dict[date, dict[str, Any]] = {
        first + timedelta(days=i): {"messages": 0, "fallback": 0, "senders": set(),
                                    "handoffs": 0, "menus": 0, "referrals": 0}
        for i in range(days)
    }
    intents: Counter[str] = Counter()
    unrecognised: Counter[str] = Counter()
    examples: dict[str, str] = {}
    m = ConversationMessage
    rows = session.execute(
        select(m.at, m.sender_id, m.intent, m.fallback, m.text, m.menu, m.referral)
        .where(m.role == USER, m.at >= since)
        .execution_options(yield_per=5000)
    )
    for at, sender, intent, fallback, text, menu, referral in rows:
        bucket = per_day.get(_local_day(at))
        if bucket is None:
            continue
        bucket["messages"] += 1
        bucket["senders"].add(sender)
        bucket["menus"] += bool(menu)
        bucket["referrals"] += bool(referral)
        if fallback:
            bucket["fallback"] += 1
            if not text.startswith("/"):
                key = normalise(text)
                if key:
                    unrecognised[key] += 1
                    examples.setdefault(key, text)
        elif intent:
            intents[intent] += 1
    for (created,) in session.execute(
        select(HandoffTicket.created_at).where(HandoffTicket.created_at >= since)
    ):
        bucket = per_day.get(_local_day(created))
        if bucket is not None:
            bucket["handoffs"] += 1
    series = []
    for day, b in sorted(per_day.items()):
        conversations = len(b["senders"])
        series.append({
            "day": day.isoformat(), "messages": b["messages"], "conversations": conversations,
            "fallback": b["fallback"], "fallback_rate": _rate(b["fallback"], b["messages"]),
            "handoffs": b["handoffs"], "handoff_rate": _rate(b["handoffs"], conversations),
            "menus": b["menus"], "menu_rate": _rate(b["menus"], b["messages"]),
            "referrals": b["referrals"], "referral_rate": _rate(b["referrals"], b["messages"]),
        })
    messages = sum(d["messages"] for d in series)
    fallbacks = sum(d["fallback"] for d in series)
    handoffs = sum(d["handoffs"] for d in series)
    conversations = sum(d["conversations"] for d in series)
    menus = sum(d["menus"] for d in series)
    referrals = sum(d["referrals"] for d in series)
    return {
        "days": series,
        "totals": {
            "messages": messages, "fallback": fallbacks, "handoffs": handoffs,
            "conversations": conversations, "fallback_rate": _rate(fallbacks, messages),
            "handoff_rate": _rate(handoffs, conversations),
            "menus": menus, "menu_rate": _rate(menus, messages),
            "referrals": referrals, "referral_rate": _rate(referrals, messages),
        },
        "intents": [{"intent": k, "count": v} for k, v in intents.most_common(TOP_INTENTS)],
        "unrecognised": [
            {"text": examples[k], "count": v} for k, v in unrecognised.most_common(TOP_PHRASES)
        ],
        "notices": notice_stats(session, since, days),
    }


def notice_stats(session: Session, since: datetime, days: int) -> dict[str, Any] | None:
    """Benefit-notice pushes by the day the notice was matched (huimin.benefits): of the
    notices whose push has an outcome, how many reached WeChat (mini-program subscribe or
    official-account message), and of the notices that reached the resident, how many were
    confirmed. None when no notice was matched in the period."""
    n = BenefitNotice
    rows = session.execute(
        select(n.matched_at, n.delivery, n.notified_at, n.confirmed_at)
        .where(n.matched_at >= since).execution_options(yield_per=5000)
    ).all()
    if not rows:
        return None
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    channels: Counter[str] = Counter()
    for matched_at, delivery, notified_at, confirmed_at in rows:
        bucket = per_day[_local_day(matched_at)]
        bucket["notices"] += 1
        channels[delivery] += 1
        if delivery not in PUSH_UNDECIDED:
            bucket["pushed"] += 1
        if delivery in PUSH_DELIVERED:
            bucket["delivered"] += 1
        if notified_at is not None or confirmed_at is not None:
            bucket["reached"] += 1
        if confirmed_at is not None:
            bucket["confirmed"] += 1
    first = since.astimezone(LOCAL_TZ).date()
    series = []
    totals: Counter[str] = Counter()
    for i in range(days):
        day = first + timedelta(days=i)
        b = per_day.get(day, Counter())
        totals.update(b)
        series.append({"day": day.isoformat(), **{k: b[k] for k in NOTICE_COUNTS},
                       "delivery_rate": _rate(b["delivered"], b["pushed"]),
                       "confirmation_rate": _rate(b["confirmed"], b["reached"])})
    return {
        "days": series,
        "totals": {**{k: totals[k] for k in NOTICE_COUNTS},
                   "delivery_rate": _rate(totals["delivered"], totals["pushed"]),
                   "confirmation_rate": _rate(totals["confirmed"], totals["reached"])},
        "channels": dict(channels),
    }
