"""Grid assignments: the CSV import (with the residents' import), the admin summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from huimin.grid.assignment import AssignmentError, set_grids, summary
from huimin.identity.models import StaffAccount
from huimin.platform.db import Database
from huimin.privacy import audit
from huimin.privacy.models import AuditEntry
from tests.grid_fixtures import add_resident, add_staff


def test_import_csv_through_the_cli(app, tmp_path: Path):
    with app.app_context():
        from webapp.extensions import services

        db = services().db
    wang = add_staff(db, "grid_worker", ("OLD",))
    li = add_staff(db, "grid_worker")
    verifier = add_staff(db, "verifier")
    with db.session() as s:
        names = {i: s.get(StaffAccount, i).username for i in (wang, li, verifier)}
    add_resident(db, "G1")
    add_resident(db, "G1")
    add_resident(db, "G9")
    csv = tmp_path / "grids.csv"
    csv.write_text(
        "username,grid_id\n"
        f"{names[wang]},G1\n{names[wang]},G2\n{names[li]},G2\n"
        f"nobody,G1\n{names[verifier]},G1\njust-one-column\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["grid", "import", str(csv)])
    assert result.exit_code == 1
    assert f"{names[wang]}: G1, G2" in result.output
    assert "username 'nobody': no such staff account" in result.output
    assert f"username '{names[verifier]}': grid assignments are for grid_worker" in result.output
    assert "line 7: expected username,grid_id" in result.output
    with db.session() as s:
        assert s.get(StaffAccount, wang).grid_ids == {"G1", "G2"}  # OLD is gone
        assert s.get(StaffAccount, li).grid_ids == {"G2"}
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "cli.grid.assign"))
        assert {e.target for e in entries} == {f"staff:{wang}", f"staff:{li}"}
        assert audit.verify_chain(s) == []
    listing = app.test_cli_runner().invoke(args=["grid", "list"])
    assert listing.exit_code == 0
    assert f"G1\t2 residents\t{names[wang]}" in listing.output
    assert "G9\t1 residents\t(nobody)" in listing.output


def test_set_grids_rules(sqlite_url: str):
    db = Database(sqlite_url)
    worker = add_staff(db, "grid_worker", ("G1",))
    ops = add_staff(db, "ops")
    with db.session() as s:
        assert set_grids(s, worker, [" G2", "G2", "G3 "]) == ["G2", "G3"]
        assert set_grids(s, ops, []) == []
        for bad in ([("x" * 65)], ["G\n1"]):
            with pytest.raises(AssignmentError):
                set_grids(s, worker, bad)
        with pytest.raises(AssignmentError, match="grid_worker"):
            set_grids(s, ops, ["G1"])
        assert [(g.grid_id, g.workers) for g in summary(s)] == [
            ("G2", (s.get(StaffAccount, worker).username,)),
            ("G3", (s.get(StaffAccount, worker).username,))]
    db.engine.dispose()
