"""Employment-service status and colour of a resident, derived from their facts.

The table below is the credential's definition, not operator data: every issued code
and every offline verifier relies on what a colour means, so changing it is a code
change (and a release note), never a YAML edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta

PRIORITY_AFTER_MONTHS = 6
"""Unemployed for *more* than this many months means priority assistance (orange)."""


class Status(StrEnum):
    """Employment-service status; the value is what the signed code carries in `st`."""

    EMPLOYED = "employed"
    JOB_SEEKING = "seeking"
    PRIORITY = "priority"
    NOT_IN_LABOUR_MARKET = "inactive"


class Colour(StrEnum):
    GREEN = "green"
    BLUE = "blue"
    ORANGE = "orange"
    GREY = "grey"


@dataclass(frozen=True)
class Service:
    """A service a colour unlocks: a stable key the edges route on and its Chinese name."""

    key: str
    name: str


@dataclass(frozen=True)
class StatusDefinition:
    status: Status
    colour: Colour
    label: str
    hex: str
    services: tuple[Service, ...]


DEFINITIONS: Mapping[Status, StatusDefinition] = {
    Status.EMPLOYED: StatusDefinition(
        Status.EMPLOYED,
        Colour.GREEN,
        "绿码 · 在岗就业",
        "#07C160",
        (
            Service("skills_subsidy", "技能提升补贴"),
            Service("job_match", "岗位推荐"),
            Service("social_insurance", "社保查询"),
            Service("labour_rights", "劳动权益咨询"),
        ),
    ),
    Status.JOB_SEEKING: StatusDefinition(
        Status.JOB_SEEKING,
        Colour.BLUE,
        "蓝码 · 正在求职",
        "#1677FF",
        (
            Service("job_match", "岗位推荐"),
            Service("job_fair", "招聘会报名"),
            Service("career_guidance", "职业指导"),
            Service("training", "职业技能培训"),
            Service("unemployment_benefit", "失业保险金申领"),
        ),
    ),
    Status.PRIORITY: StatusDefinition(
        Status.PRIORITY,
        Colour.ORANGE,
        "橙码 · 重点帮扶",
        "#FA8C16",
        (
            Service("one_to_one_help", "一对一就业帮扶"),
            Service("public_welfare_job", "公益性岗位"),
            Service("social_insurance_subsidy", "社保补贴"),
            Service("job_match", "岗位推荐"),
            Service("training", "免费技能培训"),
        ),
    ),
    Status.NOT_IN_LABOUR_MARKET: StatusDefinition(
        Status.NOT_IN_LABOUR_MARKET,
        Colour.GREY,
        "灰码 · 在校或退休",
        "#8C8C8C",
        (
            Service("policy_info", "政策咨询"),
            Service("internship", "就业见习"),
            Service("pension", "养老待遇查询"),
        ),
    ),
}

EMPLOYED_STATUSES = frozenset({"employed", "flexible", "self_employed"})
OUTSIDE_LABOUR_MARKET = frozenset({"student", "retired"})
UNEMPLOYED = "unemployed"
KNOWN_EMPLOYMENT_STATUSES = EMPLOYED_STATUSES | OUTSIDE_LABOUR_MARKET | {UNEMPLOYED}


class InsufficientFactsError(ValueError):
    """The facts do not say enough to give any colour (the resident must complete them)."""


def definition(status: Status) -> StatusDefinition:
    return DEFINITIONS[status]


def derive_status(facts: Mapping[str, Any], *, today: date | None = None) -> Status:
    """Status from a resident's facts, first match wins:

    1. `employment_status` employed / flexible / self_employed -> EMPLOYED (green); the
       current job outranks stale flags such as `registered_unemployed` or `hard_to_employ`.
    2. `employment_status` student / retired -> NOT_IN_LABOUR_MARKET (grey).
    3. Out of work (`employment_status` unemployed, or no status but `registered_unemployed`
       / `looking_for_work`):
       a. recognised `hard_to_employ`, or unemployed more than 6 months (from
          `unemployed_since`, else `months_unemployed`) -> PRIORITY (orange);
       b. otherwise -> JOB_SEEKING (blue).
    4. Nothing to go on -> InsufficientFactsError.
    """
    raw = facts.get("employment_status")
    employment_status = raw.strip().lower() if isinstance(raw, str) else raw
    if employment_status is not None and employment_status not in KNOWN_EMPLOYMENT_STATUSES:
        raise ValueError(
            f"facts.employment_status: unknown value {raw!r}; "
            f"expected one of {sorted(KNOWN_EMPLOYMENT_STATUSES)}"
        )
    if employment_status in EMPLOYED_STATUSES:
        return Status.EMPLOYED
    if employment_status in OUTSIDE_LABOUR_MARKET:
        return Status.NOT_IN_LABOUR_MARKET
    out_of_work = employment_status == UNEMPLOYED or bool(
        facts.get("registered_unemployed") or facts.get("looking_for_work")
    )
    if not out_of_work:
        raise InsufficientFactsError(
            "facts: need employment_status, registered_unemployed or looking_for_work"
        )
    if facts.get("hard_to_employ") or _long_term_unemployed(facts, today or date.today()):
        return Status.PRIORITY
    return Status.JOB_SEEKING


def _long_term_unemployed(facts: Mapping[str, Any], today: date) -> bool:
    since = facts.get("unemployed_since")
    if since is not None:
        return today > _as_date(since) + relativedelta(months=PRIORITY_AFTER_MONTHS)
    months = facts.get("months_unemployed")
    if months is None:
        return False
    if isinstance(months, bool) or not isinstance(months, int | float):
        raise ValueError(f"facts.months_unemployed: expected a number, got {months!r}")
    return months > PRIORITY_AFTER_MONTHS


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"facts.unemployed_since: expected a date (YYYY-MM-DD), got {value!r}")


COLOUR_HEX: Mapping[Colour, str] = {d.colour: d.hex for d in DEFINITIONS.values()}
