"""The callback's envelope: signatures, timestamps, nonces, the three message modes, key
rotation, and bad input (each answered with a clear status, nothing sent anywhere).

Requests are built with wechatpy's WeChatCrypto, as WeChat builds them, and posted to the
real endpoint of an in-process app.
"""

from __future__ import annotations

import hashlib
import io
import time

import pytest
import requests
import xmltodict

from huimin.wechat.conversation import FALLBACK_TEXT
from huimin.wechat.replies import cdata, text_reply
from tests.wechat import envelope, event_xml, make_app, open_reply, post, sign, text_xml
from webapp.extensions import services

OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
THIRD_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


@pytest.fixture
def settings(app):
    with app.app_context():
        return services().settings


def fresh_get(settings, **extra):
    ts, nonce = str(int(time.time())), f"n{time.time_ns()}"
    return {"timestamp": ts, "nonce": nonce, "echostr": "hello",
            "signature": sign(settings.wechat_token, ts, nonce), **extra}


# ---- URL verification (GET) --------------------------------------------------------------

def test_get_verification_echoes_only_for_our_signature(client, settings):
    q = fresh_get(settings)
    ok = client.get("/wechat/callback", query_string=q)
    assert ok.status_code == 200 and ok.data == b"hello"
    assert client.get("/wechat/callback", query_string=q).status_code == 403  # replayed nonce
    forged = fresh_get(settings)
    forged["signature"] = "0" * 40
    assert client.get("/wechat/callback", query_string=forged).status_code == 403
    stale = {"timestamp": "1700000000", "nonce": "n-stale", "echostr": "x",
             "signature": sign(settings.wechat_token, "1700000000", "n-stale")}
    assert client.get("/wechat/callback", query_string=stale).status_code == 403


# ---- the three modes and key rotation ----------------------------------------------------

def test_safe_mode_reply_is_encrypted_and_names_the_hotline(client, settings):
    query, body = envelope(settings, text_xml("o-user-1", "你好"))
    resp = post(client, query, body)
    assert resp.status_code == 200
    assert b"12333" not in resp.data and b"<Encrypt>" in resp.data  # encrypted on the wire
    reply = open_reply(settings, query, resp.data)
    assert reply["MsgType"] == "text" and reply["ToUserName"] == "o-user-1"
    assert reply["FromUserName"] == "gh_demo"
    assert reply["Content"] == FALLBACK_TEXT


def test_plaintext_refused_in_safe_mode(client, settings):
    query, body = envelope(settings, text_xml("o-user-3", "你好"), encrypted=False)
    assert post(client, query, body).status_code == 403


@pytest.mark.parametrize("mode", ["plain", "compatible"])
def test_plain_and_compatible_modes(sqlite_url, redis_url, redis_conn, mode):
    app = make_app(sqlite_url, redis_url, wechat_message_mode=mode)
    client = app.test_client()
    settings = app.extensions["huimin"].settings
    plain_q, plain_b = envelope(settings, event_xml("o-mode-1", "subscribe"), encrypted=False)
    resp = post(client, plain_q, plain_b)
    assert resp.status_code == 200 and b"<Encrypt>" not in resp.data
    assert "回复 1" in xmltodict.parse(resp.data)["xml"]["Content"]
    # Compatible mode: the plaintext copy travels beside the ciphertext; the ciphertext wins.
    xml = text_xml("o-mode-2", "你好")
    query, body = envelope(settings, xml, compatible=True)
    tampered = body.replace(b"<![CDATA[o-mode-2]]>", b"<![CDATA[o-forged]]>", 1)
    resp = post(client, query, tampered)
    assert resp.status_code == 200
    assert open_reply(settings, query, resp.data)["ToUserName"] == "o-mode-2"


