"""Staff passwords: argon2id hashing (memory-hard) and the password policy.

Citizens never have passwords (they sign in through WeChat); these are for grid workers,
verifiers, ops staff and admins, so policy messages are plain English.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
# argon2 copes with long input, but an unbounded password is a cheap denial-of-service lever.
MAX_LENGTH = 256

# argon2-cffi defaults follow RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
DEFAULT_HASHER = PasswordHasher()
_DUMMY_HASH = DEFAULT_HASHER.hash("not a real password: equalises sign-in timing")


class InvalidStoredHashError(ValueError):
    """The stored value is not an argon2 hash: a data problem, not a wrong password."""


@dataclass(frozen=True)
class PasswordCheck:
    """``ok`` if the password matched; ``new_hash`` is set when the caller should store it
    because the stored hash used older parameters."""

    ok: bool
    new_hash: str | None = None


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


def verify_password(
    stored_hash: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> PasswordCheck:
    """Verify and, on success, rehash if the stored parameters are weaker than ``hasher``'s."""
    try:
        hasher.verify(stored_hash, password)
    except VerifyMismatchError:
        return PasswordCheck(ok=False)
    except (InvalidHashError, VerificationError) as exc:
        raise InvalidStoredHashError("stored password hash is not a valid argon2 hash") from exc
    if hasher.check_needs_rehash(stored_hash):
        return PasswordCheck(ok=True, new_hash=hasher.hash(password))
    return PasswordCheck(ok=True)


def verify_unknown_user(password: str) -> PasswordCheck:
    """Spend the same time as a real check when the username does not exist, so response
    times do not reveal which usernames are valid. Always fails."""
    verify_password(_DUMMY_HASH, password + "\x00")
    return PasswordCheck(ok=False)


def _character_classes(password: str) -> int:
    classes = {
        "lower" if c.islower() else "upper" if c.isupper() else "digit" if c.isdigit() else "other"
        for c in password
    }
    return len(classes)


def password_problems(password: str, *, username: str | None = None) -> list[str]:
    """Plain-English reasons the password is not acceptable; an empty list means it is."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Password must be at most {MAX_LENGTH} characters long.")
    if password and _character_classes(password) < 2:
        problems.append(
            "Password must mix at least two kinds of characters "
            "(lower-case letters, upper-case letters, digits, symbols)."
        )
    name = (username or "").strip().casefold()
    if name and name in password.casefold():
        problems.append("Password must not contain the username.")
    return problems
