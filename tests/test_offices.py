"""Office look-up (the first cut's database-backed answer), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from huimin.catalogue import offices
from huimin.platform.db import Database
from huimin.platform.settings import ROOT

SEED = ROOT / "seed_data" / "offices.yml"


@pytest.fixture
def db(db_url: str) -> Database:
    return Database(db_url)


def test_seed_is_idempotent_and_lookup_normalises(db: Database):
    records = offices.load_office_file(SEED)
    for _ in range(2):
        with db.session() as s:
            offices.upsert_offices(s, records)
    with db.session() as s:
        assert len(offices.list_districts(s)) == len(records) >= 5
        for spoken in ("东城区", "东城", " 东城区 ", "东城区的"):
            office = offices.find_office(s, spoken)
            assert office is not None and office.district == "东城区", spoken
        assert offices.find_office(s, "火星区") is None


def test_bad_seed_file_names_entry_and_field(tmp_path: Path):
    bad = tmp_path / "offices.yml"
    bad.write_text("- district: 东城区\n  name: x\n  address: y\n  hours: z\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"entry 1: field 'phone'"):
        offices.load_office_file(bad)
