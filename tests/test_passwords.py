"""Staff credentials: argon2id password hashes, the password policy and TOTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from argon2 import PasswordHasher

from huimin.identity.passwords import (
    MAX_LENGTH,
    InvalidStoredHashError,
    hash_password,
    password_problems,
    verify_password,
    verify_unknown_user,
)
from huimin.identity.totp import ISSUER, new_totp_secret, provisioning_uri, verify_totp

# Cheap parameters for tests that need an "old" hash; the default hasher must upgrade them.
WEAK = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
GOOD = "correct horse 42"


# ---- hashing ---------------------------------------------------------------------------------


def test_hash_is_salted_argon2id() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert GOOD not in first


def test_verify_accepts_the_password_and_rejects_others() -> None:
    stored = hash_password(GOOD)
    assert verify_password(stored, GOOD).ok
    assert verify_password(stored, GOOD).new_hash is None
    assert not verify_password(stored, "correct horse 43").ok
    assert not verify_password(stored, "").ok


def test_weak_hash_is_upgraded_on_successful_verify() -> None:
    old = hash_password(GOOD, hasher=WEAK)
    check = verify_password(old, GOOD)
    assert check.ok and check.new_hash is not None
    assert "m=65536" in check.new_hash and "m=8," in old
    assert verify_password(check.new_hash, GOOD).new_hash is None
    # A wrong password never triggers a rehash.
    assert verify_password(old, "wrong password 1").new_hash is None
    # The same parameters need no rehash.
    assert verify_password(old, GOOD, hasher=WEAK).new_hash is None


@pytest.mark.parametrize("stored", ["", "plaintext", "$2b$12$abcdefghijklmnopqrstuv"])
def test_corrupt_stored_hash_is_a_data_error_not_a_wrong_password(stored: str) -> None:
    with pytest.raises(InvalidStoredHashError):
        verify_password(stored, GOOD)


def test_unknown_user_always_fails() -> None:
    assert not verify_unknown_user(GOOD).ok
    assert not verify_unknown_user("not a real password: equalises sign-in timing").ok


# ---- policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["Tr0ub4dor&3x", "correct horse 42", "grid-worker-2025", "长城长城长城长城长城1"]
)
def test_acceptable_passwords(password: str) -> None:
    assert password_problems(password, username="wangfang") == []


@pytest.mark.parametrize(
    ("password", "username", "expected"),
    [
        ("Short1!", None, ["at least 10 characters"]),
        ("", None, ["at least 10 characters"]),
        ("abcdefghijkl", None, ["two kinds"]),
        ("ABCDEFGHIJKL", None, ["two kinds"]),
        ("123456789012", None, ["two kinds"]),
        ("!!!!!!!!!!!!", None, ["two kinds"]),
        ("wangfang2025", "wangfang", ["username"]),
        ("WangFang2025", "wangfang", ["username"]),
        ("wangfang", "WangFang", ["at least 10 characters", "two kinds", "username"]),
        ("a1" * (MAX_LENGTH // 2 + 1), None, ["at most"]),
    ],
)
def test_policy_problems(password: str, username: str | None, expected: list[str]) -> None:
    problems = password_problems(password, username=username)
    assert len(problems) == len(expected)
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem
        assert problem.isascii() and problem.endswith(".")


# ---- TOTP ------------------------------------------------------------------------------------

# RFC 6238 appendix B (SHA-1): the ASCII secret "12345678901234567890" gives 94287082 at
# T=59 and 07081804 at T=1111111109; six-digit codes are the last six digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
T1, CODE1 = 59, "287082"
T2, CODE2 = 1111111109, "081804"


def test_rfc_6238_vectors() -> None:
    assert verify_totp(RFC_SECRET, CODE1, at=T1).ok
    check = verify_totp(RFC_SECRET, CODE2, at=T2)
    assert check.ok and check.counter == T2 // 30
    assert verify_totp(RFC_SECRET, CODE2, at=datetime.fromtimestamp(T2, tz=UTC)).ok


def test_window_is_one_step_each_way() -> None:
    step = T2 // 30
    assert verify_totp(RFC_SECRET, CODE2, at=T2 + 30).counter == step  # one step late
    assert verify_totp(RFC_SECRET, CODE2, at=T2 - 30).counter == step  # one step early
    assert not verify_totp(RFC_SECRET, CODE2, at=T2 + 60).ok
    assert not verify_totp(RFC_SECRET, CODE2, at=T2 - 60).ok
    assert verify_totp(RFC_SECRET, CODE2, at=T2 + 60, window=2).ok


def test_replayed_code_is_refused() -> None:
    first = verify_totp(RFC_SECRET, CODE2, at=T2)
    assert first.ok and first.counter is not None
    again = verify_totp(RFC_SECRET, CODE2, at=T2 + 5, last_used_counter=first.counter)
    assert not again.ok and again.replayed and again.counter is None
    # An older code that is still inside the window is refused after a newer one was used.
    older = verify_totp(RFC_SECRET, CODE2, at=T2 + 30, last_used_counter=first.counter + 1)
    assert not older.ok and older.replayed
    # Earlier use leaves later codes acceptable.
    assert verify_totp(RFC_SECRET, CODE2, at=T2, last_used_counter=first.counter - 1).ok


@pytest.mark.parametrize("code", ["", "28708", "2870822", "abcdef", "287 08x", "-28708"])
def test_malformed_codes_fail(code: str) -> None:
    check = verify_totp(RFC_SECRET, code, at=T1)
    assert not check.ok and not check.replayed


def test_code_with_spaces_is_accepted() -> None:
    assert verify_totp(RFC_SECRET, "287 082", at=T1).ok


def test_wrong_code_fails() -> None:
    assert not verify_totp(RFC_SECRET, "287083", at=T1).ok


def test_new_secrets_are_random_base32() -> None:
    first, second = new_totp_secret(), new_totp_secret()
    assert first != second
    assert len(base64.b32decode(first)) >= 20  # at least 160 bits, as RFC 4226 recommends


def test_provisioning_uri_names_the_issuer() -> None:
    secret = new_totp_secret()
    uri = urlparse(provisioning_uri(secret, "ops.wang"))
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert unquote(uri.path) == f"/{ISSUER}:ops.wang"
    query = parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["惠民助手"]


def reference_code(secret: str, counter: int) -> str:
    """RFC 4226 HOTP written out independently of pyotp."""
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset : offset + 4]) & 0x7FFFFFFF) % 1_000_000:06d}"


def test_reference_matches_the_rfc_vector() -> None:
    assert reference_code(RFC_SECRET, T2 // 30) == CODE2


def test_current_time_is_the_default() -> None:
    secret = new_totp_secret()
    step = int(time.time()) // 30
    check = verify_totp(secret, reference_code(secret, step))
    assert check.ok and check.counter is not None and abs(check.counter - step) <= 1