def test_previous_aes_key_still_opens_messages_during_rotation(sqlite_url, redis_url, redis_conn):
    app = make_app(sqlite_url, redis_url, wechat_aes_key=OTHER_KEY,
                   wechat_aes_key_previous="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    client = app.test_client()
    settings = app.extensions["huimin"].settings
    old = settings.wechat_aes_key_previous
    query, body = envelope(settings, event_xml("o-rot-1", "subscribe"), aes_key=old)
    resp = post(client, query, body)
    assert resp.status_code == 200
    assert "回复 1" in open_reply(settings, query, resp.data, aes_key=old)["Content"]
    query, body = envelope(settings, event_xml("o-rot-2", "subscribe"))  # the new key
    assert "回复 1" in open_reply(settings, query, post(client, query, body).data)["Content"]
    query, body = envelope(settings, event_xml("o-rot-3", "subscribe"), aes_key=THIRD_KEY)
    assert post(client, query, body).status_code == 403


# ---- bad input: a clear status, no outbound request, no hang ----------------------------

@pytest.fixture
def watched(sqlite_url, redis_url, redis_conn, emulator):
    """An app whose assistant and WeChat API both point at the emulator, which records every
    request: after bad input, the emulator must have seen nothing."""
    app = make_app(sqlite_url, redis_url, rasa_url=emulator, wechat_api_base=emulator)
    yield app.test_client(), app.extensions["huimin"].settings
    calls = requests.get(f"{emulator}/_emulator/calls", timeout=5).json()["calls"]
    assert calls == [], "bad input caused an outbound request"


def timed_post(client, query, body):
    started = time.monotonic()
    resp = post(client, query, body)
    assert time.monotonic() - started < 2, "bad input must be answered at once"
    return resp


def test_forged_or_missing_signature_is_403(watched):
    client, settings = watched
    query, body = envelope(settings, text_xml("o-bad-1", "你好"))
    assert timed_post(client, {**query, "signature": "f" * 40}, body).status_code == 403
    assert timed_post(client, {k: v for k, v in query.items() if k != "signature"},
                      body).status_code == 403
    assert timed_post(client, {**query, "signature": "签名"}, body).status_code == 403
    assert timed_post(client, {**query, "msg_signature": "0" * 40}, body).status_code == 403
    assert timed_post(client, {k: v for k, v in query.items() if k != "msg_signature"},
                      body).status_code == 403


@pytest.mark.parametrize("skew", [-301, 301, -100000])
def test_stale_timestamp_is_403(watched, skew):
    client, settings = watched
    query, body = envelope(settings, text_xml("o-bad-2", "你好"),
                           timestamp=int(time.time()) + skew)
    assert timed_post(client, query, body).status_code == 403


def test_replayed_nonce_is_403(watched):
    client, settings = watched
    query, body = envelope(settings, event_xml("o-bad-3", "VIEW", "https://example.org"))
    assert timed_post(client, query, body).status_code == 200
    assert timed_post(client, query, body).status_code == 403


def test_body_over_64_kib_is_413(watched):
    client, settings = watched
    query, _ = envelope(settings, text_xml("o-bad-4", "x"))
    big = b"<xml><Encrypt>" + b"a" * (64 * 1024) + b"</Encrypt></xml>"
    assert timed_post(client, query, big).status_code == 413
    # Without a Content-Length (chunked upload) the limit still holds.
    # Without a Content-Length (a chunked upload, as gunicorn passes it on) it still holds.
    resp = client.post("/wechat/callback", query_string=query, input_stream=io.BytesIO(big),
                       content_type="text/xml",
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
              for i in range(1, 10))
    + ']><xml><Encrypt>&lol9;</Encrypt></xml>'
)
BAD_XML = {
    "malformed": b"<xml><Encrypt>abc</Encrypt>",
    "not xml": b"hello",
    "empty": b"",
    "wrong root": b"<root><Encrypt>abc</Encrypt></root>",
    "xxe": (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<xml><Encrypt>&e;</Encrypt></xml>"),
    "external dtd": b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
    "billion laughs": BILLION_LAUGHS.encode(),
    "gbk bytes": "<xml><Encrypt>中文</Encrypt></xml>".encode("gbk"),
    "declared gbk": '<?xml version="1.0" encoding="GBK"?><xml><Encrypt>x</Encrypt></xml>'.encode(
        "gbk"),
    "utf-16": "<xml><Encrypt>x</Encrypt></xml>".encode("utf-16"),
}


@pytest.mark.parametrize("name", list(BAD_XML))
def test_bad_xml_is_400(watched, name):
    client, settings = watched
    query, _ = envelope(settings, text_xml("o-bad-5", "x"))
    resp = timed_post(client, query, BAD_XML[name])
    assert resp.status_code == 400, (name, resp.data)


@pytest.mark.parametrize("inner", [
    "<xml><FromUserName>o</FromUserName>",  # malformed after decryption
    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
    "<xml><MsgType>text</MsgType><Content>no sender</Content></xml>",  # not a WeChat message
])
def test_bad_xml_inside_the_encryption_is_400(watched, inner):
    client, settings = watched
    query, body = envelope(settings, inner)
    assert timed_post(client, query, body).status_code == 400


def test_undecryptable_or_other_appid_is_403(watched):
    client, settings = watched
    query, body = envelope(settings, text_xml("o-bad-6", "你好"), aes_key=THIRD_KEY)
    assert timed_post(client, query, body).status_code == 403
    query, body = envelope(settings, text_xml("o-bad-7", "你好"), appid="wx_someone_else")
    assert timed_post(client, query, body).status_code == 403
    # A correctly signed ciphertext that no configured key opens.
    query, _ = envelope(settings, text_xml("o-bad-8", "你好"))
    garbage, cipher = b"<xml><Encrypt>bm90IGNpcGhlcnRleHQ=</Encrypt></xml>", "bm90IGNpcGhlcnRleHQ="
    query["msg_signature"] = hashlib.sha1("".join(sorted([
        settings.wechat_token, query["timestamp"], query["nonce"], cipher])).encode()).hexdigest()
    assert timed_post(client, query, garbage).status_code == 403


# ---- reply XML ----------------------------------------------------------------------------

def test_cdata_terminator_in_reply_cannot_inject():
    evil = "a]]><MsgType>news</MsgType><![CDATA[b"
    parsed = xmltodict.parse(text_reply("o", "gh", evil))["xml"]
    assert parsed["Content"] == evil and parsed["MsgType"] == "text"
    assert cdata("]]>") == "<![CDATA[]]]]><![CDATA[>]]>"
    assert xmltodict.parse(text_reply("o", "gh", "a\x00b\x1fc"))["xml"]["Content"] == "abc"


# ---- non-ASCII digits (issue 15, Low 6) ---------------------------------------------------


@pytest.mark.parametrize("timestamp", ["²", "١٧٠٠٠٠٠٠٠٠", "１７００"])
def test_non_ascii_digit_timestamp_is_4xx_on_get_and_post(client, settings, timestamp):
    """'²'.isdigit() is true and int('²') fails: a validly signed request must still get 4xx."""
    nonce = f"n{time.time_ns()}"
    signed = {"timestamp": timestamp, "nonce": nonce,
              "signature": sign(settings.wechat_token, timestamp, nonce)}
    got = client.get("/wechat/callback", query_string={**signed, "echostr": "x"})
    assert 400 <= got.status_code < 500
    query, body = envelope(settings, text_xml("o-digit-1", "你好"))
    nonce = query["nonce"]
    query.update(timestamp=timestamp, signature=sign(settings.wechat_token, timestamp, nonce))
    posted = post(client, query, body)
    assert 400 <= posted.status_code < 500


def test_non_ascii_digit_create_time_is_400(client, settings):
    import re

    xml = re.sub(r"<CreateTime>\d+</CreateTime>", "<CreateTime>²</CreateTime>",
                 text_xml("o-digit-2", "你好"))
    query, body = envelope(settings, xml)
    resp = post(client, query, body)
    assert resp.status_code == 400
