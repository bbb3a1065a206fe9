"""TOTP second factor (RFC 6238) for ops and admin accounts.

A level-3 government system needs two factors for administrators. The verifier refuses a
code whose time step is not newer than the last accepted one, so an observed code cannot be
replayed within its validity window; the caller stores the returned counter.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime

import pyotp

ISSUER = "惠民助手"
DIGITS = 6
INTERVAL_SECONDS = 30
_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class TotpCheck:
    """``counter`` is the accepted time step: store it as the account's last used counter."""

    ok: bool
    counter: int | None = None
    replayed: bool = False


def new_totp_secret() -> str:
    """A 160-bit base32 secret (store it encrypted, e.g. with ``PiiCipher``)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str) -> str:
    """``otpauth://`` URI for the authenticator app's QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL_SECONDS).provisioning_uri(
        name=account_name, issuer_name=ISSUER
    )


def verify_totp(
    secret: str,
    code: str,
    *,
    last_used_counter: int | None = None,
    at: datetime | float | None = None,
    window: int = 1,
) -> TotpCheck:
    """Accept ``code`` for the current time step ±``window``, but only for a step later than
    ``last_used_counter``."""
    code = re.sub(r"\s", "", code)
    if not _CODE.fullmatch(code):
        return TotpCheck(ok=False)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL_SECONDS)
    now = totp.timecode(at if at is not None else time.time())
    for counter in range(now - window, now + window + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            if last_used_counter is not None and counter <= last_used_counter:
                return TotpCheck(ok=False, replayed=True)
            return TotpCheck(ok=True, counter=counter)
    return TotpCheck(ok=False)
