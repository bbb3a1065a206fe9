"""Issuing and verifying employment codes: claims, bad input, keys, rotation, revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from huimin.employment_code import (
    MAX_CODE_LENGTH,
    CodeClaims,
    EmploymentCodes,
    KeyConfigError,
    KeyRing,
    NoSigningKeyError,
    Reason,
    Status,
    generate_key,
    new_subject_id,
)
from huimin.platform.settings import EmploymentCodeSettings

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
SETTINGS = EmploymentCodeSettings()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def load(key_dir: Path, settings: EmploymentCodeSettings = SETTINGS) -> EmploymentCodes:
    return EmploymentCodes(
        KeyRing.from_directory(key_dir, retire_after_seconds=settings.retire_after_seconds),
        settings,
    )


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    generate_key("k2025", directory, activates_at=NOW - timedelta(days=30))
    return directory


@pytest.fixture
def codes(key_dir: Path) -> EmploymentCodes:
    return load(key_dir)


@pytest.fixture
def code(codes: EmploymentCodes) -> str:
    return codes.issue(new_subject_id(), Status.JOB_SEEKING, now=NOW).code


def sign_with_ring_key(codes: EmploymentCodes, header: dict, claims: dict) -> str:
    """A code signed by the real signing key with arbitrary header and claims."""
    key = codes.keyring.signing_key(NOW)
    assert key.private_key is not None
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"


def good_claims(**changes: object) -> dict:
    iat = int(NOW.timestamp())
    claims = {"iss": "huimin", "sub": new_subject_id(), "st": "seeking", "iat": iat}
    claims |= {"exp": iat + 600, "jti": "abcdefghijkl"}
    return claims | changes


HEADER = {"alg": "EdDSA", "kid": "k2025", "typ": "ec+jwt"}


# --- issuing ---------------------------------------------------------------------------


def test_issued_code_verifies_with_status_and_colour(codes: EmploymentCodes) -> None:
    sub = new_subject_id()
    issued = codes.issue(sub, Status.PRIORITY, now=NOW)
    result = codes.verify(issued.code, now=NOW + timedelta(seconds=10))
    assert result.valid and result.reason is Reason.OK
    assert result.status is Status.PRIORITY and result.colour == "orange"
    assert result.claims is not None and result.claims.sub == sub
    assert result.public_dict() == {
        "valid": True,
        "reason": "ok",
        "status": "priority",
        "colour": "orange",
    }
    assert issued.label == "橙码 · 重点帮扶"
    assert issued.expires_at - issued.issued_at == timedelta(seconds=600)


def test_header_and_payload_are_minimal(codes: EmploymentCodes) -> None:
    sub = new_subject_id()
    issued = codes.issue(sub, Status.EMPLOYED, now=NOW)
    header, payload, signature = issued.code.split(".")
    assert json.loads(unb64(header)) == {"alg": "EdDSA", "kid": "k2025", "typ": "ec+jwt"}
    claims = json.loads(unb64(payload))
    assert set(claims) == {"iss", "sub", "st", "iat", "exp", "jti"}
    assert claims["sub"] == sub and claims["st"] == "employed"
    assert claims["exp"] - claims["iat"] == 600
    assert claims["jti"] == issued.jti
    assert len(unb64(signature)) == 64


def test_ttl_is_configurable_from_env(key_dir: Path) -> None:
    env = {"EMPLOYMENT_CODE_KEY_DIR": str(key_dir), "EMPLOYMENT_CODE_TTL_SECONDS": "120"}
    codes = EmploymentCodes.from_env(env)
    issued = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW)
    assert issued.expires_at - issued.issued_at == timedelta(seconds=120)
    assert codes.verify(issued.code, now=NOW + timedelta(seconds=100)).valid
    late = codes.verify(issued.code, now=NOW + timedelta(seconds=120 + 30))
    assert late.reason is Reason.EXPIRED


def test_bad_settings_name_the_variable() -> None:
    with pytest.raises(ValueError, match="EMPLOYMENT_CODE_TTL_SECONDS"):
        EmploymentCodeSettings.from_env({"EMPLOYMENT_CODE_TTL_SECONDS": "ten"})
    with pytest.raises(ValueError, match="EMPLOYMENT_CODE_TTL_SECONDS"):
        EmploymentCodeSettings.from_env({"EMPLOYMENT_CODE_TTL_SECONDS": "7200"})


@pytest.mark.parametrize(
    "subject",
    [
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",  # WeChat openid shape
        "11010519491231002X",  # resident ID number
        "13800138000",  # mobile phone
        "张三",
        "",
    ],
)
def test_subject_must_be_a_random_pseudonym(codes: EmploymentCodes, subject: str) -> None:
    with pytest.raises(ValueError, match="pseudonymous"):
        codes.issue(subject, Status.EMPLOYED, now=NOW)


def test_every_status_code_fits_the_qr_budget(codes: EmploymentCodes) -> None:
    for status in Status:
        issued = codes.issue(new_subject_id(), status, now=NOW)
        assert len(issued.code) <= 331


def test_kid_and_issuer_too_long_for_a_qr_fail_at_startup(tmp_path: Path) -> None:
    generate_key("a-rather-long-id", tmp_path, activates_at=NOW)
    settings = EmploymentCodeSettings(issuer="https://jiuye.example.gov.cn/ec")
    with pytest.raises(KeyConfigError, match="version-13 QR"):
        load(tmp_path, settings)


# --- bad input: each rejected with its reason ------------------------------------------


def test_tampered_payload_is_bad_signature(codes: EmploymentCodes, code: str) -> None:
    header, payload, signature = code.split(".")
    claims = json.loads(unb64(payload))
    claims["st"] = "employed"
    forged = f"{header}.{b64(json.dumps(claims, separators=(',', ':')).encode())}.{signature}"
    result = codes.verify(forged, now=NOW)
    assert (result.valid, result.reason, result.status) == (False, Reason.BAD_SIGNATURE, None)


def test_tampered_signature_is_bad_signature(codes: EmploymentCodes, code: str) -> None:
    header, payload, signature = code.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    forged = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    assert codes.verify(forged, now=NOW).reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_rejected(codes: EmploymentCodes, code: str, alg: str) -> None:
    _, payload, _ = code.split(".")
    header = b64(json.dumps({"alg": alg, "kid": "k2025", "typ": "ec+jwt"}).encode())
    result = codes.verify(f"{header}.{payload}.", now=NOW)
    assert (result.reason, result.detail) == (Reason.BAD_SIGNATURE, "alg_not_allowed")


def _public_key_secrets(codes: EmploymentCodes) -> list[bytes]:
    public = codes.keyring.signing_key(NOW).public_key
    return [
        public.public_bytes(Encoding.Raw, PublicFormat.Raw),
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        json.dumps(codes.jwks(NOW)["keys"][0]).encode(),
        codes.jwks(NOW)["keys"][0]["x"].encode(),
    ]


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_with_public_key_as_secret_is_rejected(
    codes: EmploymentCodes, code: str, alg: str
) -> None:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    _, payload, _ = code.split(".")
    header = b64(json.dumps({"alg": alg, "kid": "k2025", "typ": "ec+jwt"}).encode())
    for secret in _public_key_secrets(codes):
        mac = hmac.new(secret, f"{header}.{payload}".encode(), digest).digest()
        result = codes.verify(f"{header}.{payload}.{b64(mac)}", now=NOW)
        assert (result.valid, result.reason) == (False, Reason.BAD_SIGNATURE)


def test_unknown_kid_is_unknown_key(codes: EmploymentCodes) -> None:
    stranger = Ed25519PrivateKey.generate()
    header = b64(json.dumps({"alg": "EdDSA", "kid": "other", "typ": "ec+jwt"}).encode())
    payload = b64(json.dumps(good_claims()).encode())
    signature = b64(stranger.sign(f"{header}.{payload}".encode()))
    result = codes.verify(f"{header}.{payload}.{signature}", now=NOW)
    assert result.reason is Reason.UNKNOWN_KEY


def test_key_embedded_in_header_is_not_trusted(codes: EmploymentCodes) -> None:
    attacker = Ed25519PrivateKey.generate()
    x = b64(attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": x}
    header = b64(json.dumps(HEADER | {"jwk": jwk, "jku": "https://evil.example/"}).encode())
    payload = b64(json.dumps(good_claims(st="employed")).encode())
    signature = b64(attacker.sign(f"{header}.{payload}".encode()))
    assert codes.verify(f"{header}.{payload}.{signature}", now=NOW).reason is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("keep", [10, 60, 100, -1, -10, -86, -87])
def test_truncated_code_is_malformed(codes: EmploymentCodes, code: str, keep: int) -> None:
    result = codes.verify(code[:keep], now=NOW)
    assert (result.valid, result.reason) == (False, Reason.MALFORMED)


def test_oversized_code_is_malformed(codes: EmploymentCodes, code: str) -> None:
    result = codes.verify(code + "A" * (MAX_CODE_LENGTH - len(code) + 1), now=NOW)
    assert (result.reason, result.detail) == (Reason.MALFORMED, "too_long")


def test_oversized_code_is_malformed_even_if_validly_signed(codes: EmploymentCodes) -> None:
    big = sign_with_ring_key(codes, HEADER, good_claims(pad="x" * 800))
    assert len(big) > MAX_CODE_LENGTH
    assert codes.verify(big, now=NOW).detail == "too_long"


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h, p, s: f"{h}.{p[:5]}+{p[6:]}.{s}",  # standard-alphabet '+'
        lambda h, p, s: f"{h}.{p[:5]}/{p[6:]}.{s}",  # standard-alphabet '/'
        lambda h, p, s: f"{h}.{p}.{s}==",  # padding
        lambda h, p, s: f"{h}.{p[:5]}é{p[6:]}.{s}",  # not ASCII
        lambda h, p, s: f"{h}.{p}.{s[:-1]}{'B' if s[-1] == 'A' else 'A'}B",  # 87 chars
        lambda h, p, s: f"{h}.{p} x.{s}",  # whitespace inside
        lambda h, p, s: f"{h[:7]}*{h[8:]}.{p}.{s}",
    ],
)
def test_wrong_base64_is_malformed(
    codes: EmploymentCodes, code: str, corrupt: Callable[[str, str, str], str]
) -> None:
    result = codes.verify(corrupt(*code.split(".")), now=NOW)
    assert (result.valid, result.reason) == (False, Reason.MALFORMED)


def test_non_canonical_base64_signature_is_malformed(codes: EmploymentCodes, code: str) -> None:
    header, payload, signature = code.split(".")
    # The last of 86 characters carries 2 data bits and 4 zero bits; setting a zero bit
    # keeps the decoded bytes but makes the encoding non-canonical (malleable).
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) | 1]
    assert unb64(signature[:-1] + last) == unb64(signature)
    result = codes.verify(f"{header}.{payload}.{signature[:-1]}{last}", now=NOW)
    assert (result.reason, result.detail) == (Reason.MALFORMED, "bad_base64")


def test_not_text_is_malformed(codes: EmploymentCodes, code: str) -> None:
    assert codes.verify(code.encode(), now=NOW).reason is Reason.MALFORMED  # type: ignore[arg-type]


def test_expired_code(codes: EmploymentCodes) -> None:
    issued = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW)
    leeway = timedelta(seconds=SETTINGS.leeway_seconds)
    last_ok = issued.expires_at + leeway - timedelta(seconds=1)
    assert codes.verify(issued.code, now=last_ok).valid
    result = codes.verify(issued.code, now=issued.expires_at + leeway)
    assert (result.valid, result.reason, result.detail) == (False, Reason.EXPIRED, "expired")
    assert result.status is None and result.claims is not None  # logged, not shown


def test_not_yet_valid_code_is_reported_expired(codes: EmploymentCodes) -> None:
    issued = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW)
    leeway = timedelta(seconds=SETTINGS.leeway_seconds)
    assert codes.verify(issued.code, now=NOW - leeway).valid  # small clock skew is fine
    result = codes.verify(issued.code, now=NOW - leeway - timedelta(seconds=1))
    assert (result.valid, result.reason, result.detail) == (False, Reason.EXPIRED, "not_yet_valid")


def test_future_nbf_is_not_yet_valid(codes: EmploymentCodes) -> None:
    nbf = int(NOW.timestamp()) + 300
    result = codes.verify(sign_with_ring_key(codes, HEADER, good_claims(nbf=nbf)), now=NOW)
    assert (result.reason, result.detail) == (Reason.EXPIRED, "not_yet_valid")


def test_duplicate_json_members_are_malformed(codes: EmploymentCodes) -> None:
    claims = json.dumps(good_claims(st="seeking"))[:-1] + ', "st": "employed"}'
    header = b64(json.dumps(HEADER).encode())
    signing_input = f"{header}.{b64(claims.encode())}"
    key = codes.keyring.signing_key(NOW).private_key
    assert key is not None
    result = codes.verify(f"{signing_input}.{b64(key.sign(signing_input.encode()))}", now=NOW)
    assert (result.reason, result.detail) == (Reason.MALFORMED, "bad_claims")


@pytest.mark.parametrize(
    ("header", "claims", "detail"),
    [
        (HEADER | {"typ": "JWT"}, good_claims(), "wrong_typ"),
        (HEADER | {"crit": ["exp"]}, good_claims(), "crit_not_supported"),
        ({"alg": "EdDSA", "typ": "ec+jwt"}, good_claims(), "no_kid"),
        (HEADER, good_claims(iss="someone-else"), "wrong_issuer"),
        (HEADER, good_claims(st="gold"), "bad_claims"),
        (HEADER, good_claims(iat=True), "bad_claims"),
        (HEADER, good_claims(exp=int(NOW.timestamp()) + 86400), "bad_lifetime"),
    ],
)
def test_signed_but_unacceptable_contents_are_malformed(
    codes: EmploymentCodes, header: dict, claims: dict, detail: str
) -> None:
    result = codes.verify(sign_with_ring_key(codes, header, claims), now=NOW)
    assert (result.valid, result.reason, result.detail) == (False, Reason.MALFORMED, detail)


def test_surrounding_whitespace_from_a_scanner_is_tolerated(
    codes: EmploymentCodes, code: str
) -> None:
    assert codes.verify(f" {code}\n", now=NOW).valid


# --- revocation ------------------------------------------------------------------------


def test_revoked_by_jti(codes: EmploymentCodes) -> None:
    sub = new_subject_id()
    old = codes.issue(sub, Status.JOB_SEEKING, now=NOW)
    new = codes.issue(sub, Status.JOB_SEEKING, now=NOW)
    revoked = {old.jti}

    def is_revoked(claims: CodeClaims) -> bool:
        return claims.jti in revoked

    result = codes.verify(old.code, now=NOW, is_revoked=is_revoked)
    assert (result.valid, result.reason, result.status) == (False, Reason.REVOKED, None)
    assert codes.verify(new.code, now=NOW, is_revoked=is_revoked).valid


def test_status_change_revokes_older_codes(codes: EmploymentCodes) -> None:
    sub = new_subject_id()
    before = codes.issue(sub, Status.JOB_SEEKING, now=NOW)
    changed_at = int(NOW.timestamp()) + 60
    after = codes.issue(sub, Status.EMPLOYED, now=NOW + timedelta(seconds=61))

    def is_revoked(claims: CodeClaims) -> bool:
        return claims.sub == sub and claims.iat < changed_at

    later = NOW + timedelta(seconds=90)
    assert codes.verify(before.code, now=later, is_revoked=is_revoked).reason is Reason.REVOKED
    assert codes.verify(after.code, now=later, is_revoked=is_revoked).status is Status.EMPLOYED


def test_revocation_store_not_consulted_for_forgeries(codes: EmploymentCodes, code: str) -> None:
    asked: list[CodeClaims] = []

    def is_revoked(claims: CodeClaims) -> bool:
        asked.append(claims)
        return False

    header, payload, signature = code.split(".")
    forged = f"{header}.{payload}.{signature[:40]}{'A' if signature[40] != 'A' else 'B'}"
    forged += signature[41:]
    assert codes.verify(forged, now=NOW, is_revoked=is_revoked).reason is Reason.BAD_SIGNATURE
    assert asked == []
    assert codes.verify(code, now=NOW, is_revoked=is_revoked).valid
    assert len(asked) == 1


# --- keys and rotation -----------------------------------------------------------------


def test_generated_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    path = generate_key("k1", directory, activates_at=NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["kty"] == "OKP" and data["crv"] == "Ed25519" and data["kid"] == "k1"
    assert len(unb64(data["d"])) == 32 and data["activates_at"] == "2025-06-01T08:00:00Z"
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        generate_key("k1", directory)
    assert path.read_bytes() == before


@pytest.mark.parametrize("kid", ["../evil", "a/b", "", ".hidden", "x" * 17, "空"])
def test_generate_key_refuses_unsafe_kid(tmp_path: Path, kid: str) -> None:
    with pytest.raises(KeyConfigError, match="kid"):
        generate_key(kid, tmp_path)


def test_jwks_publishes_public_keys_only(codes: EmploymentCodes, key_dir: Path) -> None:
    jwks = codes.jwks(NOW)
    assert jwks == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": "k2025",
                "x": jwks["keys"][0]["x"],
            }
        ]
    }
    private = json.loads((key_dir / "k2025.jwk").read_text())["d"]
    assert private not in json.dumps(jwks)


def test_keys_from_env_json(key_dir: Path) -> None:
    jwk_text = (key_dir / "k2025.jwk").read_text()
    codes = EmploymentCodes.from_env(
        {"EMPLOYMENT_CODE_KEYS": jwk_text, "EMPLOYMENT_CODE_KEY_DIR": "/nonexistent"}
    )
    issued = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW)
    assert issued.kid == "k2025"
    assert load(key_dir).verify(issued.code, now=NOW).valid
    as_set = EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEYS": f'{{"keys": [{jwk_text}]}}'})
    assert as_set.issue(new_subject_id(), Status.EMPLOYED, now=NOW).kid == "k2025"


def test_no_key_means_no_issuing(tmp_path: Path) -> None:
    codes = load(tmp_path / "missing")
    with pytest.raises(NoSigningKeyError, match="EMPLOYMENT_CODE_KEY_DIR"):
        codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW)
    assert codes.jwks(NOW) == {"keys": []}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kty": "RSA"}, "kty/crv"),
        ({"crv": "X25519"}, "kty/crv"),
        ({"alg": "HS256"}, "alg"),
        ({"x": b64(b"\x00" * 31)}, "x"),
        ({"activates_at": None}, "activates_at"),
        ({"activates_at": "2025-06-01 08:00"}, "activates_at"),
    ],
)
def test_bad_key_file_names_file_and_field(key_dir: Path, change: dict, field: str) -> None:
    path = key_dir / "k2025.jwk"
    path.write_text(json.dumps(json.loads(path.read_text()) | change))
    with pytest.raises(KeyConfigError, match=rf"k2025\.jwk.*{field}"):
        load(key_dir)


def test_key_file_whose_public_half_does_not_match(key_dir: Path) -> None:
    path = key_dir / "k2025.jwk"
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    path.write_text(json.dumps(json.loads(path.read_text()) | {"x": b64(other)}))
    with pytest.raises(KeyConfigError, match="does not match"):
        load(key_dir)


def test_rotation_new_key_signs_old_codes_still_verify(key_dir: Path) -> None:
    old_codes = load(key_dir)
    old = old_codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW - timedelta(seconds=60))
    generate_key("k2026", key_dir, activates_at=NOW)
    codes = load(key_dir)
    new = codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW + timedelta(seconds=1))
    assert (old.kid, new.kid) == ("k2025", "k2026")
    later = NOW + timedelta(seconds=300)
    assert codes.verify(old.code, now=later).valid
    assert codes.verify(new.code, now=later).valid
    assert [k["kid"] for k in codes.jwks(later)["keys"]] == ["k2026", "k2025"]


def test_new_key_is_published_before_it_signs(key_dir: Path) -> None:
    generate_key("k2026", key_dir, activates_at=NOW + timedelta(hours=1))
    codes = load(key_dir)
    assert codes.issue(new_subject_id(), Status.EMPLOYED, now=NOW).kid == "k2025"
    assert {k["kid"] for k in codes.jwks(NOW)["keys"]} == {"k2025", "k2026"}
    later = NOW + timedelta(hours=1)
    assert codes.issue(new_subject_id(), Status.EMPLOYED, now=later).kid == "k2026"


def test_old_key_retires_once_all_its_codes_have_expired(key_dir: Path) -> None:
    generate_key("k2026", key_dir, activates_at=NOW)
    codes = load(key_dir)
    retire_at = NOW + timedelta(seconds=SETTINGS.max_ttl_seconds + SETTINGS.leeway_seconds)
    # The longest-lived code the old key may sign, signed just before it was replaced.
    last = codes.issue(
        new_subject_id(),
        Status.EMPLOYED,
        now=NOW - timedelta(seconds=1),
        ttl_seconds=SETTINGS.max_ttl_seconds,
    )
    assert last.kid == "k2025"
    assert codes.verify(last.code, now=retire_at - timedelta(seconds=2)).valid
    assert {k["kid"] for k in codes.jwks(retire_at - timedelta(seconds=1))["keys"]} == {
        "k2025",
        "k2026",
    }
    assert [k["kid"] for k in codes.jwks(retire_at)["keys"]] == ["k2026"]
    assert codes.verify(last.code, now=retire_at).reason is Reason.UNKNOWN_KEY


def test_removed_key_gives_unknown_key(key_dir: Path) -> None:
    old = load(key_dir).issue(new_subject_id(), Status.EMPLOYED, now=NOW)
    generate_key("k2026", key_dir, activates_at=NOW)
    (key_dir / "k2025.jwk").unlink()  # e.g. after a suspected leak
    result = load(key_dir).verify(old.code, now=NOW + timedelta(seconds=5))
    assert (result.valid, result.reason) == (False, Reason.UNKNOWN_KEY)


def test_replaced_key_cannot_mint_new_codes(key_dir: Path) -> None:
    generate_key("k2026", key_dir, activates_at=NOW)
    codes = load(key_dir)
    private = json.loads((key_dir / "k2025.jwk").read_text())["d"]
    signer = Ed25519PrivateKey.from_private_bytes(unb64(private))
    late = NOW + timedelta(seconds=600)
    header = b64(json.dumps(HEADER).encode())
    iat = int(late.timestamp())
    payload = b64(json.dumps(good_claims(iat=iat, exp=iat + 600)).encode())
    signature = b64(signer.sign(f"{header}.{payload}".encode()))
    result = codes.verify(f"{header}.{payload}.{signature}", now=late)
    assert (result.reason, result.detail) == (Reason.BAD_SIGNATURE, "key_deactivated")


def test_verifier_ring_from_published_jwks_only(key_dir: Path) -> None:
    issuer = load(key_dir)
    issued = issuer.issue(new_subject_id(), Status.NOT_IN_LABOUR_MARKET, now=NOW)
    published = json.loads(json.dumps(issuer.jwks(NOW)))
    offline = EmploymentCodes(KeyRing.from_jwks(published))
    result = offline.verify(issued.code, now=NOW)
    assert result.valid and result.colour == "grey"
    with pytest.raises(NoSigningKeyError):
        offline.issue(new_subject_id(), Status.EMPLOYED, now=NOW)
