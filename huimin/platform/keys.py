"""Keys for separate purposes, each from its own secret.

A leak of one key must not open the others: API access tokens (``API_TOKEN_KEY``), the
employment code's QR image links (``QR_LINK_KEY``) and the openid pseudonyms the assistant
and the logs see (``PSEUDONYM_KEY``) each have their own setting. In production every one of
them must be set (``huimin.platform.production.check_production`` refuses to start otherwise). In
development an unset one is derived from ``SECRET_KEY`` with HKDF under a distinct label, so
the derived keys still differ from each other and from ``SECRET_KEY`` itself.
"""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from huimin.platform.settings import Settings


class Purpose(enum.StrEnum):
    """What a key is for; the value is the setting that holds its own secret."""

    API_TOKEN = "API_TOKEN_KEY"
    QR_LINK = "QR_LINK_KEY"
    PSEUDONYM = "PSEUDONYM_KEY"


_SETTING_FIELDS = {
    Purpose.API_TOKEN: "api_token_key",
    Purpose.QR_LINK: "qr_link_key",
    Purpose.PSEUDONYM: "pseudonym_key",
}


def configured_secret(settings: Settings, purpose: Purpose) -> str:
    """The purpose's own secret as configured (empty when unset)."""
    return str(getattr(settings, _SETTING_FIELDS[purpose])).strip()


def purpose_key(settings: Settings, purpose: Purpose) -> bytes:
    """The key for ``purpose``: its own setting, else (development only) derived."""
    own = configured_secret(settings, purpose)
    if own:
        return own.encode()
    if settings.is_production:
        raise ValueError(f"{purpose.value} must be set when HUIMIN_ENV=production")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"huimin-dev-purpose-key",
        info=purpose.value.encode(),
    ).derive(settings.secret_key.encode())


def pseudonym_secret(settings: Settings) -> str:
    """The secret ``wechat_users.pseudonym`` takes (a string, as it always did)."""
    return purpose_key(settings, Purpose.PSEUDONYM).hex()
