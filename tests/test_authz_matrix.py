"""Authorisation matrix: every /api/v1 endpoint × every role, generated from the URL map.

For each endpoint the allowed roles come from ``require_roles`` (``_huimin_roles`` on the view):
an endpoint without a declaration fails here. Each (endpoint, method, caller) is requested
with a fresh principal (so DELETE /me or logout cannot spoil later cases), placeholder path
values and an empty JSON body, and must answer:

- anonymous on a protected endpoint: 401 ``unauthorized``;
- a role not in the declaration: 403 ``forbidden``;
- a declared role (or anyone on a ``public`` endpoint): anything but 401 and 403 ``forbidden``
  (a 403 with another code, e.g. ``not_your_grid``, is a data-level answer and is allowed).

Engineers adding endpoints need nothing here: declaring roles is enough. Data-level rules
("own data only", "own grid and consent") are checked by the cross-user tests at the end.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from werkzeug.routing import IntegerConverter

from huimin.identity import models as identity_models
from huimin.identity.models import CitizenAccount, StaffAccount, StaffGrid
from huimin.identity.passwords import hash_password
from huimin.privacy import consent
from huimin.residents.models import Resident
from miniapp_api.auth import PUBLIC, ROLES
from tests.api_fixtures import bearer, make_api_app
from webapp.extensions import services

API = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
CALLERS = (None, *ROLES)  # None: no token
_HASH = hash_password("Matrix-Password-1")  # argon2 is slow: one hash for every account
_counter = itertools.count(1)
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def app(sqlite_url, redis_url, redis_conn):
    """Rate limits out of the way: the matrix calls sign-in and export many times."""
    return make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9")


def api_rules(app) -> list[Any]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith(API)),
        key=lambda r: r.rule,
    )


def placeholder_path(rule) -> str:
    """The rule's path with a value for each variable (an id that does not exist, a scope)."""

    def value(match: re.Match[str]) -> str:
        converter = rule._converters[match.group(1)]
        return "999999" if isinstance(converter, IntegerConverter) else "benefit_push"

    return _VARIABLE.sub(value, rule.rule)


def token_for(app, role: str) -> str:
    """A fresh account with ``role`` and a real access token for it."""
    n = next(_counter)
    with app.app_context():
        with services().db.session() as s:  # noqa: SIM117 - the token needs the committed id
            if role == identity_models.CITIZEN:
                account = CitizenAccount(openid=f"o-matrix-{n}")
                s.add(account)
                s.flush()
                kind, subject = "citizen", account.id
            else:
                staff = StaffAccount(username=f"matrix-{role}-{n}", password_hash=_HASH,
                                     roles=role, grids=[StaffGrid(grid_id="G-matrix")])
                s.add(staff)
                s.flush()
                kind, subject = "staff", staff.id
        return app.extensions["huimin_api"].tokens.issue(kind, subject).access_token


def call(client, method: str, path: str, token: str | None):
    headers = bearer(token) if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        kwargs["json"] = {}
    return client.open(path, method=method, **kwargs)


def error_code(resp) -> str | None:
    body = resp.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return None


def test_every_api_endpoint_declares_its_roles(app):
    undeclared = [
        f"{r.rule} ({r.endpoint})" for r in api_rules(app)
        if getattr(app.view_functions[r.endpoint], "_huimin_roles", None) is None
    ]
    assert undeclared == [], (
        "these endpoints have no require_roles(...) declaration: " + ", ".join(undeclared)
    )


def test_role_matrix(app):
    client = app.test_client()
    failures: list[str] = []
    checked = 0
    for rule in api_rules(app):
        allowed = getattr(app.view_functions[rule.endpoint], "_huimin_roles", None)
        if allowed is None:
            continue  # reported by test_every_api_endpoint_declares_its_roles
        path = placeholder_path(rule)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            for caller in CALLERS:
                token = token_for(app, caller) if caller else None
                resp = call(client, method, path, token)
                code = error_code(resp)
                checked += 1
                where = f"{method} {rule.rule} as {caller or 'anonymous'}"
                if PUBLIC in allowed:
                    if resp.status_code == 401 or code == "forbidden":
                        failures.append(f"{where}: public endpoint refused ({resp.status_code})")
                elif caller is None:
                    if (resp.status_code, code) != (401, "unauthorized"):
                        failures.append(f"{where}: expected 401, got {resp.status_code} {code}")
                elif caller in allowed:
                    if resp.status_code == 401 or code == "forbidden":
                        failures.append(f"{where}: allowed role refused ({resp.status_code})")
                    if resp.status_code >= 500:
                        failures.append(f"{where}: server error {resp.status_code}")
                elif (resp.status_code, code) != (403, "forbidden"):
                    failures.append(f"{where}: expected 403 forbidden, got "
                                    f"{resp.status_code} {code}")
    assert checked > 0
    assert failures == [], "\n".join(failures)


