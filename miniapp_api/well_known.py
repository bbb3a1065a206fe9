"""`GET /.well-known/jwks.json`: the employment-code public keys (RFC 7517), for anyone
verifying codes, including offline verifiers that cache it."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, current_app, json

from huimin.employment_code.runtime import CodesProvider

root_bp = APIBlueprint("well_known", __name__, tag="就业码")
"""Registered at the root (not under /api/v1) by miniapp_api.employment_code."""

EXTENSION = "employment_code"
CACHE_SECONDS = 300
"""Short enough that a key published ahead of its activation reaches verifiers in time."""


def codes_provider() -> CodesProvider:
    """The app's provider (created by `miniapp_api.employment_code.register`)."""
    return current_app.extensions[EXTENSION]


@root_bp.get("/.well-known/jwks.json")
@root_bp.doc(
    summary="Employment-code public keys (JWK Set)",
    description="Ed25519 (`OKP`, `EdDSA`) keys; a key stays listed until every code it "
    "signed has expired. Verify codes with any JOSE library, pinning `alg` to EdDSA.",
    responses={200: {"description": "JWK Set (RFC 7517)"}},
)
def jwks() -> Response:
    body = json.dumps(codes_provider().get().jwks())
    return Response(
        body,
        mimetype="application/json",
        headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )
