"""Build WeChat callback requests exactly as WeChat's servers do (same crypto, same XML)."""

from __future__ import annotations

import hashlib
import secrets
import time

import xmltodict
from wechatpy.crypto import WeChatCrypto

from huimin.platform.settings import Settings


def _xml(openid: str, msg_type: str, fields: str, to: str, created: int | None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{fields}</xml>"
    )


def text_xml(openid: str, content: str, msg_id: int | None = None, to: str = "gh_demo") -> str:
    msg_id = msg_id or secrets.randbelow(10**15)
    return _xml(openid, "text",
                f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>", to, None)


def event_xml(openid: str, event: str, key: str = "", to: str = "gh_demo",
              created: int | None = None) -> str:
    return _xml(openid, "event",
                f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>",
                to, created)


def message_xml(openid: str, msg_type: str, fields: dict[str, str | int],
                msg_id: int | None = None, to: str = "gh_demo") -> str:
    """Any other message type (voice, image, location, link, video ...)."""
    body = "".join(
        f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>"
        for k, v in fields.items()
    )
    body += f"<MsgId>{msg_id or secrets.randbelow(10**15)}</MsgId>"
    return _xml(openid, msg_type, body, to, None)


def sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def envelope(
    settings: Settings,
    xml: str,
    encrypted: bool = True,
    *,
    compatible: bool = False,
    timestamp: int | None = None,
    aes_key: str | None = None,
    appid: str | None = None,
) -> tuple[dict, bytes]:
    """Query and body as WeChat POSTs them: plaintext, safe (encrypted) or compatible (both).

    `aes_key`/`appid` override what the message is encrypted with (key rotation, forgeries).
    """
    ts, nonce = str(timestamp or int(time.time())), secrets.token_hex(8)
    query = {"timestamp": ts, "nonce": nonce, "signature": sign(settings.wechat_token, ts, nonce),
             "openid": "ignored-by-server"}
    if not encrypted:
        return query, xml.encode()
    crypto = WeChatCrypto(settings.wechat_token, aes_key or settings.wechat_aes_key,
                          appid or settings.wechat_appid)
    sealed = xmltodict.parse(crypto.encrypt_message(xml, nonce, ts))["xml"]
    query["encrypt_type"] = "aes"
    query["msg_signature"] = sealed["MsgSignature"]
    if compatible:
        body = xml.replace("</xml>", f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>")
    else:
        body = (f"<xml><ToUserName><![CDATA[gh_demo]]></ToUserName>"
                f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>")
    return query, body.encode()


def open_reply(settings: Settings, query: dict, body: bytes, aes_key: str | None = None) -> dict:
    """Decrypt and parse a passive reply the way WeChat would."""
    text = body.decode()
    if query.get("encrypt_type") == "aes":
        outer = xmltodict.parse(text)["xml"]
        crypto = WeChatCrypto(settings.wechat_token, aes_key or settings.wechat_aes_key,
                              settings.wechat_appid)
        text = crypto.decrypt_message(text, outer["MsgSignature"], outer["TimeStamp"],
                                      outer["Nonce"])
    return xmltodict.parse(text)["xml"]


def make_app(database_url: str, redis_url: str, **overrides):
    """An in-process app like the `app` fixture's, with settings overridden."""
    from webapp import create_app

    settings = {
        "database_url": database_url,
        "redis_url": redis_url,
        "rasa_url": "http://127.0.0.1:9",  # nothing listens: the assistant is "down"
        "action_server_url": "http://127.0.0.1:9",
        "wechat_api_base": "http://127.0.0.1:9",
        "reply_budget_seconds": 1.0,
        **overrides,
    }
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def post(client, query: dict, body: bytes):
    return client.post("/wechat/callback", query_string=query, data=body,
                       content_type="text/xml")
