"""Import residents from the bureau's CSV or JSON exports.

Every row is checked on its own: a bad row is reported by line and field in plain English
and skipped, the good rows are kept. Rows are keyed by `external_id`, so importing the same
file again changes nothing, and a corrected file updates the residents it names.

Columns (CSV header, or keys of each JSON object):
- `external_id` (required): the bureau's id of the resident;
- `grid_id`: the grid (网格) the resident belongs to;
- `name`, `id_number`, `phone`: stored encrypted, with keyed hashes for look-ups;
  birth date and gender are taken from the ID number when not given;
- `wechat_channel`, `push_opt_out`: yes/no flags;
- any resident fact (huimin.residents.facts), e.g. `birth_date`, `local_hukou`.
A column present with an empty cell (JSON: null) makes the value unknown; a column absent
from the file leaves stored values as they are.

Formats: `.csv` (UTF-8, a header line), `.json` (an array of objects), `.jsonl` /
`.ndjson` (one object per line).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huimin.identity.idcard import validate_id_number
from huimin.platform.db import Database
from huimin.privacy.pii import (
    ID_NUMBER,
    NAME,
    PHONE,
    PiiCipher,
    PiiDecryptError,
    normalise_name,
    normalise_phone,
)
from huimin.residents.facts import FACT_NAMES, FACTS, ProfileError, parse_profile
from huimin.residents.models import Resident

IDENTITY = ("external_id", "grid_id")
PERSONAL = ("name", "id_number", "phone")
FLAGS = ("wechat_channel", "push_opt_out")
COLUMNS = (*IDENTITY, *PERSONAL, *FLAGS, *FACT_NAMES)
RESERVED_PREFIX = "mp-"  # residents created by the mini-program (huimin.identity.accounts)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_GRID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MOBILE = re.compile(r"^1\d{10}$")
_YES = {"true", "yes", "y", "1", "是"}
_NO = {"false", "no", "n", "0", "否"}
CHUNK = 500


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, header); nothing was imported."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # resident ids whose facts changed

    @property
    def rejected_lines(self) -> int:
        return len({p.line for p in self.problems})

    def summary(self) -> str:
        return (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.rejected_lines} rows rejected")


@dataclass(frozen=True)
class _Row:
    line: int
    data: Mapping[str, Any]
    text: bool  # values are CSV text


@dataclass
class _Clean:
    line: int
    external_id: str
    values: dict[str, Any]  # column -> value, only the columns the row gives
    personal: dict[str, str | None]  # normalised name / id_number / phone, as given
    id_hash: str | None = None


# ---- reading --------------------------------------------------------------------------------


def read_rows(path: Path) -> Iterator[_Row]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix == ".json":
        yield from _json_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_rows(path)
    else:
        raise ImportFileError(f"{path.name}: unsupported file type; use .csv, .json or .jsonl")


def _csv_rows(path: Path) -> Iterator[_Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ImportFileError(f"{path.name}: the file is empty; line 1 must be the header")
        names = [h.strip() for h in header]
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise ImportFileError(
                f"{path.name}: line 1: unknown column(s) {', '.join(map(repr, unknown))}; "
                f"known columns: {', '.join(COLUMNS)}"
            )
        if "external_id" not in names:
            raise ImportFileError(f"{path.name}: line 1: the header needs an external_id column")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ImportFileError(f"{path.name}: line 1: column(s) repeated: {', '.join(dupes)}")
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(cells) != len(names):
                    yield _Row(start, {"_cells": f"{len(cells)} cells, the header has "
                                       f"{len(names)}"}, True)
                else:
                    yield _Row(start, dict(zip(names, cells, strict=True)), True)
            start = reader.line_num + 1


def _json_rows(path: Path) -> Iterator[_Row]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path.name}: the file is not UTF-8 text") from None
    decoder = json.JSONDecoder()
    pos, line = 0, 1

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    def advance(to: int) -> None:
        nonlocal pos, line
        line += text.count("\n", pos, to)
        pos = to

    advance(skip(0))
    if pos >= len(text) or text[pos] != "[":
        raise ImportFileError(f"{path.name}: line {line}: expected a JSON array of residents")
    advance(skip(pos + 1))
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        start = line
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"{path.name}: line {exc.lineno}: not valid JSON: "
                                  f"{exc.msg}") from None
        advance(end)
        yield _Row(start, record if isinstance(record, dict) else {"_record": record}, False)
        advance(skip(pos))
        if pos < len(text) and text[pos] == ",":
            advance(skip(pos + 1))
            continue
        if pos < len(text) and text[pos] == "]":
            return
        raise ImportFileError(f"{path.name}: line {line}: expected ',' or ']' after a resident")


def _jsonl_rows(path: Path) -> Iterator[_Row]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield _Row(number, {"_json": exc.msg}, False)
                continue
            yield _Row(number, record if isinstance(record, dict) else {"_record": record}, False)


# ---- checking one row -----------------------------------------------------------------------


def _flag(value: Any, text: bool) -> bool | None:
    if isinstance(value, bool):
        return value
    if text and isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise ValueError("must be true or false")


def _check(row: _Row, cipher: PiiCipher | None, today: date) -> _Clean | list[RowProblem]:
    data, line = row.data, row.line
    if "_cells" in data:
        return [RowProblem(line, "(row)", f"has {data['_cells']}")]
    if "_record" in data:
        return [RowProblem(line, "(row)", "each resident must be a JSON object")]
    if "_json" in data:
        return [RowProblem(line, "(row)", f"not valid JSON: {data['_json']}")]
    problems: list[RowProblem] = []
    values: dict[str, Any] = {}

    def text_of(key: str) -> str | None:
        raw = data.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, str):
            return raw.strip()
        if isinstance(raw, int) and not isinstance(raw, bool) and key != "phone":
            return str(raw)
        problems.append(RowProblem(line, key, "must be text"))
        return None

    external_id = text_of("external_id")
    if external_id is None:
        if "external_id" not in [p.field for p in problems]:
            problems.append(RowProblem(line, "external_id", "is required"))
    elif not _ID.match(external_id):
        problems.append(RowProblem(line, "external_id", "must be 1-64 letters, digits or "
                                   "_ . : - (no spaces)"))
    elif external_id.startswith(RESERVED_PREFIX):
        problems.append(RowProblem(line, "external_id", f"'{RESERVED_PREFIX}' ids are reserved "
                                   "for residents who registered in the mini-program"))

    if "grid_id" in data:
        grid = text_of("grid_id")
        if grid is not None and not _GRID.match(grid):
            problems.append(RowProblem(line, "grid_id", "must be 1-64 letters, digits or _ . -"))
        values["grid_id"] = grid

    for flag in FLAGS:
        if flag in data and data[flag] is not None and data[flag] != "":
            try:
                values[flag] = _flag(data[flag], row.text)
            except ValueError as exc:
                problems.append(RowProblem(line, flag, str(exc)))

    facts_given = {k: v for k, v in data.items() if k in FACTS}
    unknown = [k for k in data if k not in COLUMNS]
    problems.extend(RowProblem(line, str(k), "unknown column") for k in unknown)
    try:
        facts = parse_profile(facts_given, text=row.text)
        values.update({name: getattr(facts, name) for name in facts_given})
    except ProfileError as exc:
        problems.extend(RowProblem(line, p.field, p.message) for p in exc.problems)

    personal: dict[str, str | None] = {}
    id_hash = _personal(data, values, personal, problems, line, cipher, today, text_of)
    if problems:
        return problems
    assert external_id is not None
    return _Clean(line, external_id, values, personal, id_hash)


def _personal(
    data: Mapping[str, Any],
    values: dict[str, Any],
    personal: dict[str, str | None],
    problems: list[RowProblem],
    line: int,
    cipher: PiiCipher | None,
    today: date,
    text_of: Any,
) -> str | None:
    """Check name, ID number and phone (never putting them in a message); returns the ID
    number's look-up hash. Birth date and gender come from the ID number when not given."""
    given = [k for k in PERSONAL if k in data]
    if not given:
        return None
    if cipher is None:
        problems.append(RowProblem(line, given[0], "personal data needs the PII keys "
                                   "(PII_KEYS, PII_HASH_KEY)"))
        return None
    id_hash = None
    if "name" in data:
        name = text_of("name")
        clean = normalise_name(name) if name else None
        if clean is not None and (len(clean) > 50 or any(ch.isdigit() for ch in clean)):
            problems.append(RowProblem(line, "name", "must be at most 50 characters, no digits"))
        personal["name"] = clean
    if "id_number" in data:
        raw = text_of("id_number")
        personal["id_number"] = None
        if raw is not None:
            check = validate_id_number(raw, today=today)
            if not check.ok:
                assert check.problem is not None
                problems.append(RowProblem(line, "id_number", check.problem.operator_message))
            else:
                personal["id_number"] = check.number
                id_hash = cipher.lookup_hash(check.number, field=ID_NUMBER)
                for fact, derived in (("birth_date", check.birth_date),
                                      ("gender", check.gender.value)):
                    if values.get(fact) is None:
                        values[fact] = derived
                    elif values[fact] != derived:
                        problems.append(RowProblem(line, fact, f"{values[fact]} does not match "
                                                   "the ID number"))
    if "phone" in data:
        raw = data.get("phone")
        phone = normalise_phone(str(raw)) if raw not in (None, "") else None
        if phone is not None and not _MOBILE.match(phone):
            problems.append(RowProblem(line, "phone", "must be an 11-digit mobile number"))
        personal["phone"] = phone
    return id_hash


