"""Ed25519 signing keys for employment codes: generation, loading and rotation.

A key file is a private JWK (RFC 7517 / RFC 8037, `kty` OKP, `crv` Ed25519) plus two
members of ours: `activates_at` (when it starts signing; publish a key ahead of time by
setting it in the future) and an optional `deactivated_at`. A key stops signing when a
newer key activates (or at `deactivated_at`) and stays published for verification until
every code it signed has expired: retire time = deactivation + maximum code lifetime +
clock leeway. After that the ring drops it, so its codes verify as `unknown_key`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

log = logging.getLogger(__name__)

ALG = "EdDSA"
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,15}$")
"""Short on purpose: the kid is in every code, and the code must fit a version-13 QR."""
KEY_FILE_SUFFIX = ".jwk"


class KeyConfigError(ValueError):
    """A key file or key setting is unusable; the message names the source and field."""


class NoSigningKeyError(RuntimeError):
    """No private key is active now, so no code can be issued."""


@dataclass(frozen=True)
class KeyEntry:
    """One key. Times are Unix seconds; `activates_at` None means "always" (public JWKS)."""

    kid: str
    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None = None
    activates_at: int | None = None
    deactivated_at: int | None = None

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": ALG,
            "use": "sig",
            "kid": self.kid,
            "x": _b64(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)),
        }


def epoch(moment: datetime | None) -> int:
    """Unix seconds of an aware datetime (now if None); naive datetimes are a bug."""
    if moment is None:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return int(moment.timestamp())


class KeyRing:
    """The keys a process may sign with and verify against, with rotation rules applied."""

    def __init__(self, entries: Iterable[KeyEntry], *, retire_after_seconds: int) -> None:
        ordered = sorted(entries, key=lambda e: (e.activates_at or 0, e.kid))
        kids = [e.kid for e in ordered]
        if len(set(kids)) != len(kids):
            raise KeyConfigError(f"duplicate kid in key ring: {sorted(kids)}")
        signer_starts = sorted(
            {e.activates_at for e in ordered if e.private_key and e.activates_at is not None}
        )
        effective: list[KeyEntry] = []
        for entry in ordered:
            deactivated = entry.deactivated_at
            if entry.private_key is not None and entry.activates_at is not None:
                # A private key stops signing when the next private key starts.
                later = [t for t in signer_starts if t > entry.activates_at]
                if later:
                    deactivated = later[0] if deactivated is None else min(deactivated, later[0])
            effective.append(replace(entry, deactivated_at=deactivated))
        self._entries = effective
        self._by_kid = {e.kid: e for e in effective}
        self._retire_at = {
            e.kid: None if e.deactivated_at is None else e.deactivated_at + retire_after_seconds
            for e in effective
        }

    @classmethod
    def from_directory(cls, directory: Path | str, *, retire_after_seconds: int) -> KeyRing:
        """Every `*.jwk` file in `directory`; a missing directory gives an empty ring."""
        directory = Path(directory)
        entries = []
        for path in sorted(directory.glob(f"*{KEY_FILE_SUFFIX}")):
            if os.name == "posix" and path.stat().st_mode & 0o077:
                log.warning("employment-code key file %s is readable by others; chmod 600", path)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise KeyConfigError(f"{path}: not a readable JSON file ({exc})") from exc
            entries.append(entry_from_jwk(data, source=str(path)))
        return cls(entries, retire_after_seconds=retire_after_seconds)

    @classmethod
    def from_json(cls, text: str, *, source: str, retire_after_seconds: int) -> KeyRing:
        """A JWK Set `{"keys": [...]}`, a list of JWKs or one JWK, private or public."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise KeyConfigError(f"{source}: not valid JSON ({exc})") from exc
        if isinstance(data, dict) and "keys" in data:
            data = data["keys"]
        items = data if isinstance(data, list) else [data]
        entries = [entry_from_jwk(item, source=f"{source}[{i}]") for i, item in enumerate(items)]
        return cls(entries, retire_after_seconds=retire_after_seconds)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeyRing:
        """A verifier's ring from a published JWKS: whatever is published is trusted."""
        keys = jwks.get("keys")
        if not isinstance(keys, list):
            raise KeyConfigError("jwks.keys: expected a list")
        entries = [entry_from_jwk(k, source=f"jwks.keys[{i}]") for i, k in enumerate(keys)]
        return cls(entries, retire_after_seconds=0)

    def signing_key(self, now: datetime | None = None) -> KeyEntry:
        """The newest active private key."""
        t = epoch(now)
        active = [
            e
            for e in self._entries
            if e.private_key is not None
            and e.activates_at is not None
            and e.activates_at <= t
            and (e.deactivated_at is None or t < e.deactivated_at)
        ]
        if not active:
            raise NoSigningKeyError(
                "no active employment-code signing key: generate one and set "
                "EMPLOYMENT_CODE_KEY_DIR or EMPLOYMENT_CODE_KEYS"
            )
        return active[-1]

    def signing_kids(self) -> list[str]:
        """Every kid that can sign at some time (each must keep codes QR-sized)."""
        return [e.kid for e in self._entries if e.private_key is not None]

    def verification_key(self, kid: str, now: int) -> KeyEntry | None:
        """The key for `kid` if it is still published at `now` (Unix seconds)."""
        entry = self._by_kid.get(kid)
        if entry is None:
            return None
        retire_at = self._retire_at[entry.kid]
        return entry if retire_at is None or now < retire_at else None

    def published(self, now: datetime | None = None) -> list[KeyEntry]:
        """Keys still published (including ones that will sign later), newest first."""
        t = epoch(now)
        return [e for e in reversed(self._entries) if self.verification_key(e.kid, t)]

    def jwks(self, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
        """RFC 7517 JWK Set of the published public keys, for /.well-known/jwks.json."""
        return {"keys": [e.public_jwk() for e in self.published(now)]}


def generate_key(kid: str, directory: Path | str, *, activates_at: datetime | None = None) -> Path:
    """Create a new Ed25519 key as `<directory>/<kid>.jwk` (mode 0600, never overwritten).

    It starts signing at `activates_at` (default now); publish a few minutes early so that
    verifiers holding a cached JWKS already know it.
    """
    if not KID_PATTERN.match(kid):
        raise KeyConfigError(f"kid {kid!r}: use 1-16 characters A-Z a-z 0-9 . _ -")
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    entry = KeyEntry(kid, private.public_key(), private, epoch(activates_at))
    jwk = private_jwk(entry)
    path = directory / f"{kid}{KEY_FILE_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        json.dump(jwk, fh, indent=2)
        fh.write("\n")
    return path


def private_jwk(entry: KeyEntry) -> dict[str, str]:
    """The key file's content: private JWK plus our activation metadata."""
    if entry.private_key is None:
        raise KeyConfigError(f"kid {entry.kid}: no private key")
    jwk = entry.public_jwk()
    jwk["d"] = _b64(entry.private_key.private_bytes_raw())
    if entry.activates_at is not None:
        jwk["activates_at"] = _iso(entry.activates_at)
    if entry.deactivated_at is not None:
        jwk["deactivated_at"] = _iso(entry.deactivated_at)
    return jwk


def entry_from_jwk(data: object, *, source: str) -> KeyEntry:
    """Parse one JWK; only Ed25519 OKP keys for EdDSA are accepted, whatever else it says."""
    if not isinstance(data, dict):
        raise KeyConfigError(f"{source}: expected a JSON object (a JWK)")
    if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
        raise KeyConfigError(f"{source}: kty/crv must be OKP/Ed25519")
    if data.get("alg", ALG) != ALG:
        raise KeyConfigError(f"{source}.alg: must be {ALG}")
    kid = data.get("kid")
    if not isinstance(kid, str) or not KID_PATTERN.match(kid):
        raise KeyConfigError(f"{source}.kid: missing or not 1-16 characters A-Z a-z 0-9 . _ -")
    public = Ed25519PublicKey.from_public_bytes(_raw32(data, "x", source))
    private = None
    if "d" in data:
        private = Ed25519PrivateKey.from_private_bytes(_raw32(data, "d", source))
        if private.public_key() != public:
            raise KeyConfigError(f"{source}.x: does not match the private key d")
    activates = _time(data, "activates_at", source)
    if private is not None and activates is None:
        raise KeyConfigError(f"{source}.activates_at: required on a private key")
    return KeyEntry(kid, public, private, activates, _time(data, "deactivated_at", source))


def _raw32(data: Mapping[str, Any], name: str, source: str) -> bytes:
    value = data.get(name)
    try:
        if not isinstance(value, str):
            raise InvalidKey
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if len(raw) != 32:
            raise InvalidKey
    except (ValueError, InvalidKey) as exc:
        raise KeyConfigError(f"{source}.{name}: expected 32 bytes, base64url") from exc
    return raw


def _time(data: Mapping[str, Any], name: str, source: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        return epoch(datetime.fromisoformat(value))
    except (TypeError, ValueError) as exc:
        raise KeyConfigError(
            f"{source}.{name}: expected an ISO 8601 time with zone, e.g. 2025-01-31T08:00:00Z"
        ) from exc


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
