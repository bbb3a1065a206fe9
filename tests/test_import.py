"""Resident import: bad rows by line and field in plain English, good rows kept, idempotent by
external_id; CSV, JSON and JSON Lines; personal data encrypted; the CLI commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import func, select

from huimin.platform.db import Database
from huimin.platform.settings import Settings
from huimin.privacy import audit
from huimin.privacy.pii import ID_NUMBER, NAME, cipher_from_settings
from huimin.residents.importer import ImportFileError, import_residents
from huimin.residents.models import Resident
from jobs.queues import DEFAULT

CIPHER = cipher_from_settings(Settings(secret_key="test-import"))
# A valid 18-character ID number (check character computed), born 1949-12-31, female.
ID_NUMBER_OK = "11010519491231002X"

GOOD_AND_BAD = """\
external_id,grid_id,birth_date,gender,local_hukou,employment_status,unemployment_insurance_months
R1,G1,1940-03-01,female,是,retired,
R2,G1,1960-02-30,male,true,employed,24
R3,G2,1985-07-15,男,false,灵活就业,36
,G2,1990-01-01,female,true,employed,12
R5,G 2,1990-01-01,female,maybe,boss,-3
"""


@pytest.fixture
def db(sqlite_url: str) -> Database:
    database = Database(sqlite_url)
    yield database
    database.engine.dispose()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def residents(db: Database) -> dict[str, Resident]:
    with db.session() as s:
        return {r.external_id: r for r in s.scalars(select(Resident))}


def test_bad_rows_are_reported_by_line_and_field_and_good_rows_kept(db, tmp_path):
    report = import_residents(db, write(tmp_path, "r.csv", GOOD_AND_BAD), CIPHER)
    assert (report.created, report.rejected_lines) == (2, 3)
    problems = [str(p) for p in report.problems]
    assert "line 3: birth_date: birth_date: 1960-02-30 is not a real date" in problems
    assert "line 5: external_id: is required" in problems
    assert "line 6: grid_id: must be 1-64 letters, digits or _ . -" in problems
    assert "line 6: local_hukou: local_hukou must be true or false" in problems
    assert any(p.startswith("line 6: employment_status: employment_status must be one of")
               for p in problems)
    assert "line 6: unemployment_insurance_months: unemployment_insurance_months must be " \
           "between 0 and 1200, got -3" in problems
    found = residents(db)
    assert set(found) == {"R1", "R3"}
    assert (found["R1"].birth_date, found["R1"].local_hukou, found["R1"].grid_id) == (
        date(1940, 3, 1), True, "G1")
    assert found["R1"].unemployment_insurance_months is None  # empty cell: unknown
    assert (found["R3"].gender, found["R3"].employment_status) == ("male", "flexible")
    assert sorted(report.changed) == sorted(r.id for r in found.values())


def test_reimport_is_idempotent_and_updates_only_what_changed(db, tmp_path):
    path = write(tmp_path, "r.csv", GOOD_AND_BAD)
    import_residents(db, path, CIPHER)
    again = import_residents(db, path, CIPHER)
    assert (again.created, again.updated, again.unchanged, again.changed) == (0, 0, 2, [])
    before = residents(db)["R1"]

    # A narrower file: only the columns it has are touched; an empty cell means unknown.
    update = write(tmp_path, "u.csv", "external_id,local_hukou,grid_id\nR1,,G7\nR3,false,G2\n")
    report = import_residents(db, update, CIPHER)
    assert (report.updated, report.unchanged, report.changed) == (1, 1, [before.id])
    after = residents(db)["R1"]
    assert (after.local_hukou, after.grid_id, after.birth_date) == (None, "G7", date(1940, 3, 1))
    assert after.facts_version == before.facts_version + 1
    assert residents(db)["R3"].facts_version == 1


def test_json_array_reports_the_line_each_record_starts_on(db, tmp_path):
    records = [
        {"external_id": "J1", "birth_date": "1940-03-01", "local_hukou": True},
        {"external_id": "J2", "local_hukou": "yes", "hukou": True},
        {"external_id": "J1", "disabled": False},
        ["not", "an", "object"],
    ]
    path = write(tmp_path, "r.json", json.dumps(records, indent=2))
    report = import_residents(db, path, CIPHER)
    text = path.read_text().splitlines()
    start = [i + 1 for i, line in enumerate(text) if line.strip() in ("{", "[") and i > 0]
    problems = [str(p) for p in report.problems]
    assert f"line {start[1]}: local_hukou: local_hukou must be true or false" in problems
    assert f"line {start[1]}: hukou: unknown column" in problems
    assert f"line {start[2]}: external_id: 'J1' already appears on line {start[0]}" in problems
    assert f"line {start[3]}: (row): each resident must be a JSON object" in problems
    assert set(residents(db)) == {"J1"} and report.created == 1


def test_json_lines(db, tmp_path):
    path = write(tmp_path, "r.jsonl",
                 '{"external_id": "L1", "final_year_student": true}\n\n{broken\n'
                 '{"external_id": "L2", "certificate_level": 6}\n')
    report = import_residents(db, path, CIPHER)
    problems = [str(p) for p in report.problems]
    assert problems[0].startswith("line 3: (row): not valid JSON")
    assert problems[1] == ("line 4: certificate_level: certificate_level must be between 1 and 5,"
                           " got 6")
    assert set(residents(db)) == {"L1"}


def test_file_level_mistakes_import_nothing(db, tmp_path):
    with pytest.raises(ImportFileError, match=r"line 1: unknown column\(s\) 'hukou'"):
        import_residents(db, write(tmp_path, "a.csv", "external_id,hukou\nA,true\n"), CIPHER)
    with pytest.raises(ImportFileError, match="needs an external_id column"):
        import_residents(db, write(tmp_path, "b.csv", "birth_date\n1940-01-01\n"), CIPHER)
    with pytest.raises(ImportFileError, match="unsupported file type"):
        import_residents(db, write(tmp_path, "c.xlsx", ""), CIPHER)
    with pytest.raises(ImportFileError, match="expected a JSON array"):
        import_residents(db, write(tmp_path, "d.json", '{"external_id": "A"}'), CIPHER)
    assert residents(db) == {}


def test_personal_data_is_encrypted_and_never_in_messages(db, tmp_path):
    text = ("external_id,name,id_number,phone,birth_date\n"
            f"P1,王 秀英,{ID_NUMBER_OK},+86 138-1234-5678,\n"
            f"P2,李四,{ID_NUMBER_OK},,\n"
            "P3,张三,110105194912310021,12345,\n"
            f"P4,赵五,{ID_NUMBER_OK[:-1]}X,,1950-01-01\n")
    report = import_residents(db, write(tmp_path, "p.csv", text), CIPHER)
    problems = [str(p) for p in report.problems]
    assert problems == [
        "line 3: id_number: already belongs to resident P1",
        "line 4: id_number: ID number check character does not match (ISO 7064 MOD 11-2)",
        "line 4: phone: must be an 11-digit mobile number",
        "line 5: birth_date: 1950-01-01 does not match the ID number",
    ]
    assert not any(ID_NUMBER_OK[:14] in p or "1381234" in p for p in problems)
    p1 = residents(db)["P1"]
    assert (p1.birth_date, p1.gender) == (date(1949, 12, 31), "female")  # from the ID number
    assert ID_NUMBER_OK.encode() not in p1.id_number_enc
    assert CIPHER.decrypt(p1.id_number_enc.decode(), field=ID_NUMBER) == ID_NUMBER_OK
    assert CIPHER.decrypt(p1.name_enc.decode(), field=NAME) == "王 秀英"
    assert p1.id_number_hash == CIPHER.lookup_hash(ID_NUMBER_OK, field=ID_NUMBER)
    again = import_residents(db, write(tmp_path, "p2.csv", text), CIPHER)
    assert (again.created, again.updated) == (0, 0)  # encrypted values are not rewritten


def test_cli_import_queues_matching_for_changed_residents(app, tmp_path, redis_conn):
    path = write(tmp_path, "r.csv", GOOD_AND_BAD)
    result = app.test_cli_runner().invoke(args=["residents", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "r.csv: 2 created, 0 updated, 0 unchanged, 3 rows rejected" in result.stdout
    assert "r.csv: line 3: birth_date: birth_date: 1960-02-30 is not a real date" in result.stderr
    assert "matching queued for 2 residents (1 jobs)" in result.stdout
    [job_id] = Queue(DEFAULT, connection=redis_conn).get_job_ids()
    assert job_id.startswith("benefits-residents-")
    with app.app_context():
        from webapp.extensions import services

        with services().db.session() as s:
            [entry] = [e for e in audit.entries_for_target(s, "residents")]
            assert entry.action == "residents.import" and entry.detail["rejected"] == 3


def test_cli_generate_and_match(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["residents", "generate", "30", "--seed", "5"])
    assert first.exit_code == 0 and "SYN0000001 to SYN0000030" in first.output
    second = runner.invoke(args=["residents", "generate", "20"])
    assert "SYN0000031 to SYN0000050" in second.output
    with app.app_context():
        from webapp.extensions import services

        with services().db.session() as s:
            assert s.scalar(select(func.count()).select_from(Resident)) == 50

    bad = runner.invoke(args=["benefits", "match", "--policy", "free_lunch"])
    assert bad.exit_code != 0 and "no rule in force for 'free_lunch'" in bad.output
    bad_day = runner.invoke(args=["benefits", "match", "--as-of", "2025-02-30"])
    assert "is not a date; write it as YYYY-MM-DD" in bad_day.output
    ok = runner.invoke(args=["benefits", "match", "--as-of", "2025-06-30", "--no-push"])
    assert ok.exit_code == 0, ok.output
    assert "elderly_allowance v1:" in ok.output and "matching on 2025-06-30:" in ok.output
