"""Calendar arithmetic: age by the definition, and the SQL birth-date threshold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from huimin.rules import age_on, back, latest_birth_date


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1944, 6, 15), date(2024, 6, 15), 80),  # the birthday itself
        (date(1944, 6, 15), date(2024, 6, 14), 79),
        (date(1944, 2, 29), date(2024, 2, 28), 79),  # leap year: birthday is 29 Feb
        (date(1944, 2, 29), date(2024, 2, 29), 80),
        (date(1944, 2, 29), date(2025, 2, 28), 81),  # common year: a year older on 28 Feb
        (date(1944, 2, 29), date(2025, 2, 27), 80),
        (date(2000, 2, 29), date(2001, 2, 28), 1),
        (date(2000, 3, 1), date(2001, 2, 28), 0),
        (date(2000, 1, 1), date(1999, 12, 31), -1),
    ],
)
def test_age_on(born, on, age):
    assert age_on(born, on) == age


def test_back_clamps_month_ends():
    assert back(date(2024, 8, 31), months=6) == date(2024, 2, 29)
    assert back(date(2023, 8, 31), months=6) == date(2023, 2, 28)
    assert back(date(2024, 2, 29), years=1) == date(2023, 2, 28)
    assert back(date(2025, 3, 31), months=1) == date(2025, 2, 28)


def test_threshold_is_not_simply_d_minus_n_years():
    # 2000-02-29 + 1 year = 2001-02-28, so that birth date is 1 on 2001-02-28.
    assert back(date(2001, 2, 28), years=1) == date(2000, 2, 28)
    assert latest_birth_date(date(2001, 2, 28), 1) == date(2000, 2, 29)


def _dates(start: date, days: int):
    return (start + timedelta(days=i) for i in range(days))


def test_threshold_matches_the_definition_exhaustively():
    """age >= n  <=>  birth_date <= latest_birth_date(D, n), over leap and common years."""
    for d in _dates(date(2019, 12, 20), 800):  # spans 2020 (leap) and month ends
        for n in (0, 1, 3, 4, 16, 60, 80, 100):
            t = latest_birth_date(d, n)
            assert t + relativedelta(years=n) <= d
            assert (t + timedelta(days=1)) + relativedelta(years=n) > d
            for b in (t - timedelta(days=1), t, t + timedelta(days=1), t + timedelta(days=2)):
                assert (age_on(b, d) >= n) == (b <= t), (b, d, n)
