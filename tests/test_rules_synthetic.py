"""Synthetic residents: reproducible, coherent, every fact sometimes unknown, and stored."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Boolean, Date, Integer, String, func, select

from huimin.platform.db import Base, make_engine
from huimin.residents import FACTS, Facts, parse_profile
from huimin.residents.models import Resident
from huimin.residents.synthetic import insert_residents, synthetic_residents
from huimin.rules import age_on

AS_OF = date(2025, 6, 30)
KIND_TYPES = {"date": Date, "bool": Boolean, "int": Integer, "enum": String}


def test_model_has_one_nullable_column_per_fact():
    table = Resident.__table__
    for name, spec in FACTS.items():
        column = table.c[name]
        assert isinstance(column.type, KIND_TYPES[spec.kind]), name
        assert column.nullable, name


def test_same_seed_same_residents():
    a = list(synthetic_residents(200, seed=7, as_of=AS_OF))
    b = list(synthetic_residents(200, seed=7, as_of=AS_OF))
    assert a == b
    assert a != list(synthetic_residents(200, seed=8, as_of=AS_OF))


def test_facts_are_valid_and_coherent():
    rows = list(synthetic_residents(5000, seed=3, as_of=AS_OF))
    unknown = Counter()
    statuses = Counter()
    for row in rows:
        facts = {k: row[k] for k in FACTS}
        parse_profile({k: v.isoformat() if isinstance(v, date) else v for k, v in facts.items()})
        unknown.update(k for k, v in facts.items() if v is None)
        f = Facts(**facts)
        statuses[f.employment_status] += 1
        if f.birth_date is not None:
            age = age_on(f.birth_date, AS_OF)
            assert 16 <= age <= 105
            if f.employment_status == "student":
                assert age < 30
        if f.receiving_pension:
            assert f.employment_status in ("retired", None)
        if f.registered_unemployed:
            assert f.employment_status in ("unemployed", None)
    assert all(unknown[name] > 0 for name in FACTS)  # every fact is sometimes unknown
    assert unknown["birth_date"] < 0.1 * len(rows)
    assert statuses["employed"] > statuses["unemployed"] > 0 and statuses["retired"] > 0


def test_streamed_insert(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    Base.metadata.create_all(engine, tables=[Resident.__table__])
    with engine.begin() as conn:
        assert (
            insert_residents(conn, synthetic_residents(1234, as_of=AS_OF), chunk_size=500) == 1234
        )
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Resident.__table__)) == 1234
        assert conn.scalar(select(func.min(Resident.external_id))) == "SYN0000001"
    engine.dispose()
