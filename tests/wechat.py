"""Build WeChat callback requests exactly as WeChat's servers do (same crypto, same XML)."""

from __future__ import annotations

import hashlib
import secrets
import time

from wechatpy.crypto import WeChatCrypto

from huimin.config import Settings


def text_xml(openid: str, content: str, msg_id: int | None = None, to: str = "gh_demo") -> str:
    msg_id = msg_id or secrets.randbelow(10**15)
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, key: str = "", to: str = "gh_demo") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def envelope(settings: Settings, xml: str, encrypted: bool = True) -> tuple[dict, bytes]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    query = {"timestamp": timestamp, "nonce": nonce,
             "signature": sign(settings.wechat_token, timestamp, nonce),
             "openid": "ignored-by-server"}
    if not encrypted:
        return query, xml.encode()
    crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    body = crypto.encrypt_message(xml, nonce, timestamp)
    import xmltodict

    query["encrypt_type"] = "aes"
    query["msg_signature"] = xmltodict.parse(body)["xml"]["MsgSignature"]
    return query, body.encode()


def open_reply(settings: Settings, query: dict, body: bytes) -> dict:
    """Decrypt and parse a passive reply the way WeChat would."""
    import xmltodict

    text = body.decode()
    if query.get("encrypt_type") == "aes":
        outer = xmltodict.parse(text)["xml"]
        crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key,
                              settings.wechat_appid)
        text = crypto.decrypt_message(text, outer["MsgSignature"], outer["TimeStamp"],
                                      outer["Nonce"])
    return xmltodict.parse(text)["xml"]
