"""`flask benefits match` and `flask residents import|generate`: operators' commands for
policy matching and resident data. Messages are plain English."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import click
import redis
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from huimin.benefits.matching import run_matching
from huimin.platform.settings import load_settings
from huimin.privacy import audit
from huimin.privacy.pii import cipher_from_settings
from huimin.residents.importer import ImportFileError, import_residents
from huimin.residents.models import Resident
from huimin.residents.synthetic import insert_residents, synthetic_residents
from huimin.rules import RuleFileError, load_rules
from jobs.benefits import dispatch_pushes, enqueue_residents_match
from webapp.extensions import services

benefits_cli = AppGroup("benefits", help="Policy matching (政策找人) and benefit notices.")
residents_cli = AppGroup("residents", help="Resident data: import files, synthetic residents.")
SHOWN_PROBLEMS = 100


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli:unknown"


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD") from None


@benefits_cli.command("match")
@click.option("--as-of", callback=_day, help="Evaluation date, YYYY-MM-DD (default today).")
@click.option("--policy", help="Only this policy (its key, e.g. elderly_allowance).")
@click.option("--push/--no-push", default=True, show_default=True,
              help="Queue push jobs for the new notices.")
def match(as_of: date, policy: str | None, push: bool) -> None:
    """Match every resident against the rules in force and record new notices (idempotent:
    each resident gets one notice per policy and rule version)."""
    settings = load_settings().benefits
    try:
        book = load_rules(settings.rules_dir)
    except RuleFileError as exc:
        raise click.ClickException(f"rule files have problems:\n{exc}") from None
    in_force = [r.policy for r in book.in_force(as_of)]
    if policy is not None and policy not in in_force:
        raise click.BadParameter(
            f"no rule in force for {policy!r} on {as_of}; policies with a rule: "
            f"{', '.join(in_force) or '(none)'}", param_hint="--policy")
    svc = services()
    report = run_matching(svc.db, book, as_of, policy=policy,
                          valid_days=settings.notice_valid_days)
    for line in report.lines():
        click.echo(line)
    click.echo(f"matching on {as_of}: {report.created} new notices")
    if push:
        try:
            queued = dispatch_pushes(svc.redis, svc.db)
        except redis.RedisError as exc:
            raise click.ClickException(f"notices saved, but Redis is unreachable so no push was "
                                       f"queued ({type(exc).__name__}); run again later") from None
        click.echo(f"{queued} push jobs queued")


@residents_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--match/--no-match", default=True, show_default=True,
              help="Queue matching for the residents whose facts changed.")
def import_file(file: Path, match: bool) -> None:
    """Import residents from a CSV, JSON or JSON Lines file (see huimin/residents/importer.py
    for the columns). Bad rows are listed by line and field and skipped; good rows are kept;
    importing the same file twice changes nothing."""
    svc = services()
    try:
        report = import_residents(svc.db, file, cipher_from_settings(svc.settings))
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    with svc.db.session() as s:
        audit.record(s, _actor(), "residents.import", "residents", audit.OK, detail={
            "file": file.name, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "rejected": report.rejected_lines})
    for problem in report.problems[:SHOWN_PROBLEMS]:
        click.echo(f"{file.name}: {problem}", err=True)
    if len(report.problems) > SHOWN_PROBLEMS:
        click.echo(f"... and {len(report.problems) - SHOWN_PROBLEMS} more problems", err=True)
    click.echo(f"{file.name}: {report.summary()}")
    if match and report.changed:
        try:
            jobs = enqueue_residents_match(svc.redis, report.changed)
        except redis.RedisError:
            click.echo("Redis is unreachable: the changed residents will be matched tonight",
                       err=True)
            return
        click.echo(f"matching queued for {len(report.changed)} residents ({jobs} jobs)")


@residents_cli.command("generate")
@click.argument("count", type=click.IntRange(min=1, max=10_000_000))
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
def generate(count: int, seed: int) -> None:
    """Add COUNT realistic synthetic residents (external ids SYN...; no real personal data),
    numbered after any made before. Run `flask benefits match` afterwards."""
    db = services().db
    with db.session() as s:
        last = s.scalar(select(func.max(Resident.external_id))
                        .where(Resident.external_id.like("SYN%")))
    start = int(last[3:]) if last and last[3:].isdigit() else 0

    def numbered() -> Iterator[dict]:
        for i, row in enumerate(synthetic_residents(count, seed=seed + start), start=1):
            row["external_id"] = f"SYN{start + i:07d}"
            yield row

    with db.engine.begin() as conn:
        added = insert_residents(conn, numbered())
    click.echo(f"added {added} synthetic residents (SYN{start + 1:07d} to SYN{start + added:07d})")


def register(app: Flask) -> None:
    app.cli.add_command(benefits_cli)
    app.cli.add_command(residents_cli)
