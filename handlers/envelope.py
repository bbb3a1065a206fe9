"""WeChat's message envelope: signatures, safe-mode (AES) encryption, and safe XML parsing."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import xmltodict
from defusedxml import ElementTree as SafeET
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from huimin.config import Settings


class EnvelopeError(Exception):
    """A request that is not a genuine, well-formed WeChat message."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_ok(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    expected = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return hmac.compare_digest(expected, signature or "")


def parse_xml(body: bytes) -> dict:
    """Parse untrusted XML: DTDs and entities (XXE, billion laughs) are refused."""
    try:
        text = body.decode("utf-8")
        SafeET.fromstring(text)
        data = xmltodict.parse(text, disable_entities=True)
    except Exception as exc:  # noqa: BLE001 - any parse problem is the sender's fault
        raise EnvelopeError(400, "malformed xml") from exc
    root = data.get("xml") if isinstance(data, dict) else None
    if not isinstance(root, dict):
        raise EnvelopeError(400, "missing <xml> root")
    return root


@dataclass(frozen=True)
class Opened:
    xml: str
    encrypted: bool


def _cryptos(settings: Settings) -> list[WeChatCrypto]:
    keys = [settings.wechat_aes_key]
    if settings.wechat_aes_key_previous:
        keys.append(settings.wechat_aes_key_previous)
    return [WeChatCrypto(settings.wechat_token, key, settings.wechat_appid) for key in keys]


def open_request(settings: Settings, args: dict, body: bytes) -> Opened:
    """Verify and (in safe mode) decrypt an inbound message; raise EnvelopeError otherwise."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not signature_ok(settings.wechat_token, args.get("signature", ""), timestamp, nonce):
        raise EnvelopeError(403, "bad signature")
    outer = parse_xml(body)
    if args.get("encrypt_type") != "aes":
        if settings.wechat_message_mode == "safe":
            raise EnvelopeError(403, "plaintext message refused in safe mode")
        return Opened(xml=body.decode("utf-8"), encrypted=False)
    if "Encrypt" not in outer:
        raise EnvelopeError(400, "missing <Encrypt>")
    for crypto in _cryptos(settings):
        try:
            xml = crypto.decrypt_message(body, args.get("msg_signature", ""), timestamp, nonce)
        except InvalidSignatureException as exc:
            raise EnvelopeError(403, "bad msg_signature") from exc
        except InvalidAppIdException as exc:
            raise EnvelopeError(403, "message for another appid") from exc
        except Exception:  # noqa: BLE001 - wrong key: try the previous one
            continue
        parse_xml(xml.encode("utf-8") if isinstance(xml, str) else xml)
        return Opened(xml=xml if isinstance(xml, str) else xml.decode("utf-8"), encrypted=True)
    raise EnvelopeError(403, "decryption failed")


def seal_reply(settings: Settings, reply_xml: str, opened: Opened, nonce: str) -> str:
    """Encrypt the passive reply when the request was encrypted (WeChat expects the same mode)."""
    if not opened.encrypted:
        return reply_xml
    return _cryptos(settings)[0].encrypt_message(reply_xml, nonce)
