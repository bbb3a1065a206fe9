"""The callback side: the XML WeChat POSTs to the official account, and reading its reply.

Encryption uses `wechatpy.crypto.WeChatCrypto`, the same AES scheme WeChat uses, so a
callback that works against these envelopes works against WeChat.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import ParseError, fromstring
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from emulator.config import MODES, EmulatorConfig
from emulator.errors import ControlError

MSG_TYPES = ("text", "voice", "image", "location", "link", "video", "event")
REPLY_TYPES = ("text", "image", "voice", "video", "music", "news", "transfer_customer_service")

Field = tuple[str, str | int | float]


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA; split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: list[Field]) -> str:
    """Render fields as WeChat does: strings in CDATA, numbers bare."""
    lines = ["<xml>"]
    for name, value in fields:
        text = _cdata(value) if isinstance(value, str) else str(value)
        lines.append(f"<{name}>{text}</{name}>")
    lines.append("</xml>")
    return "\n".join(lines)


def _str(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or value == "":
        raise ControlError(f"{key} must be a non-empty string")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"location.{key} must be a number")
    return value


def message_fields(data: Mapping[str, Any]) -> list[Field]:
    """The type-specific elements after MsgType, in the order WeChat sends them."""
    msg_type = data.get("msg_type")
    if msg_type not in MSG_TYPES:
        raise ControlError(f"msg_type must be one of {', '.join(MSG_TYPES)}")
    if msg_type == "event":
        fields: list[Field] = [("Event", _str(data, "event"))]
        if data.get("event_key") is not None:
            fields.append(("EventKey", _str(data, "event_key")))
        if data.get("ticket") is not None:
            fields.append(("Ticket", _str(data, "ticket")))
        return fields
    media_id = data.get("media_id") or secrets.token_urlsafe(48)
    if msg_type == "text":
        fields = [("Content", _str(data, "content"))]
    elif msg_type == "image":
        fields = [("PicUrl", _str(data, "pic_url", f"http://mmbiz.qpic.cn/emulator/{media_id}")),
                  ("MediaId", media_id)]
    elif msg_type == "voice":
        fields = [("MediaId", media_id), ("Format", _str(data, "format", "amr"))]
        if data.get("recognition") is not None:
            fields.append(("Recognition", _str(data, "recognition")))
    elif msg_type == "video":
        fields = [("MediaId", media_id), ("ThumbMediaId", secrets.token_urlsafe(48))]
    elif msg_type == "location":
        where = data.get("location")
        if not isinstance(where, dict):
            raise ControlError("location must be an object with x, y, scale?, label?")
        scale = where.get("scale", 15)
        if isinstance(scale, bool) or not isinstance(scale, int):
            raise ControlError("location.scale must be an integer")
        fields = [("Location_X", _number(where, "x")), ("Location_Y", _number(where, "y")),
                  ("Scale", scale), ("Label", str(where.get("label", "")))]
    else:  # link
        link = data.get("link")
        if not isinstance(link, dict):
            raise ControlError("link must be an object with title, description, url")
        fields = [("Title", str(link.get("title", ""))),
                  ("Description", str(link.get("description", ""))),
                  ("Url", _str(link, "url"))]
    msg_id = data.get("msg_id") or secrets.randbelow(9 * 10**18) + 10**18
    if isinstance(msg_id, bool) or not str(msg_id).isdigit():
        raise ControlError("msg_id must be a number")
    fields.append(("MsgId", int(msg_id)))
    return fields


@dataclass(frozen=True)
class Built:
    query: dict[str, str]
    body: str
    nonce: str
    create_time: int


def build_envelope(config: EmulatorConfig, openid: str, mode: str, create_time: int,
                   msg_type: str, fields: list[Field]) -> Built:
    """Sign (and in compatible/safe mode encrypt) a message as WeChat would POST it."""
    if mode not in MODES:
        raise ControlError(f"mode must be one of {', '.join(MODES)}")
    plain_fields: list[Field] = [("ToUserName", config.original_id), ("FromUserName", openid),
                                 ("CreateTime", create_time), ("MsgType", msg_type), *fields]
    plain = to_xml(plain_fields)
    timestamp, nonce = str(create_time), str(secrets.randbelow(9 * 10**9) + 10**9)
    query = {"signature": sha1_signature(config.wechat_token, timestamp, nonce),
             "timestamp": timestamp, "nonce": nonce, "openid": openid}
    if mode == "plain":
        return Built(query, plain, nonce, create_time)
    crypto = WeChatCrypto(config.wechat_token, config.wechat_aes_key, config.wechat_appid)
    sealed = _parse(crypto.encrypt_message(plain, nonce, timestamp))
    encrypt = sealed.findtext("Encrypt") or ""
    query |= {"encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature") or ""}
    if mode == "safe":
        body = to_xml([("ToUserName", config.original_id), ("Encrypt", encrypt)])
    else:  # compatible: plaintext and ciphertext side by side
        body = to_xml([*plain_fields, ("Encrypt", encrypt)])
    return Built(query, body, nonce, create_time)


def _parse(text: str) -> Element:
    try:
        root = fromstring(text)
    except ParseError as exc:
        raise ControlError(f"reply is not well-formed XML: {exc}") from exc
    if root.tag != "xml":
        raise ControlError("reply root element must be <xml>")
    return root


def open_reply(config: EmulatorConfig, body: str, mode: str, expected_openid: str | None,
               media_known: Callable[[str], bool]) -> dict[str, Any]:
    """Read a passive reply the way WeChat would, refusing what WeChat would not deliver."""
    if mode not in MODES:
        raise ControlError(f"mode must be one of {', '.join(MODES)}")
    if body.strip() in ("", "success"):
        return {"success": True}
    root = _parse(body)
    encrypted = root.find("Encrypt") is not None
    if encrypted:
        if mode == "plain":
            raise ControlError("encrypted reply, but the account is in plain mode")
        root = _parse(_decrypt(config, root))
    elif mode == "safe":
        raise ControlError("safe mode requires an encrypted reply")
    return _read_reply(config, root, encrypted, expected_openid, media_known)


def _decrypt(config: EmulatorConfig, root: Element) -> str:
    parts = {tag: root.findtext(tag) for tag in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}
    missing = [tag for tag, value in parts.items() if not value]
    if missing:
        raise ControlError(f"encrypted reply lacks <{'>, <'.join(missing)}>")
    crypto = WeChatCrypto(config.wechat_token, config.wechat_aes_key, config.wechat_appid)
    try:
        return crypto.decrypt_message({"Encrypt": parts["Encrypt"]}, parts["MsgSignature"],
                                      parts["TimeStamp"], parts["Nonce"])
    except InvalidSignatureException as exc:
        raise ControlError("reply MsgSignature does not match token/TimeStamp/Nonce") from exc
    except InvalidAppIdException as exc:
        raise ControlError("reply was encrypted for a different AppID") from exc
    except (ValueError, IndexError, struct.error) as exc:
        raise ControlError("reply Encrypt cannot be decrypted with the EncodingAESKey") from exc


def _read_reply(config: EmulatorConfig, root: Element, encrypted: bool,
                expected_openid: str | None, media_known: Callable[[str], bool]) -> dict[str, Any]:
    def need(path: str) -> str:
        value = root.findtext(path)
        if value is None or value == "":
            raise ControlError(f"reply lacks <{path}>")
        return value

    msg_type = need("MsgType")
    if msg_type not in REPLY_TYPES:
        raise ControlError(f"reply MsgType {msg_type!r} is not one WeChat accepts")
    from_user, to_user = need("FromUserName"), need("ToUserName")
    if from_user != config.original_id:
        raise ControlError(f"reply FromUserName must be the account id {config.original_id}")
    if expected_openid and to_user != expected_openid:
        raise ControlError("reply ToUserName is not the user who sent the message")
    create_time = need("CreateTime")
    if not create_time.isdigit():
        raise ControlError("reply CreateTime must be an integer")
    reply: dict[str, Any] = {"msg_type": msg_type, "to_user": to_user, "from_user": from_user,
                             "create_time": int(create_time), "encrypted": encrypted}
    if msg_type == "text":
        reply["content"] = need("Content")
    elif msg_type in ("image", "voice", "video"):
        tag = msg_type.capitalize()
        reply["media_id"] = need(f"{tag}/MediaId")
        if not media_known(reply["media_id"]):
            raise ControlError(f"reply {msg_type} media_id was not uploaded (or expired)")
        if msg_type == "video":
            reply["title"] = root.findtext("Video/Title") or ""
            reply["description"] = root.findtext("Video/Description") or ""
    elif msg_type == "music":
        music = root.find("Music")
        reply["music"] = {c.tag: c.text or "" for c in music} if music is not None else {}
    elif msg_type == "news":
        items = root.findall("Articles/item")
        if not 1 <= len(items) <= 8 or need("ArticleCount") != str(len(items)):
            raise ControlError("reply news needs 1-8 <Articles><item> matching <ArticleCount>")
        reply["articles"] = [
            {"title": item.findtext("Title") or "", "description": item.findtext("Description")
             or "", "pic_url": item.findtext("PicUrl") or "", "url": item.findtext("Url") or ""}
            for item in items
        ]
    return reply
