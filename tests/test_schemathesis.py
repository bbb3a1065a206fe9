"""Property-based run of the whole API against its own OpenAPI document (schemathesis, WSGI).

Every operation in /api/v1/openapi.json gets generated requests, valid and invalid ones, sent
with the token of a fresh account of a role the operation allows (so the checks reach the
handlers, not only the 401 path). No response may be a 5xx, and every response must match the
documented status codes, content types and schemas. Bounded by ``MAX_EXAMPLES`` (under a
minute); every failing operation is listed.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from huimin.identity.models import CitizenAccount, StaffAccount, StaffGrid
from huimin.identity.passwords import hash_password
from huimin.privacy.consent import BENEFIT_PUSH, REAL_NAME, grant
from huimin.residents.models import Resident
from miniapp_api.auth import PUBLIC
from tests.api_fixtures import make_api_app
from webapp.extensions import services

MAX_EXAMPLES = 8
NEGATIVE_EXAMPLES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_HASH = hash_password("Fuzz-Password-1")
_counter = itertools.count(1)


@pytest.fixture
def fuzz_app(sqlite_url, redis_url, redis_conn, emulator):
    # The real emulator answers generated wx.login / phone codes (with 40029: a 400 for us).
    return make_api_app(sqlite_url, redis_url, emulator)


def _token(app, role: str) -> str:
    """A fresh account for ``role``; citizens are real-name verified with some consents."""
    n = next(_counter)
    with app.app_context():
        with services().db.session() as s:  # noqa: SIM117 - the token needs the committed id
            if role == "citizen":
                resident = Resident(external_id=f"FUZZ{n}", grid_id="G1")
                s.add(resident)
                s.flush()
                account = CitizenAccount(openid=f"o-fuzz-{n}", resident_id=resident.id)
                s.add(account)
                s.flush()
                grant(s, resident.id, REAL_NAME, "miniapp")
                grant(s, resident.id, BENEFIT_PUSH, "miniapp")
                return app.extensions["huimin_api"].tokens.issue(
                    "citizen", account.id).access_token
            staff = StaffAccount(username=f"fuzz-{role}-{n}", password_hash=_HASH,
                                 roles=role, grids=[StaffGrid(grid_id="G1")])
            s.add(staff)
            s.flush()
            staff_id = staff.id
        return app.extensions["huimin_api"].tokens.issue_staff(staff_id, {role}).access_token


def _fuzz(app, operation, mode: GenerationMode, examples: int) -> str | None:
    """Run generated cases of one operation as a role it allows; the failure, if any."""
    roles = [r for r in operation.definition.raw.get("x-roles", []) if r != PUBLIC]
    # One account per operation: a case that deletes or signs it out only affects the cases
    # after it (they get a documented 401).
    headers = {"Authorization": f"Bearer {_token(app, roles[0])}"} if roles else {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report every operation
        return f"{operation.label} ({mode.value}): {exc}"
    return None


def test_api_conforms_to_its_openapi_document(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:
        failures.append(_fuzz(fuzz_app, operation, GenerationMode.POSITIVE, MAX_EXAMPLES))
        # Invalid requests must be refused with a documented 4xx (needs something to break).
        if any(len(part) for part in (operation.path_parameters, operation.query,
                                      operation.body)):
            failures.append(_fuzz(fuzz_app, operation, GenerationMode.NEGATIVE,
                                  NEGATIVE_EXAMPLES))
    found = [f for f in failures if f]
    assert not found, f"{len(found)} operation(s) failed:\n\n" + "\n\n".join(found)
