"""`flask --app webapp employment-code keygen`: make an employment-code signing key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from huimin.employment_code import EmploymentCodes, KeyConfigError
from huimin.employment_code.keys import KeyRing, entry_from_jwk, generate_key
from huimin.platform.settings import load_settings

group = AppGroup("employment-code", help="Employment code (就业码) signing keys.")


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601 with a zone, e.g. 2025-07-01T08:00:00Z") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2025-07-01T08:00:00+08:00")
    return moment


@group.command("keygen")
@click.option("--kid", help="Key id, 1-16 characters A-Z a-z 0-9 . _ - (default k<YYYYMMDD>).")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path),
    help="Key directory (default EMPLOYMENT_CODE_KEY_DIR, else keys/employment_code).",
)
@click.option(
    "--activates-at", callback=_parse_time,
    help="When it starts signing (default now). Publish early: verifiers cache the JWKS.",
)
def keygen(kid: str | None, directory: Path | None, activates_at: datetime) -> None:
    """Create a new Ed25519 key file (mode 0600); older keys stay published until their
    codes have expired. Never commit key files."""
    settings = load_settings().employment_code
    directory = directory or settings.key_dir
    kid = kid or "k" + datetime.now(UTC).strftime("%Y%m%d")
    try:
        path = generate_key(kid, directory, activates_at=activates_at)
    except FileExistsError:
        raise click.ClickException(
            f"{directory / (kid + '.jwk')} exists; choose another --kid"
        ) from None
    except KeyConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    ring = KeyRing.from_directory(directory, retire_after_seconds=settings.retire_after_seconds)
    try:
        EmploymentCodes(ring, settings)  # refuses a kid that would overflow the QR
    except KeyConfigError as exc:
        path.unlink()
        raise click.ClickException(str(exc)) from exc
    entry = entry_from_jwk(json.loads(path.read_text(encoding="utf-8")), source=str(path))
    click.echo(f"wrote {path} (private, mode 0600; never commit it)")
    click.echo(f"signs from {activates_at.astimezone(UTC).isoformat()}; public key:")
    click.echo(json.dumps(entry.public_jwk(), indent=2))
    if settings.keys_json:
        click.echo("note: EMPLOYMENT_CODE_KEYS is set and wins over the key directory; "
                   "add this key there for it to be used")


def register(app: Flask) -> None:
    app.cli.add_command(group)