def _set_personal(resident: Resident, personal: Mapping[str, str | None],
                  cipher: PiiCipher | None) -> bool:
    """Store what changed, encrypted (compared by hash, or decrypted for the name, so an
    unchanged file re-imports without rewriting anything)."""
    if not personal:
        return False
    assert cipher is not None
    changed = False
    if "name" in personal:
        new = personal["name"]
        try:
            old = cipher.decrypt(resident.name_enc.decode(), field=NAME) if resident.name_enc \
                else None
        except PiiDecryptError:
            old = None
        if new != old:
            resident.name_enc = cipher.encrypt(new, field=NAME).encode() if new else None
            changed = True
    for key, field_name, enc, digest in (
        ("id_number", ID_NUMBER, "id_number_enc", "id_number_hash"),
        ("phone", PHONE, "phone_enc", "phone_hash"),
    ):
        if key not in personal:
            continue
        new = personal[key]
        new_hash = cipher.lookup_hash(new, field=field_name) if new else None
        if new_hash != getattr(resident, digest):
            setattr(resident, enc, cipher.encrypt(new, field=field_name).encode() if new else None)
            setattr(resident, digest, new_hash)
            changed = True
    return changed


# ---- writing --------------------------------------------------------------------------------


def apply_facts(resident: Resident, facts: Mapping[str, Any]) -> bool:
    """Set these facts on a resident; bump `facts_version` (for re-matching) if any changed."""
    changed = False
    for name, value in facts.items():
        if name not in FACTS:
            raise KeyError(f"unknown fact {name!r}")
        if getattr(resident, name) != value:
            setattr(resident, name, value)
            changed = True
    if changed:
        resident.facts_version = (resident.facts_version or 1) + 1
    return changed


