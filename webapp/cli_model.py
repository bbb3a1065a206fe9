"""`flask model train|list|activate|rollback|install-built`: the ops console's model work from
the command line, for CI/CD. The same rules apply (the gate, the audit log)."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from huimin.ops import registry, training
from huimin.ops.gate import GateConfigError, load_gate_config
from huimin.platform.settings import load_settings
from huimin.privacy import audit
from jobs.training import enqueue_training
from webapp.extensions import services

group = AppGroup("model", help="Assistant models: train, list, activate, roll back.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@group.command("train")
@click.option("--enqueue", is_flag=True,
              help="Queue the run for the worker (training queue) instead of training here.")
def train(enqueue: bool) -> None:
    """Export nlu_data/ + accepted annotations, validate, train, evaluate, register."""
    svc, ops = services(), load_settings().ops
    with svc.db.session() as session:
        try:
            run = training.start_run(session, _actor())
        except training.TrainingBusy as exc:
            raise click.ClickException(f"training run {exc.run.id} is {exc.run.status}") from None
        audit.record(session, _actor(), "ops.training.start", f"training_run:{run.id}", audit.OK)
        run_id = run.id
    if enqueue:
        job_id = enqueue_training(svc.redis, run_id, ops.training_timeout_seconds)
        click.echo(f"training run {run_id} queued (job {job_id})")
        return
    status = training.execute(svc.db, svc.settings, ops, run_id, echo=click.echo)
    with svc.db.session() as session:
        run = session.get(training.TrainingRun, run_id)
        if status != training.SUCCEEDED:
            raise click.ClickException(f"training run {run_id} failed: {run.error}")
        click.echo(f"training run {run_id} succeeded: model #{run.model_id}")


@group.command("list")
def list_models() -> None:
    """Every registered model, newest first; * marks the live one."""
    with services().db.session() as session:
        live = registry.active_model(session)
        for record in registry.list_models(session):
            evaluation = record.evaluation or {}
            f1 = f"{evaluation['macro_f1']:.3f}" if "macro_f1" in evaluation else "  -  "
            mark = "*" if live is not None and live.id == record.id else " "
            click.echo(
                f"{mark} #{record.id:<4} {record.name:<40} macro-F1 {f1}  {record.source:<9} "
                f"{record.started_by_name or record.started_by:<16} "
                f"{record.registered_at:%Y-%m-%d %H:%M}"
            )


def _gate():
    try:
        ops = load_settings().ops
        return load_gate_config(ops.gate_file, ops.gate_tolerance)
    except GateConfigError as exc:
        raise click.ClickException(str(exc)) from None


@group.command("activate")
@click.argument("model_id", type=int)
def activate(model_id: int) -> None:
    """Make MODEL_ID live if it passes the gate (exit status 1 and the reasons if not)."""
    config = _gate()
    with services().db.session() as session:
        outcome = registry.activate(session, model_id, config, _actor())
    if not outcome.ok:
        reasons = outcome.verdict.reasons if outcome.verdict else [outcome.message]
        click.echo(f"model #{model_id} refused:", err=True)
        for reason in reasons:
            click.echo(f"  - {reason}", err=True)
        sys.exit(1)
    click.echo(f"model #{model_id} is live; Rasa replicas pick it up within seconds")


@group.command("rollback")
@click.argument("model_id", type=int, required=False)
def rollback(model_id: int | None) -> None:
    """Go back to MODEL_ID (default: the model live before the current one)."""
    with services().db.session() as session:
        outcome = registry.rollback(session, _actor(), model_id)
        target = outcome.deployment.model_id if outcome.deployment else None
    if not outcome.ok:
        raise click.ClickException(outcome.message)
    click.echo(f"rolled back to model #{target}")


@group.command("install-built")
def install_built() -> None:
    """Register the model `make train` installed in models/ (live only if none is yet)."""
    with services().db.session() as session:
        record = registry.install_built(session, load_settings().ops, _actor())
        live = registry.active_model(session)
        if record is None:
            click.echo("no model in models/: run `make train`")
            return
        state = ("live" if live is not None and live.id == record.id
                 else f"registered as a candidate; #{live.id if live else '-'} stays live until "
                      "the model passes the gate (ops console 上线 or `flask model activate`)")
        click.echo(f"model #{record.id} ({record.name}) {state}")


def register(app: Flask) -> None:
    app.cli.add_command(group)
