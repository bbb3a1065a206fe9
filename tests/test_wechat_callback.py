"""The WeChat callback, in-process, with the assistant unreachable (the fallback path)."""

from __future__ import annotations

import pytest

from handlers.replies import cdata, text_reply
from tests.wechat import envelope, event_xml, open_reply, sign, text_xml
from webapp.extensions import services


@pytest.fixture
def settings(app):
    with app.app_context():
        return services().settings


def post(client, query, body):
    return client.post("/wechat/callback", query_string=query, data=body,
                       content_type="text/xml")


def test_get_verification_echoes_only_for_our_signature(client, settings):
    q = {"timestamp": "1700000000", "nonce": "n1", "echostr": "hello"}
    ok = client.get("/wechat/callback", query_string={**q, "signature": sign(
        settings.wechat_token, "1700000000", "n1")})
    assert ok.status_code == 200 and ok.data == b"hello"
    bad = client.get("/wechat/callback", query_string={**q, "signature": "0" * 40})
    assert bad.status_code == 403


def test_encrypted_text_gets_encrypted_fallback_naming_hotline(client, settings):
    query, body = envelope(settings, text_xml("o-user-1", "你好"))
    resp = post(client, query, body)
    assert resp.status_code == 200
    assert b"12333" not in resp.data  # the reply is encrypted on the wire
    reply = open_reply(settings, query, resp.data)
    assert reply["MsgType"] == "text" and reply["ToUserName"] == "o-user-1"
    assert "12333" in reply["Content"]


def test_subscribe_event_gets_numbered_menu(client, settings):
    query, body = envelope(settings, event_xml("o-user-2", "subscribe"))
    reply = open_reply(settings, query, post(client, query, body).data)
    assert "回复 1" in reply["Content"]


def test_plaintext_refused_in_safe_mode(client, settings):
    query, body = envelope(settings, text_xml("o-user-3", "你好"), encrypted=False)
    assert post(client, query, body).status_code == 403


def test_forged_signature_is_403(client, settings):
    query, body = envelope(settings, text_xml("o-user-4", "你好"))
    query["signature"] = "f" * 40
    assert post(client, query, body).status_code == 403


def test_xxe_is_400_and_large_body_413(client, settings):
    xxe = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           "<xml><Encrypt>&e;</Encrypt></xml>")
    query, _ = envelope(settings, text_xml("o", "x"))
    assert post(client, query, xxe.encode()).status_code == 400
    assert post(client, query, b"<xml>" + b"a" * 70000 + b"</xml>").status_code == 413


def test_cdata_terminator_in_reply_cannot_inject():
    import xmltodict

    evil = "a]]><MsgType>news</MsgType><![CDATA[b"
    parsed = xmltodict.parse(text_reply("o", "gh", evil))["xml"]
    assert parsed["Content"] == evil and parsed["MsgType"] == "text"
    assert cdata("]]>") == "<![CDATA[]]]]><![CDATA[>]]>"
