"""Flask CLI commands: `flask --app webapp init-db`, `flask --app webapp seed`, ..."""

from __future__ import annotations

import click
from flask import Flask

from huimin.catalogue import offices
from huimin.platform import migrate
from huimin.platform.settings import ROOT
from miniapp_api import cli as identity_cli
from webapp import cli_benefits, cli_employment_code, cli_grid, cli_model
from webapp.extensions import services


def register_cli(app: Flask) -> None:
    identity_cli.register(app)  # staff, audit, keys
    cli_employment_code.register(app)
    cli_benefits.register(app)  # flask benefits match, flask residents import|generate (issue 6)
    cli_model.register(app)  # flask model train|list|activate|rollback (issue 9)
    cli_grid.register(app)  # flask grid import|list (issue 8)

    @app.cli.command("init-db")
    def init_db() -> None:
        """Apply every database migration (idempotent)."""
        migrate.upgrade(services().settings.database_url)
        click.echo("database is at the latest migration")

    @app.cli.command("seed")
    def seed() -> None:
        """Load demo data (idempotent): service offices."""
        records = offices.load_office_file(ROOT / "seed_data" / "offices.yml")
        with services().db.session() as session:
            count = offices.upsert_offices(session, records)
        click.echo(f"seeded {count} offices")
