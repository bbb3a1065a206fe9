"""A JOSE library the project does not otherwise use (jwcrypto), given only the published
JWKS, verifies our codes: what an employer's or office's own verifier would do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jwcrypto import jwk, jws, jwt

from huimin.employment_code import (
    EmploymentCodes,
    KeyRing,
    Status,
    generate_key,
    new_subject_id,
)
from huimin.platform.settings import EmploymentCodeSettings

SETTINGS = EmploymentCodeSettings()


def load(key_dir: Path) -> EmploymentCodes:
    ring = KeyRing.from_directory(key_dir, retire_after_seconds=SETTINGS.retire_after_seconds)
    return EmploymentCodes(ring, SETTINGS)


def published(codes: EmploymentCodes) -> jwk.JWKSet:
    """The JWKS exactly as served: serialised to JSON text and parsed back."""
    return jwk.JWKSet.from_json(json.dumps(codes.jwks()))


def jwcrypto_verify(code: str, keys: jwk.JWKSet | jwk.JWK) -> dict:
    token = jwt.JWT(
        jwt=code,
        key=keys,
        algs=["EdDSA"],
        check_claims={"iss": "huimin", "exp": None},
        expected_type="JWS",
    )
    return json.loads(token.claims)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    generate_key("k2025", tmp_path, activates_at=datetime.now(UTC) - timedelta(days=1))
    return tmp_path


def test_jwcrypto_verifies_a_code_from_the_jwks_alone(key_dir: Path) -> None:
    codes = load(key_dir)
    sub = new_subject_id()
    issued = codes.issue(sub, Status.JOB_SEEKING)
    claims = jwcrypto_verify(issued.code, published(codes))
    assert claims["sub"] == sub and claims["st"] == "seeking" and claims["jti"] == issued.jti
    token = jws.JWS()
    token.deserialize(issued.code)
    assert token.jose_header == {"alg": "EdDSA", "kid": "k2025", "typ": "ec+jwt"}


def test_jwcrypto_rejects_a_tampered_code(key_dir: Path) -> None:
    codes = load(key_dir)
    code = codes.issue(new_subject_id(), Status.JOB_SEEKING).code
    header, payload, signature = code.split(".")
    forged = f"{header}.{payload}.{signature[:40]}{'A' if signature[40] != 'A' else 'B'}"
    forged += signature[41:]
    key = published(codes).get_key("k2025")
    assert jwcrypto_verify(code, key)["st"] == "seeking"
    with pytest.raises(jws.InvalidJWSSignature):
        jwcrypto_verify(forged, key)


def test_jwcrypto_rejects_an_expired_code(key_dir: Path) -> None:
    codes = load(key_dir)
    code = codes.issue(
        new_subject_id(), Status.EMPLOYED, now=datetime.now(UTC) - timedelta(hours=1)
    ).code
    with pytest.raises(jwt.JWTExpired):
        jwcrypto_verify(code, published(codes))


def test_jwcrypto_picks_the_right_key_after_rotation(key_dir: Path) -> None:
    old = load(key_dir).issue(new_subject_id(), Status.EMPLOYED)
    generate_key("k2026", key_dir, activates_at=datetime.now(UTC) - timedelta(seconds=1))
    codes = load(key_dir)
    new = codes.issue(new_subject_id(), Status.PRIORITY)
    assert (old.kid, new.kid) == ("k2025", "k2026")
    keys = published(codes)
    assert jwcrypto_verify(old.code, keys)["st"] == "employed"
    assert jwcrypto_verify(new.code, keys)["st"] == "priority"
    only_new = jwk.JWKSet()
    only_new.add(keys.get_key("k2026"))
    with pytest.raises(jwt.JWTMissingKey):
        jwcrypto_verify(old.code, only_new)
