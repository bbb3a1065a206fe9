"""Operator commands for identity and data protection (messages in plain English).

    flask --app webapp staff create --username li --role ops      # prompts for the password
    flask --app webapp staff unlock --username li
    flask --app webapp audit verify                                # exit 1 if tampered
    flask --app webapp audit purge --older-than-days 400
    flask --app webapp keys pii                                    # new PII_KEYS entry
    flask --app webapp keys rotate-pii                             # re-encrypt with newest key
"""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from huimin.identity import accounts
from huimin.identity import models as identity_models
from huimin.identity.accounts import StaffError
from huimin.identity.models import CitizenAccount, StaffAccount
from huimin.identity.staff_lockout import PairLockout
from huimin.privacy import audit
from huimin.privacy.pii import (
    ID_NUMBER,
    NAME,
    PHONE,
    PiiDecryptError,
    cipher_from_settings,
    generate_hash_key,
    generate_key_entry,
)
from huimin.residents.models import Resident
from webapp.extensions import services

staff_cli = AppGroup("staff", help="Staff accounts (grid workers, verifiers, ops, admins).")
audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
keys_cli = AppGroup("keys", help="Keys for personal-data encryption.")


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@staff_cli.command("create")
@click.option("--username", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(identity_models.STAFF_ROLES), help="Repeat for several roles.")
@click.option("--grid", "grids", multiple=True, help="Grid id (grid workers); repeatable.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create(username: str, roles: tuple[str, ...], grids: tuple[str, ...],
                 password_stdin: bool) -> None:
    """Create a staff account; ops and admin accounts get a TOTP secret (URI printed once)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    svc = services()
    try:
        with svc.db.session() as session:
            created = accounts.create_staff(
                session, username, password, list(roles), cipher_from_settings(svc.settings),
                grids=list(grids),
            )
            audit.record(session, _cli_actor(), "cli.staff.create",
                         f"staff:{created.account.id}", audit.OK,
                         detail={"roles": sorted(roles), "grids": sorted(grids)})
            account_id = created.account.id
    except StaffError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    click.echo(f"created staff account {account_id} ({username}): roles {', '.join(sorted(roles))}")
    if created.totp_uri:
        click.echo("Two-factor sign-in is required. Add this to the authenticator app now "
                   "(it is not shown again):")
        click.echo(created.totp_uri)


@staff_cli.command("unlock")
@click.option("--username", required=True)
def staff_unlock(username: str) -> None:
    """Lift the sign-in lockout of this username from every address (audited)."""
    with services().db.session() as session:
        account = accounts.staff_by_username(session, username)
        if account is None:
            raise click.ClickException(f"no staff account {username!r}")
        lifted = PairLockout(services().redis).unlock(account.username)
        audit.record(session, _cli_actor(), "cli.staff.unlock", f"staff:{account.id}", audit.OK,
                     detail={"addresses_unlocked": lifted})
    click.echo(f"unlocked {username} ({lifted} locked address(es))")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit status 1 and a list of problems if it was altered."""
    with services().db.session() as session:
        problems = audit.verify_chain(session)
        total = audit.count(session)
    if problems:
        for problem in problems:
            click.echo(f"TAMPERED {problem}", err=True)
        raise click.ClickException(
            f"audit log failed verification: {len(problems)} problem(s) in {total} entries"
        )
    click.echo(f"audit log intact: {total} entries verified")


@audit_cli.command("purge")
@click.option("--older-than-days", type=int, required=True)
def audit_purge(older_than_days: int) -> None:
    """Delete entries older than the given age (never younger than the retention period)."""
    svc = services()
    try:
        with svc.db.session() as session:
            removed = audit.purge_older_than(
                session, older_than_days, retention_days=svc.settings.audit_retention_days
            )
            if removed:
                audit.record(session, _cli_actor(), "cli.audit.purge", "audit_log", audit.OK,
                             detail={"older_than_days": older_than_days, "removed": removed})
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed {removed} audit entries older than {older_than_days} days")


@keys_cli.command("pii")
def keys_pii() -> None:
    """Print a new encryption key entry (and a hash key for a first set-up)."""
    click.echo("Put this entry FIRST in PII_KEYS (keep the old entries after it), then run "
               "`flask keys rotate-pii`:")
    click.echo(generate_key_entry())
    click.echo("PII_HASH_KEY for a NEW installation only (changing it breaks every look-up):")
    click.echo(generate_hash_key())


@keys_cli.command("rotate-pii")
def keys_rotate_pii() -> None:
    """Re-encrypt stored personal data with the newest key in PII_KEYS."""
    svc = services()
    cipher = cipher_from_settings(svc.settings)
    changed = 0
    try:
        with svc.db.session() as session:
            for resident in session.scalars(select(Resident)):
                for column, field in (("name_enc", NAME), ("id_number_enc", ID_NUMBER),
                                      ("phone_enc", PHONE)):
                    value = getattr(resident, column)
                    if value is not None and cipher.needs_rotation(value.decode()):
                        setattr(resident, column,
                                cipher.rotate(value.decode(), field=field).encode())
                        changed += 1
            for citizen in session.scalars(select(CitizenAccount)):
                if citizen.phone_enc and cipher.needs_rotation(citizen.phone_enc):
                    citizen.phone_enc = cipher.rotate(citizen.phone_enc, field=PHONE)
                    changed += 1
            for staff in session.scalars(select(StaffAccount)):
                if staff.totp_secret_enc and cipher.needs_rotation(staff.totp_secret_enc):
                    staff.totp_secret_enc = cipher.rotate(
                        staff.totp_secret_enc, field=accounts.TOTP_FIELD)
                    changed += 1
            audit.record(session, _cli_actor(), "cli.keys.rotate_pii", "pii", audit.OK,
                         detail={"re_encrypted": changed, "key_id": cipher.ring.current_kid})
    except PiiDecryptError as exc:
        raise click.ClickException(f"nothing changed: {exc}") from None
    click.echo(f"re-encrypted {changed} values with key {cipher.ring.current_kid}")


def register(app: Flask) -> None:
    for group in (staff_cli, audit_cli, keys_cli):
        app.cli.add_command(group)
