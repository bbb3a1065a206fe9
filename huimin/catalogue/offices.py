"""Service offices (办事大厅) by district: where citizens go in person, and when."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.catalogue.models import Office


class OfficeRecord(BaseModel):
    district: str
    name: str
    address: str
    hours: str
    phone: str


def load_office_file(path: Path) -> list[OfficeRecord]:
    """Read and validate the offices seed file; errors name the entry and field."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(raw, list):
        raise ValueError(f"{path.name}: expected a list of offices")
    records = []
    for i, item in enumerate(raw, start=1):
        try:
            records.append(OfficeRecord.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{path.name}: entry {i}: field '{field}': {err['msg']}") from exc
    return records


def upsert_offices(session: Session, records: list[OfficeRecord]) -> int:
    """Idempotent seed: running it twice leaves one row per district."""
    for rec in records:
        row = session.scalar(select(Office).where(Office.district == rec.district))
        if row is None:
            session.add(Office(**rec.model_dump()))
        else:
            for key, value in rec.model_dump().items():
                setattr(row, key, value)
    return len(records)


def normalise_district(text: str) -> str:
    text = text.strip().replace(" ", "")
    for suffix in ("区", "县", "市"):
        if text.endswith(suffix) and len(text) > 2:
            return text[: -len(suffix)]
    return text


def find_office(session: Session, district: str) -> Office | None:
    """Match '东城', '东城区' or '东城区的' to the same office."""
    wanted = normalise_district(district.rstrip("的"))
    for office in session.scalars(select(Office)):
        if normalise_district(office.district) == wanted:
            return office
    return None


def list_districts(session: Session) -> list[str]:
    return list(session.scalars(select(Office.district).order_by(Office.id)))
