"""Encryption at rest and keyed look-up hashes for personal data (ID numbers, phones, names).

PIPL art. 28/29 make resident ID numbers sensitive personal information, so they are stored
only as AES-256-GCM ciphertext plus an HMAC-SHA256 "blind index" for exact look-ups.

Ciphertext format (ASCII, fits a VARCHAR(255) for short values)::

    pii1.<kid>.<base64url(nonce[12] || ciphertext || tag[16])>

The key id travels with the ciphertext so keys can rotate: the first key in ``PII_KEYS``
encrypts, every listed key decrypts, and ``rotate`` re-encrypts old values with the newest key.
The field name is bound as associated data, so a phone ciphertext cannot be pasted into the
ID-number column and still decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from huimin.identity.idcard import normalise_id_number
from huimin.platform.settings import Settings

log = logging.getLogger(__name__)

# Field names with a dedicated normaliser for look-up hashes; any other name is allowed too.
ID_NUMBER = "id_number"
PHONE = "phone"
NAME = "name"

KEY_BYTES = 32
NONCE_BYTES = 12
HASH_KEY_MIN_BYTES = 32
DEV_KEY_ID = "dev-insecure"

_PREFIX = "pii1"
_KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_AAD_PREFIX = b"huimin-pii/v1\x00"
_HASH_PREFIX = b"huimin-pii-hash/v1\x00"

_dev_warning_issued = False
_dev_warning_lock = threading.Lock()


class PiiConfigError(ValueError):
    """PII_KEYS / PII_HASH_KEY are missing or malformed; the process must not start."""


class PiiDecryptError(Exception):
    """A ciphertext could not be decrypted. Never carries the plaintext or key material."""


class UnknownKeyError(PiiDecryptError):
    """The ciphertext names a key id that is no longer in PII_KEYS."""


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys, newest first: ``keys[0]`` encrypts, all of them decrypt."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise PiiConfigError("PII_KEYS: at least one key is required")
        seen: set[str] = set()
        for kid, key in self.keys:
            if not _KID_RE.match(kid):
                raise PiiConfigError(
                    f"PII_KEYS: key id {kid!r} must be 1-32 characters of A-Z, a-z, 0-9, '_' or '-'"
                )
            if kid in seen:
                raise PiiConfigError(f"PII_KEYS: key id {kid!r} is listed twice")
            if len(key) != KEY_BYTES:
                raise PiiConfigError(
                    f"PII_KEYS: key {kid!r} must be {KEY_BYTES} bytes (base64), got {len(key)}"
                )
            seen.add(kid)

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Parse ``"kid:base64key,kid2:base64key2"`` (newest first). Errors never echo keys."""
        entries = [e.strip() for e in spec.split(",") if e.strip()]
        if not entries:
            raise PiiConfigError("PII_KEYS is empty: expected 'kid:base64key[,kid:base64key...]'")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            kid, sep, b64 = entry.partition(":")
            if not sep:
                raise PiiConfigError(
                    f"PII_KEYS entry {position}: expected 'kid:base64key' (missing ':')"
                )
            try:
                key = base64.b64decode(b64.strip(), validate=True)
            except binascii.Error:
                raise PiiConfigError(
                    f"PII_KEYS entry {position} (key id {kid.strip()!r}): key is not valid base64"
                ) from None
            keys.append((kid.strip(), key))
        return cls(tuple(keys))

    @property
    def current_kid(self) -> str:
        return self.keys[0][0]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)


def generate_key_entry(kid: str | None = None) -> str:
    """A fresh ``kid:base64key`` entry to put at the FRONT of PII_KEYS (CLI helper)."""
    kid = kid or f"k{date.today():%Y%m%d}-{secrets.token_hex(2)}"
    entry = f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"
    KeyRing.parse(entry)  # validates the key id with the same rules the service uses
    return entry


def generate_hash_key() -> str:
    """A fresh base64 value for PII_HASH_KEY (changing it invalidates every stored hash)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _parse_hash_key(value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise PiiConfigError("PII_HASH_KEY is not valid base64") from None
    if len(key) < HASH_KEY_MIN_BYTES:
        raise PiiConfigError(
            f"PII_HASH_KEY must decode to at least {HASH_KEY_MIN_BYTES} bytes, got {len(key)}"
        )
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(field: str, kid: str) -> bytes:
    return _AAD_PREFIX + field.encode() + b"\x00" + kid.encode()


# ---- normalisation for look-up hashes -------------------------------------------------------

_NAME_DOTS = re.compile(r"[.\u2022\u2027\u2219\u30fb\uff0e]")


def normalise_phone(value: str) -> str:
    """Digits only, without a +86 / 0086 country prefix on an 11-digit mobile number."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits


def normalise_name(value: str) -> str:
    """NFKC, collapsed whitespace, one middle dot for minority names such as 买买提·艾力."""
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    return _NAME_DOTS.sub("·", text)