def test_openapi_lists_roles_and_security(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for rule in api_rules(app):
        allowed = getattr(app.view_functions[rule.endpoint], "_huimin_roles", None)
        if allowed is None or rule.endpoint.startswith("openapi."):
            continue
        path = _VARIABLE.sub(r"{\1}", rule.rule)
        for method in (rule.methods or set()) - IGNORED_METHODS:
            operation = spec["paths"][path][method.lower()]
            assert operation["x-roles"] == sorted(allowed)
            assert bool(operation["security"]) == (PUBLIC not in allowed)


# ---- data-level rules ----------------------------------------------------------------------


@pytest.fixture
def grid_setup(app):
    """Two residents in grid G1, one in G2; grid workers for G1 and G2; ops."""
    with app.app_context(), services().db.session() as s:
        residents = [Resident(external_id=f"R{i}", grid_id=g)
                     for i, g in enumerate(["G1", "G1", "G2"], start=1)]
        s.add_all(residents)
        s.flush()
        return [r.id for r in residents]


def staff_token(app, role: str, grids: list[str]) -> tuple[int, str]:
    with app.app_context():
        with services().db.session() as s:
            staff = StaffAccount(username=f"{role}-{next(_counter)}", password_hash=_HASH,
                                 roles=role, grids=[StaffGrid(grid_id=g) for g in grids])
            s.add(staff)
            s.flush()
            staff_id = staff.id
        return staff_id, app.extensions["huimin_api"].tokens.issue("staff", staff_id).access_token


def test_grid_worker_sees_only_own_grid_and_only_with_consent(app, grid_setup):
    client = app.test_client()
    in_grid, in_grid_2, other_grid = grid_setup
    worker_id, worker = staff_token(app, "grid_worker", ["G1"])
    _, stranger = staff_token(app, "grid_worker", ["G2"])
    _, ops = staff_token(app, "ops", [])

    def look(token: str, resident_id: int):
        return client.get(f"/api/v1/staff/residents/{resident_id}", headers=bearer(token))

    resp = look(worker, other_grid)
    assert (resp.status_code, error_code(resp)) == (403, "not_your_grid")
    resp = look(worker, in_grid)
    assert (resp.status_code, error_code(resp)) == (403, "consent_required")
    with app.app_context(), services().db.session() as s:
        consent.grant(s, in_grid, consent.GRID_WORKER_ASSIST, "grid_worker", granted_to=worker_id)
    assert look(worker, in_grid).status_code == 200
    # The consent names this worker: a colleague of another grid still cannot; nor can the
    # worker see the neighbour who did not consent.
    assert look(stranger, in_grid).status_code == 403
    assert error_code(look(worker, in_grid_2)) == "consent_required"
    assert look(worker, 999999).status_code == 404
    # Ops see residents masked without a consent; every look is audited.
    assert look(ops, in_grid_2).status_code == 200
    with app.app_context(), services().db.session() as s:
        consent.withdraw(s, in_grid, consent.GRID_WORKER_ASSIST)
    resp = look(worker, in_grid)
    assert (resp.status_code, error_code(resp)) == (403, "consent_required")
    from huimin.privacy import audit

    with app.app_context(), services().db.session() as s:
        results = [e.result for e in reversed(audit.entries_for_target(s, f"resident:{in_grid}"))]
        assert results == ["denied", "ok", "denied", "denied"]
        assert audit.verify_chain(s) == []


def test_citizen_cannot_reach_staff_resident_lookup(app, grid_setup):
    token = token_for(app, "citizen")
    resp = app.test_client().get(f"/api/v1/staff/residents/{grid_setup[0]}",
                                 headers=bearer(token))
    assert (resp.status_code, error_code(resp)) == (403, "forbidden")
