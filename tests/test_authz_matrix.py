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
                return app.extensions["huimin_api"].tokens.issue(
                    "citizen", account.id).access_token
            staff = StaffAccount(username=f"matrix-{role}-{n}", password_hash=_HASH,
                                 roles=role, grids=[StaffGrid(grid_id="G-matrix")])
            s.add(staff)
            s.flush()
            staff_id = staff.id
        return app.extensions["huimin_api"].tokens.issue_staff(staff_id, {role}).access_token


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
        tokens = app.extensions["huimin_api"].tokens
        return staff_id, tokens.issue_staff(staff_id, {role}).access_token


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


# ---- grid scope of every grid endpoint (issue 15, Medium 3) ------------------------------------

GRID_ROLES = ("grid_worker", "grid_supervisor")


def placeholder_body(spec: dict, path: str, method: str) -> dict[str, Any]:
    """A body that passes validation: every required field with a value of its type."""
    operation = spec["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return {}
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]

    def value(prop: dict) -> Any:
        if prop.get("enum"):
            return prop["enum"][0]
        kind = prop.get("type")
        if kind == "array":
            return [value(prop.get("items", {}))]
        return {"integer": 1, "number": 1, "boolean": True}.get(kind, "photo-1")

    return {name: value(schema["properties"][name]) for name in schema.get("required", [])}


@pytest.fixture
def grid_world(app):
    """Resident R in G1 with every grid consent in force, a paper consent recorded in G1 and
    a notice for R; grid staff of G1 are allowed to act for R, those of G2 never."""
    from datetime import timedelta

    from huimin.benefits.models import BenefitNotice
    from huimin.grid import consents as grid_consents
    from huimin.platform.db import utcnow

    with app.app_context(), services().db.session() as s:
        resident = Resident(external_id="R-grid", grid_id="G1")
        s.add(resident)
        s.flush()
        for scope in (consent.GRID_WORKER_ASSIST, *consent.GRID_SCOPES):
            consent.grant(s, resident.id, scope, "grid_worker")
        recorder = StaffAccount(username=f"recorder-{next(_counter)}", password_hash=_HASH,
                                roles="grid_worker", grids=[StaffGrid(grid_id="G1")])
        s.add(recorder)
        s.flush()
        paper, _ = grid_consents.record_paper(s, recorder.id, resident.id, [consent.GUIDE],
                                              "photo-1")
        notice = BenefitNotice(resident_id=resident.id, policy="elderly_allowance",
                               rule_version=1, as_of=utcnow().date(), status="notified",
                               delivery="grid_worker", expires_at=utcnow() + timedelta(days=9))
        s.add(notice)
        s.flush()
        return {"resident_id": resident.id, "request_id": paper.id, "notice_id": notice.id,
                "key": "employment_code"}


def grid_path(rule, ids: dict[str, Any]) -> str:
    return _VARIABLE.sub(lambda m: str(ids.get(m.group(1), 999999)), rule.rule)


def test_every_grid_endpoint_is_scoped_to_the_callers_grids(app, grid_world):
    """For each /grid endpoint and each grid role it allows: staff of another grid are refused
    (403 not_your_grid / forbidden, or 404) and see none of R's data; staff of R's grid are
    never refused for the grid."""
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").get_json()
    failures: list[str] = []
    checked = 0
    for rule in api_rules(app):
        allowed = roles_of_rule(app, rule)
        roles = [r for r in GRID_ROLES if r in allowed]
        if not rule.rule.startswith(f"{API}/grid/") or not roles:
            continue
        path = grid_path(rule, grid_world)
        spec_path = _VARIABLE.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            body = placeholder_body(spec, spec_path, method)
            for role in roles:
                where = f"{method} {rule.rule} as {role}"
                _, outside = staff_token(app, role, ["G2"])
                resp = client.open(path, method=method, headers=bearer(outside),
                                   json=body if method != "GET" else None)
                checked += 1
                text = resp.get_data(as_text=True)
                if resp.status_code < 400:
                    items = (resp.get_json() or {}).get("items")
                    if items or f'"resident_id": {grid_world["resident_id"]}' in text:
                        failures.append(f"{where} from G2: {resp.status_code} shows G1 data")
                elif resp.status_code == 403 and error_code(resp) not in (
                        "not_your_grid", "forbidden"):
                    failures.append(f"{where} from G2: 403 {error_code(resp)}")
                elif resp.status_code not in (403, 404):
                    failures.append(f"{where} from G2: {resp.status_code} {error_code(resp)}")
                _, inside = staff_token(app, role, ["G1"])
                resp = client.open(path, method=method, headers=bearer(inside),
                                   json=body if method != "GET" else None)
                if error_code(resp) in ("not_your_grid", "forbidden") or resp.status_code >= 500:
                    failures.append(f"{where} from G1: {resp.status_code} {error_code(resp)}")
    assert checked >= 15
    assert failures == [], "\n".join(failures)


def roles_of_rule(app, rule) -> frozenset[str]:
    return getattr(app.view_functions[rule.endpoint], "_huimin_roles", None) or frozenset()


def test_a_verifier_cannot_confirm_paper_consent_anywhere(app, grid_world):
    """An employer's code scanner has nothing to do with consent (issue 15)."""
    client = app.test_client()
    _, token = staff_token(app, "verifier", [])
    request_id = grid_world["request_id"]
    for method, path in (("GET", "/api/v1/grid/consents/pending"),
                         ("POST", f"/api/v1/grid/consents/{request_id}/confirm")):
        resp = client.open(path, method=method, headers=bearer(token))
        assert (resp.status_code, error_code(resp)) == (403, "forbidden")
