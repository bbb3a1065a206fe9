"""Realistic synthetic residents for demos and benchmarks (no real personal data).

Ages follow a Chinese city's age pyramid (16+), and facts are coherent with age, gender
and employment: students are young, pensioners are old, only the unemployed are
registered unemployed, and so on. About one fact in twenty is unknown, as in real
integrated data. Rows are generated lazily and inserted in chunks, so any number of
residents can be made in constant memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import chain, islice
from typing import Any

from sqlalchemy import Connection, insert

from huimin.platform.db import utcnow
from huimin.residents.models import Resident

# Share of the population aged 16+ by five-year band (2020 census, rounded).
_AGE_BANDS = [
    (16, 4.2),
    (20, 5.3),
    (25, 6.6),
    (30, 8.8),
    (35, 7.0),
    (40, 6.7),
    (45, 8.2),
    (50, 8.6),
    (55, 7.2),
    (60, 5.2),
    (65, 5.0),
    (70, 3.5),
    (75, 2.1),
    (80, 1.4),
    (85, 0.7),
    (90, 0.25),
    (95, 0.06),
    (100, 0.01),
]
_MISSING = 0.05  # chance that any one fact is unknown
_GRIDS = 2000


def _age(rng: random.Random) -> int:
    start = rng.choices([b for b, _ in _AGE_BANDS], weights=[w for _, w in _AGE_BANDS])[0]
    return start + rng.randrange(4 if start == 16 else 5)


def _status(rng: random.Random, age: int, gender: str) -> str:
    retire_at = 60 if gender == "male" else 55
    if age < 23:
        return rng.choices(["student", "employed", "flexible", "unemployed"], [70, 15, 5, 10])[0]
    if age >= retire_at:
        return rng.choices(["retired", "employed", "flexible", "unemployed"], [82, 6, 8, 4])[0]
    return rng.choices(
        ["employed", "flexible", "self_employed", "unemployed", "student", "retired"],
        [60, 15, 10, 9, 2 if age < 30 else 0, 0 if age < 50 else 4],
    )[0]


def _recent(rng: random.Random, as_of: date, max_days: int) -> date:
    return as_of - timedelta(days=rng.randrange(max_days))


def synthetic_facts(rng: random.Random, as_of: date) -> dict[str, Any]:
    """One resident's facts, coherent with each other, some unknown."""
    age = _age(rng)
    gender = "male" if rng.random() < 0.51 else "female"
    status = _status(rng, age, gender)
    birth = as_of - timedelta(days=age * 365 + age // 4 + rng.randrange(365))
    working = status in ("employed", "flexible", "self_employed")
    years_worked = max(0, min(age, 60) - 20)
    graduated = 21 <= age <= 45 and rng.random() < 0.45
    has_business = status == "self_employed" or rng.random() < 0.02
    has_certificate = age < 65 and rng.random() < 0.18
    facts: dict[str, Any] = {
        "birth_date": birth,
        "gender": gender,
        "local_hukou": rng.random() < 0.75,
        "employment_status": status,
        "registered_unemployed": status == "unemployed" and rng.random() < 0.6,
        "involuntary_separation": status == "unemployed" and rng.random() < 0.5,
        "unemployment_insurance_months": 0
        if status == "student"
        else rng.randrange(years_worked * 12 + 1),
        "hard_to_employ": rng.random() < (0.12 if status in ("unemployed", "flexible") else 0.02),
        "flexible_employment_registered": status == "flexible" and rng.random() < 0.7,
        "paying_pension_insurance": working and rng.random() < 0.8,
        "receiving_pension": status == "retired" and rng.random() < 0.95,
        "resident_pension_insured": not working and age >= 16 and rng.random() < 0.45,
        "pension_contribution_years": rng.randrange(min(years_worked, 40) + 1),
        "graduation_date": birth + timedelta(days=22 * 365 + rng.randrange(-400, 400))
        if graduated
        else None,
        "final_year_student": status == "student" and 20 <= age <= 23 and rng.random() < 0.3,
        "low_income_household": rng.random() < 0.04,
        "disabled": rng.random() < 0.06,
        "business_registered_date": _recent(rng, as_of, 3650) if has_business else None,
        "startup_subsidy_received": has_business and rng.random() < 0.2,
        "returned_migrant_worker": age < 60 and rng.random() < 0.04,
        "certificate_level": rng.choices([5, 4, 3, 2, 1], [35, 35, 20, 7, 3])[0]
        if has_certificate
        else None,
        "certificate_date": _recent(rng, as_of, 2900) if has_certificate else None,
    }
    for key in facts:
        if rng.random() < _MISSING:
            facts[key] = None
    return facts


def synthetic_residents(n: int, *, seed: int = 1, as_of: date | None = None) -> Iterator[dict]:
    """`n` rows for the residents table (external ids SYN0000001...), generated lazily."""
    rng = random.Random(seed)
    as_of = as_of or date.today()
    for i in range(1, n + 1):
        row = synthetic_facts(rng, as_of)
        row["external_id"] = f"SYN{i:07d}"
        row["grid_id"] = f"G{rng.randrange(_GRIDS):04d}"
        row["wechat_channel"] = rng.random() < 0.6
        row["push_opt_out"] = rng.random() < 0.03
        yield row


def insert_residents(connection: Connection, rows: Iterable[dict], chunk_size: int = 5000) -> int:
    """Insert rows in chunks, in the connection's transaction; returns how many.

    PostgreSQL gets COPY (several times faster than multi-row INSERT); other databases
    one executemany per chunk. Every row must have the same keys.
    """
    table = Resident.__table__
    it = iter(rows)
    first = next(it, None)
    if first is None:
        return 0
    now = utcnow()
    # COPY bypasses column defaults, so give them here for both paths.
    defaults = {"wechat_channel": False, "push_opt_out": False, "facts_version": 1}
    defaults |= {"created_at": now, "updated_at": now}
    columns = [*first, *(c for c in defaults if c not in first)]
    if unknown := [c for c in columns if c not in table.c]:
        raise ValueError(f"not columns of {table.name}: {', '.join(unknown)}")
    keys = first.keys()

    def checked(row: dict) -> dict:
        if row.keys() != keys:
            raise ValueError("every row must have the same keys as the first row")
        return row

    total = 0
    rest = map(checked, chain([first], it))
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        names = ", ".join(columns)
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rest:
                copy.write_row([row[c] if c in row else defaults[c] for c in columns])
                total += 1
        return total
    while chunk := list(islice(rest, chunk_size)):
        connection.execute(insert(table), [{**defaults, **row} for row in chunk])
        total += len(chunk)
    return total
