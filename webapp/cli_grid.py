"""`flask --app webapp grid ...`: grid workers' grid assignments (issue 8)."""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from huimin.grid import assignment
from huimin.privacy import audit
from webapp.extensions import services


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


group = AppGroup("grid", help="Grid workers (网格员) and the grids they look after.")


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_assignments(path: Path) -> None:
    """Assign grids from a CSV of `username,grid_id` lines (header optional). Each listed
    worker's grids become exactly the ones in the file; bad lines are reported and skipped."""
    with services().db.session() as session:
        report = assignment.import_csv(session, path)
        for username, grids in sorted(report.assigned.items()):
            staff = assignment.staff_by_username(session, username)
            audit.record(session, _actor(), "cli.grid.assign",
                         f"staff:{staff.id}" if staff else "staff_grids", audit.OK,
                         detail={"grids": grids, "source": path.name})
    for username, grids in sorted(report.assigned.items()):
        click.echo(f"{username}: {', '.join(grids) or '(no grids)'}")
    for problem in report.problems:
        click.echo(f"{path.name}: {problem}", err=True)
    if report.problems:
        raise SystemExit(1)


@group.command("list")
def list_grids() -> None:
    """Every grid with its number of residents and its grid workers."""
    with services().db.session() as session:
        rows = assignment.summary(session)
    for row in rows:
        workers = ", ".join(row.workers) or "(nobody)"
        click.echo(f"{row.grid_id}\t{row.residents} residents\t{workers}")


def register(app: Flask) -> None:
    app.cli.add_command(group)