def normalise(field: str, value: str) -> str:
    """The canonical form hashed for ``field`` (unknown fields: NFKC and trimmed)."""
    if field == ID_NUMBER:
        return normalise_id_number(value)
    if field == PHONE:
        return normalise_phone(value)
    if field == NAME:
        return normalise_name(value)
    return unicodedata.normalize("NFKC", value).strip()


# ---- the cipher ------------------------------------------------------------------------------


class PiiCipher:
    """Encrypts, decrypts, rotates and hashes personal data fields."""

    def __init__(self, ring: KeyRing, hash_key: bytes) -> None:
        if len(hash_key) < HASH_KEY_MIN_BYTES:
            raise PiiConfigError(f"PII_HASH_KEY must be at least {HASH_KEY_MIN_BYTES} bytes")
        self.ring = ring
        self._aead = {kid: AESGCM(key) for kid, key in ring.keys}
        self._hash_key = hash_key

    def encrypt(self, plaintext: str, *, field: str) -> str:
        """Encrypt with the current key; ``field`` must be given again to decrypt."""
        _require_field(field)
        kid = self.ring.current_kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, plaintext.encode(), _aad(field, kid))
        return f"{_PREFIX}.{kid}.{_b64url(nonce + sealed)}"

    def decrypt(self, token: str, *, field: str) -> str:
        """Decrypt and authenticate; raises PiiDecryptError / UnknownKeyError."""
        _require_field(field)
        kid, blob = _split(token)
        aead = self._aead.get(kid)
        if aead is None:
            raise UnknownKeyError(
                f"ciphertext for field {field!r} was encrypted with key id {kid!r}, which is not "
                f"in PII_KEYS (known: {', '.join(self.ring.kids)}); add that key back to "
                "PII_KEYS to read or rotate it"
            )
        try:
            plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(field, kid))
        except InvalidTag:
            raise PiiDecryptError(
                f"ciphertext for field {field!r} (key id {kid!r}) failed authentication: "
                "it was altered, belongs to another field, or the key is wrong"
            ) from None
        return plain.decode()

    def needs_rotation(self, token: str) -> bool:
        """True when ``token`` was not encrypted with the current key (cheap: no decryption)."""
        return _split(token)[0] != self.ring.current_kid

    def rotate(self, token: str, *, field: str) -> str:
        """Re-encrypt with the current key; a token already under it is checked and returned."""
        plaintext = self.decrypt(token, field=field)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, field=field)

    def lookup_hash(self, value: str, *, field: str) -> str:
        """Keyed HMAC-SHA256 (hex) of the normalised value, separated per field."""
        _require_field(field)
        message = _HASH_PREFIX + field.encode() + b"\x00" + normalise(field, value).encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()


def _require_field(field: str) -> None:
    if not field:
        raise ValueError("field name is required: it is bound to the ciphertext")


def _split(token: str) -> tuple[str, bytes]:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not _KID_RE.match(parts[1]):
        raise PiiDecryptError("not a PII ciphertext (expected 'pii1.<kid>.<data>')")
    try:
        blob = _unb64url(parts[2])
    except (binascii.Error, ValueError):
        raise PiiDecryptError("PII ciphertext data is not valid base64url") from None
    if len(blob) < NONCE_BYTES + 16:
        raise PiiDecryptError("PII ciphertext is truncated")
    return parts[1], blob


# ---- settings --------------------------------------------------------------------------------


def _derive_dev_key(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=b"huimin-dev-only", info=purpose
    ).derive(secret_key.encode())


def _warn_dev_keys_once(missing: list[str]) -> None:
    global _dev_warning_issued
    with _dev_warning_lock:
        if _dev_warning_issued:
            return
        _dev_warning_issued = True
    log.warning(
        "%s not set: using an INSECURE development key derived from SECRET_KEY "
        "(key id %r). Never store real residents' data like this; set PII_KEYS and "
        "PII_HASH_KEY (see `generate_key_entry`).",
        " and ".join(missing),
        DEV_KEY_ID,
    )


def cipher_from_settings(settings: Settings) -> PiiCipher:
    """Build the cipher; call at process start so production fails fast without keys."""
    configured = {"PII_KEYS": settings.pii_keys, "PII_HASH_KEY": settings.pii_hash_key}
    missing = [name for name, value in configured.items() if not value.strip()]
    if missing and settings.is_production:
        raise PiiConfigError(
            f"{' and '.join(missing)} must be set when HUIMIN_ENV=production; "
            "refusing to start with development keys"
        )
    if missing:
        _warn_dev_keys_once(missing)
    if settings.pii_keys.strip():
        ring = KeyRing.parse(settings.pii_keys)
    else:
        dev_key = _derive_dev_key(settings.secret_key, b"pii encryption")
        ring = KeyRing(((DEV_KEY_ID, dev_key),))
    if settings.pii_hash_key.strip():
        hash_key = _parse_hash_key(settings.pii_hash_key)
    else:
        hash_key = _derive_dev_key(settings.secret_key, b"pii lookup hash")
    return PiiCipher(ring, hash_key)
