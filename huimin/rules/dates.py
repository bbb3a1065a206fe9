"""Calendar arithmetic for rules, as `dateutil.relativedelta` does it.

Age on D is the largest n with birth_date + n years <= D (born 29 Feb: a year older on
28 Feb of a common year). For SQL we need the same answer as a constant comparison:
age >= n  <=>  birth_date <= latest_birth_date(D, n), which is *not* always D - n years
(D = 2001-02-28, n = 1: D - 1 year = 2000-02-28, but 2000-02-29 + 1 year = 2001-02-28).
"""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

ONE_DAY = timedelta(days=1)


def age_on(birth_date: date, as_of: date) -> int:
    """Completed years on `as_of`, by the definition (may be negative before birth)."""
    n = as_of.year - birth_date.year
    if birth_date + relativedelta(years=n) > as_of:
        n -= 1
    return n


def back(as_of: date, *, years: int = 0, months: int = 0) -> date:
    """D - N years/months, with month-end clamping (31 Aug - 6 months = 28/29 Feb)."""
    return as_of - relativedelta(years=years, months=months)


def latest_birth_date(as_of: date, years: int) -> date:
    """The latest birth date whose age on `as_of` is at least `years`.

    birth_date + n years is non-decreasing in birth_date, so the set of qualifying birth
    dates is an interval ending here; D - n years is within a day or two of its end.
    """
    t = as_of - relativedelta(years=years)
    while t + relativedelta(years=years) > as_of:
        t -= ONE_DAY
    while (t + ONE_DAY) + relativedelta(years=years) <= as_of:
        t += ONE_DAY
    return t
