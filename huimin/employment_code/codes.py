"""Issuing and verifying employment codes: compact JWS (RFC 7515), EdDSA/Ed25519 (RFC 8037).

Header `{"alg":"EdDSA","kid":...,"typ":"ec+jwt"}`; payload (short on purpose, it must
fit a version-13 QR): `iss`, `sub` (random pseudonym, never openid/ID number/phone/name),
`st` (status), `iat`, `exp`, `jti` (revocation id). Any JOSE library given the JWKS can
verify one; this module's verifier is strict on top of that:

* one algorithm, pinned: the header's `alg` must be "EdDSA" and the key comes from our
  ring by `kid`, always Ed25519 -- the header never chooses the key type (no `none`, no
  HMAC-with-the-public-key confusion, embedded `jwk`/`jku` ignored);
* canonical unpadded base64url only, duplicate JSON members refused, length capped.

Reasons: ok | expired | revoked | bad_signature | unknown_key | malformed. A code whose
`iat`/`nbf` lies in the future beyond the leeway is reported as `expired` (it is outside
its validity window; `detail` says `not_yet_valid`). A disallowed `alg` is
`bad_signature`. `detail` gives the finer cause for logs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature

from huimin.platform.settings import EmploymentCodeSettings

from .keys import ALG, KeyConfigError, KeyRing, NoSigningKeyError, epoch
from .qr import QR_MAX_BYTES
from .status import Colour, Status, StatusDefinition, definition

TYP = "ec+jwt"
MAX_CODE_LENGTH = 1024
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_JTI = re.compile(r"^[A-Za-z0-9_-]{8,16}$")
_STATUSES = {s.value: s for s in Status}


class Reason(StrEnum):
    OK = "ok"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    MALFORMED = "malformed"


def load_keyring(settings: EmploymentCodeSettings) -> KeyRing:
    """The key ring the settings point at: EMPLOYMENT_CODE_KEYS wins over the key directory.
    Built here, not in the settings, because platform must not import a capability."""
    if settings.keys_json:
        return KeyRing.from_json(
            settings.keys_json,
            source="EMPLOYMENT_CODE_KEYS",
            retire_after_seconds=settings.retire_after_seconds,
        )
    return KeyRing.from_directory(
        settings.key_dir, retire_after_seconds=settings.retire_after_seconds
    )


@dataclass(frozen=True)
class CodeClaims:
    """The verified payload."""

    iss: str
    sub: str
    status: Status
    iat: int
    exp: int
    jti: str
    nbf: int | None = None


class RevocationCheck(Protocol):
    """Storage answers whether a (signature-checked) code is revoked, e.g. by `jti`, or
    by `sub` + `iat` older than the holder's last status change. Exceptions propagate."""

    def __call__(self, claims: CodeClaims, /) -> bool: ...


@dataclass(frozen=True)
class IssuedCode:
    code: str
    status: Status
    subject: str
    jti: str
    kid: str
    issued_at: datetime
    expires_at: datetime

    @property
    def definition(self) -> StatusDefinition:
        return definition(self.status)

    @property
    def colour(self) -> Colour:
        return self.definition.colour

    @property
    def label(self) -> str:
        return self.definition.label


@dataclass(frozen=True)
class Verification:
    """Outcome of a verification. `claims` is set whenever the signature checked out (also
    for expired/revoked codes, for the scan log); status and colour only when valid."""

    valid: bool
    reason: Reason
    detail: str
    claims: CodeClaims | None = None
    kid: str | None = None

    @property
    def status(self) -> Status | None:
        return self.claims.status if self.valid and self.claims else None

    @property
    def colour(self) -> Colour | None:
        return definition(self.status).colour if self.status else None

    def public_dict(self) -> dict[str, str | bool | None]:
        """The fields every verifier may see: {valid, reason, status, colour}."""
        return {
            "valid": self.valid,
            "reason": self.reason.value,
            "status": self.status.value if self.status else None,
            "colour": self.colour.value if self.colour else None,
        }