def _write_chunk(
    session: Session, rows: list[_Clean], cipher: PiiCipher | None, report: ImportReport
) -> None:
    existing = {
        r.external_id: r for r in session.scalars(
            select(Resident).where(Resident.external_id.in_([row.external_id for row in rows]))
        )
    }
    hashes = [row.id_hash for row in rows if row.id_hash]
    holders = {
        r.id_number_hash: r.external_id for r in session.scalars(
            select(Resident).where(Resident.id_number_hash.in_(hashes))
        )
    } if hashes else {}
    fresh: list[Resident] = []
    for row in rows:
        holder = holders.get(row.id_hash) if row.id_hash else None
        if holder is not None and holder != row.external_id:
            report.problems.append(RowProblem(row.line, "id_number",
                                              f"already belongs to resident {holder}"))
            continue
        if row.id_hash:
            holders[row.id_hash] = row.external_id
        facts = {k: v for k, v in row.values.items() if k in FACTS}
        other = {k: v for k, v in row.values.items() if k not in FACTS}
        resident = existing.get(row.external_id)
        if resident is None:
            resident = Resident(external_id=row.external_id, facts_version=1, **row.values)
            _set_personal(resident, row.personal, cipher)
            session.add(resident)
            fresh.append(resident)
            report.created += 1
            continue
        changed = any(getattr(resident, k) != v for k, v in other.items())
        for key, value in other.items():
            setattr(resident, key, value)
        changed = _set_personal(resident, row.personal, cipher) or changed
        if apply_facts(resident, facts):
            report.changed.append(resident.id)
            changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    report.changed.extend(r.id for r in fresh)


def import_residents(
    db: Database, path: Path, cipher: PiiCipher | None, *, today: date | None = None
) -> ImportReport:
    """Import a file; see the module docstring. Good rows are committed in chunks."""
    report = ImportReport()
    today = today or date.today()
    seen: dict[str, int] = {}
    rows = read_rows(path)
    while True:
        batch = list(islice(rows, CHUNK))
        if not batch:
            break
        clean: list[_Clean] = []
        for row in batch:
            checked = _check(row, cipher, today)
            if isinstance(checked, list):
                report.problems.extend(checked)
                continue
            first = seen.get(checked.external_id)
            if first is not None:
                report.problems.append(RowProblem(row.line, "external_id", f"'{checked.external_id}"
                                                  f"' already appears on line {first}"))
                continue
            seen[checked.external_id] = row.line
            clean.append(checked)
        if clean:
            with db.session() as session:
                _write_chunk(session, clean, cipher, report)
    report.problems.sort(key=lambda p: p.line)
    return report

