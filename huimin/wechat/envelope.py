"""WeChat's message envelope: signatures, timestamps, safe-mode (AES) encryption, safe XML.

Plaintext, compatible and safe mode are all accepted: a request with `encrypt_type=aes` is
decrypted (compatible mode's plaintext copy is ignored), one without it is refused when the
account is configured for safe mode. The ciphertext is opened with the current
EncodingAESKey, then with the previous one during a key rotation; the reply is sealed with
the key that opened the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from wechatpy.crypto import WeChatCrypto
from wechatpy.crypto.base import WeChatCipher

from huimin.platform.settings import Settings

MAX_CLOCK_SKEW = 300  # seconds between WeChat's timestamp and ours
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class EnvelopeError(Exception):
    """A request that is not a genuine, well-formed WeChat message."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison that copes with any (even non-ASCII) input."""
    return hmac.compare_digest(expected.encode(), given.encode())


def check_query(settings: Settings, args: Mapping[str, str], now: float | None = None) -> None:
    """The URL signature over token/timestamp/nonce, and a timestamp within 300 s of now."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    signature = args.get("signature", "")
    if not signature or not same(sha1_signature(settings.wechat_token, timestamp, nonce),
                                 signature):
        raise EnvelopeError(403, "bad signature")
    if not nonce:
        raise EnvelopeError(403, "missing nonce")
    # str.isdigit() is true for "²" and other non-ASCII digits that int() refuses.
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(
        (now or time.time()) - int(timestamp)
    ) > MAX_CLOCK_SKEW:
        raise EnvelopeError(403, "stale timestamp")


def parse_xml(body: bytes) -> dict[str, str]:
    """Parse untrusted XML into its top-level fields.

    Only UTF-8 is accepted (WeChat sends nothing else); DTDs, and so entities (XXE, billion
    laughs), are refused before anything is expanded.
    """
    declared = _DECLARED_ENCODING.match(body)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise EnvelopeError(400, "only UTF-8 is accepted")
    try:
        body.decode("utf-8")
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except (UnicodeDecodeError, DefusedXmlException, SafeET.ParseError, ValueError) as exc:
        raise EnvelopeError(400, "malformed xml") from exc
    if root.tag != "xml":
        raise EnvelopeError(400, "missing <xml> root")
    return {child.tag: (child.text or "") for child in root}


@dataclass(frozen=True)
class Opened:
    fields: dict[str, str]
    aes_key: str | None  # the key that opened the request; None when it was plaintext


def _unseal(aes_key: str, encrypted: str) -> tuple[bytes, str]:
    """Decrypt WeChat's AES envelope: (xml, appid). ValueError if this key cannot open it."""
    try:
        key = base64.b64decode(aes_key + "=")
        raw = base64.b64decode(encrypted, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc
    if len(key) != 32 or not raw or len(raw) % 16:
        raise ValueError("bad key or ciphertext length")
    plain = WeChatCipher(key).decrypt(raw)
    pad = plain[-1]
    if not 1 <= pad <= 32:
        raise ValueError("bad padding")
    content = plain[16:-pad]  # 16 random bytes, then length, xml, appid
    if len(content) < 4:
        raise ValueError("too short")
    (length,) = struct.unpack(">I", content[:4])
    if length > len(content) - 4:
        raise ValueError("bad length")
    try:
        appid = content[4 + length:].decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError("garbled appid") from exc
    return content[4:4 + length], appid


def open_request(settings: Settings, args: Mapping[str, str], body: bytes) -> Opened:
    """Verify and (in safe/compatible mode) decrypt an inbound message."""
    check_query(settings, args)
    outer = parse_xml(body)
    if args.get("encrypt_type", "raw") != "aes":
        if settings.wechat_message_mode == "safe":
            raise EnvelopeError(403, "plaintext message refused in safe mode")
        return Opened(fields=outer, aes_key=None)
    encrypted = outer.get("Encrypt", "")
    if not encrypted:
        raise EnvelopeError(400, "missing <Encrypt>")
    msg_signature = sha1_signature(settings.wechat_token, args.get("timestamp", ""),
                                   args.get("nonce", ""), encrypted)
    if not same(msg_signature, args.get("msg_signature", "")):
        raise EnvelopeError(403, "bad msg_signature")
    other_appid = False
    for aes_key in filter(None, (settings.wechat_aes_key, settings.wechat_aes_key_previous)):
        try:
            xml, appid = _unseal(aes_key, encrypted)
        except ValueError:
            continue
        if not same(settings.wechat_appid, appid):
            other_appid = True
            continue
        return Opened(fields=parse_xml(xml), aes_key=aes_key)
    raise EnvelopeError(403, "message for another appid" if other_appid else "decryption failed")


def seal_reply(settings: Settings, reply_xml: str, opened: Opened, nonce: str) -> str:
    """Encrypt the passive reply when the request was encrypted (WeChat expects the same)."""
    if opened.aes_key is None:
        return reply_xml
    crypto = WeChatCrypto(settings.wechat_token, opened.aes_key, settings.wechat_appid)
    return crypto.encrypt_message(reply_xml, nonce, str(int(time.time())))