def new_subject_id() -> str:
    """A fresh random pseudonymous subject id (128 bits, 22 characters)."""
    return secrets.token_urlsafe(16)


def check_subject_id(subject: str) -> None:
    """Refuse anything but a `new_subject_id()`-shaped value, so an openid (28 characters),
    ID number (18), phone (11) or name can never end up in a code by mistake."""
    if not (isinstance(subject, str) and len(subject) == 22 and _b64decode(subject)):
        raise ValueError(
            "subject: expected a random pseudonymous id from new_subject_id() "
            "(22 base64url characters), never an openid, ID number, phone or name"
        )


class EmploymentCodes:
    """Issue and verify codes with one key ring and one set of settings."""

    def __init__(self, keyring: KeyRing, settings: EmploymentCodeSettings | None = None) -> None:
        self.keyring = keyring
        self.settings = settings or EmploymentCodeSettings()
        self._headers: dict[str, str] = {}
        for kid in keyring.signing_kids():
            longest = _worst_case_length(kid, self.settings.issuer)
            if longest > QR_MAX_BYTES:
                raise KeyConfigError(
                    f"kid {kid!r} with issuer {self.settings.issuer!r} makes codes of up to "
                    f"{longest} characters, over the {QR_MAX_BYTES} a version-13 QR holds: "
                    "shorten EMPLOYMENT_CODE_ISSUER or the kid"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmploymentCodes:
        settings = EmploymentCodeSettings.from_env(environ)
        return cls(load_keyring(settings), settings)

    def jwks(self, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
        return self.keyring.jwks(now)

    def issue(
        self,
        subject: str,
        status: Status,
        *,
        now: datetime | None = None,
        jti: str | None = None,
        ttl_seconds: int | None = None,
    ) -> IssuedCode:
        """Sign a fresh code with the newest active key (NoSigningKeyError if none)."""
        check_subject_id(subject)
        status = Status(status)
        jti = jti if jti is not None else secrets.token_urlsafe(9)
        if not _JTI.match(jti):
            raise ValueError("jti: expected 8-16 base64url characters")
        ttl = self.settings.ttl_seconds if ttl_seconds is None else ttl_seconds
        if not 0 < ttl <= self.settings.max_ttl_seconds:
            raise ValueError(f"ttl_seconds: must be > 0 and <= {self.settings.max_ttl_seconds}")
        iat = epoch(now)
        key = self.keyring.signing_key(now or datetime.fromtimestamp(iat, UTC))
        if key.private_key is None:  # signing_key returns private keys only; for the type
            raise NoSigningKeyError(f"kid {key.kid}: no private key")
        header = self._headers.get(key.kid)
        if header is None:
            header = _b64(_json({"alg": ALG, "kid": key.kid, "typ": TYP}))
            self._headers[key.kid] = header
        claims = {
            "iss": self.settings.issuer,
            "sub": subject,
            "st": status.value,
            "iat": iat,
            "exp": iat + ttl,
            "jti": jti,
        }
        signing_input = f"{header}.{_b64(_json(claims))}"
        signature = key.private_key.sign(signing_input.encode("ascii"))
        return IssuedCode(
            code=f"{signing_input}.{_b64(signature)}",
            status=status,
            subject=subject,
            jti=jti,
            kid=key.kid,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(iat + ttl, UTC),
        )

    def verify(
        self,
        code: str,
        *,
        now: datetime | None = None,
        is_revoked: RevocationCheck | None = None,
    ) -> Verification:
        """Check a scanned code; never raises for bad input (only if `is_revoked` does)."""
        t = epoch(now)
        if not isinstance(code, str):
            return _fail(Reason.MALFORMED, "not_text")
        if len(code) > MAX_CODE_LENGTH:
            return _fail(Reason.MALFORMED, "too_long")
        code = code.strip()
        parts = code.split(".")
        if len(parts) != 3:
            return _fail(Reason.MALFORMED, "not_three_segments")
        header_b64, payload_b64, signature_b64 = parts
        header = _json_object(_b64decode(header_b64))
        if header is None:
            return _fail(Reason.MALFORMED, "bad_header")
        if header.get("alg") != ALG:
            return _fail(Reason.BAD_SIGNATURE, "alg_not_allowed")
        if "crit" in header:
            return _fail(Reason.MALFORMED, "crit_not_supported")
        if header.get("typ") != TYP:
            return _fail(Reason.MALFORMED, "wrong_typ")
        kid = header.get("kid")
        if not isinstance(kid, str):
            return _fail(Reason.MALFORMED, "no_kid")
        payload = _b64decode(payload_b64)
        signature = _b64decode(signature_b64)
        if payload is None or signature is None:
            return _fail(Reason.MALFORMED, "bad_base64")
        if len(signature) != 64:
            return _fail(Reason.MALFORMED, "bad_signature_length")
        key = self.keyring.verification_key(kid, t)
        if key is None:
            return _fail(Reason.UNKNOWN_KEY, "unknown_kid")
        try:
            key.public_key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
        except InvalidSignature:
            return _fail(Reason.BAD_SIGNATURE, "signature_mismatch")

        claims = _claims(_json_object(payload))
        if claims is None:
            return _fail(Reason.MALFORMED, "bad_claims")
        if claims.iss != self.settings.issuer:
            return _fail(Reason.MALFORMED, "wrong_issuer")
        if not 0 < claims.exp - claims.iat <= self.settings.max_ttl_seconds:
            return _fail(Reason.MALFORMED, "bad_lifetime")
        leeway = self.settings.leeway_seconds
        if key.deactivated_at is not None and claims.iat > key.deactivated_at + leeway:
            # A replaced key must not mint new codes (e.g. if it leaked after rotation).
            return _fail(Reason.BAD_SIGNATURE, "key_deactivated")
        if t + leeway < claims.iat or (claims.nbf is not None and t + leeway < claims.nbf):
            return Verification(False, Reason.EXPIRED, "not_yet_valid", claims, kid)
        if t >= claims.exp + leeway:
            return Verification(False, Reason.EXPIRED, "expired", claims, kid)
        if is_revoked is not None and is_revoked(claims):
            return Verification(False, Reason.REVOKED, "revoked", claims, kid)
        return Verification(True, Reason.OK, "ok", claims, kid)


def _worst_case_length(kid: str, issuer: str) -> int:
    """Length of the longest code this kid and issuer can produce (10-digit times)."""
    header = _b64(_json({"alg": ALG, "kid": kid, "typ": TYP}))
    longest_status = max((s.value for s in Status), key=len)
    claims = {
        "iss": issuer,
        "sub": "s" * 22,
        "st": longest_status,
        "iat": 10**9,
        "exp": 10**9,
        "jti": "j" * 16,
    }
    return len(header) + len(_b64(_json(claims))) + len(_b64(bytes(64))) + 2


def _fail(reason: Reason, detail: str) -> Verification:
    return Verification(False, reason, detail)


def _claims(data: dict[str, Any] | None) -> CodeClaims | None:
    if data is None:
        return None
    iss, sub, st, jti = (data.get(k) for k in ("iss", "sub", "st", "jti"))
    iat, exp, nbf = (data.get(k) for k in ("iat", "exp", "nbf"))
    if not all(isinstance(v, str) for v in (iss, sub, st, jti)) or st not in _STATUSES:
        return None
    if not all(_is_int(v) for v in (iat, exp)) or (nbf is not None and not _is_int(nbf)):
        return None
    return CodeClaims(iss, sub, _STATUSES[st], iat, exp, jti, nbf)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    """A JSON object, or None; duplicate members are refused (parser-differential attacks)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate JSON member")
    return result


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes | None:
    """Strict unpadded base64url; non-canonical encodings (stray low bits) are refused."""
    if not _B64URL.match(segment) or len(segment) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == segment else None
