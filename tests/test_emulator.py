"""The WeChat server-API emulator behaves like WeChat where the project depends on it.

Most tests drive `create_app().test_client()` with an injected clock (48-hour windows and
token expiry without sleeping); the `server` tests run `python -m emulator` as a real
process and talk to it with requests and wechatpy, as the project's code will.
Crypto is checked independently with wechatpy's WeChatCrypto and check_signature.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import xmltodict
from flask.testing import FlaskClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.replies import ArticlesReply, ImageReply, TextReply
from wechatpy.session.redisstorage import RedisStorage
from wechatpy.utils import check_signature

import emulator
from emulator import create_app
from emulator.config import EmulatorConfig

ROOT = Path(__file__).resolve().parent.parent
OA_APPID, OA_SECRET = "wx0000000000demo", "demo-secret"
MINI_APPID, MINI_SECRET = "wx0000000000mini", "mini-secret"
TOKEN = "demo-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
GH_ID = "gh_0123456789ab"
CONFIG: dict[str, Any] = {
    "wechat_appid": OA_APPID, "wechat_secret": OA_SECRET, "miniapp_appid": MINI_APPID,
    "miniapp_secret": MINI_SECRET, "wechat_token": TOKEN, "wechat_aes_key": AES_KEY,
    "original_id": GH_ID, "message_mode": "safe", "token_ttl": 7200,
    "risky_words": {"赌博": 20006, "色情": 20002},
}
CUSTOM = "/cgi-bin/message/custom/send"
SUBSCRIBE = "/cgi-bin/message/subscribe/send"
PHONE = "/wxa/business/getuserphonenumber"
SEC_CHECK = "/wxa/msg_sec_check"
UPLOAD = "/cgi-bin/media/upload"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class FakeClock:
    """Emulator time that tests move forward explicitly."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> FlaskClient:
    return create_app({**CONFIG, "clock": clock}).test_client()


def get_token(client: FlaskClient, appid: str = OA_APPID, secret: str = OA_SECRET) -> str:
    body = client.get("/cgi-bin/token", query_string={
        "grant_type": "client_credential", "appid": appid, "secret": secret}).get_json()
    return body["access_token"]


def call(client: FlaskClient, path: str, token: str | None, body: object = None,
         raw: bytes | None = None) -> dict[str, Any]:
    """POST like wechatpy does: UTF-8 JSON bytes, no Content-Type header."""
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    query = {"access_token": token} if token is not None else {}
    return client.post(path, query_string=query, data=data).get_json()


def control(client: FlaskClient, path: str, body: dict | None = None,
            status: int = 200) -> dict[str, Any]:
    response = client.post(f"/_emulator/{path}", json=body or {})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def interact(client: FlaskClient, openid: str, **extra: Any) -> dict[str, Any]:
    """The user sends the official account a text message (opens the 48-hour window)."""
    return control(client, "envelope", {"openid": openid, "msg_type": "text",
                                        "content": "你好", "mode": "plain", **extra})


def text(openid: str, content: str = "您的补贴已到账") -> dict[str, Any]:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


def upload(client: FlaskClient, token: str, media_type: str = "image",
           data: bytes = PNG) -> dict[str, Any]:
    return client.post(UPLOAD, query_string={"access_token": token, "type": media_type},
                       data={"media": (io.BytesIO(data), "a.png", "image/png")},
                       content_type="multipart/form-data").get_json()


def mini_user(client: FlaskClient) -> str:
    return control(client, "login")["openid"]


# ---- settings --------------------------------------------------------------------------


def test_defaults_match_the_project_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from huimin.platform.settings import Settings

    for name in ("WECHAT_APPID", "WECHAT_SECRET", "MINIAPP_APPID", "MINIAPP_SECRET",
                 "WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY", "WECHAT_MESSAGE_MODE"):
        monkeypatch.delenv(name, raising=False)
    ours, theirs = EmulatorConfig(), Settings()
    assert (ours.wechat_appid, ours.wechat_secret) == (theirs.wechat_appid, theirs.wechat_secret)
    assert (ours.miniapp_appid, ours.miniapp_secret) == (
        theirs.miniapp_appid, theirs.miniapp_secret)
    assert (ours.wechat_token, ours.wechat_aes_key, ours.message_mode) == (
        theirs.wechat_token, theirs.wechat_aes_key, theirs.wechat_message_mode)


def test_settings_come_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WECHAT_APPID", "wxenvappid000001")
    monkeypatch.setenv("WECHAT_SECRET", "env-secret")
    monkeypatch.setenv("EMULATOR_RISKY_WORDS", "违禁词:20001, 广告词")
    env_client = create_app().test_client()
    assert get_token(env_client, "wxenvappid000001", "env-secret")
    assert EmulatorConfig().risky_words == {"违禁词": 20001, "广告词": 21000}


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown emulator config keys: nope"):
        create_app({"nope": 1})
    with pytest.raises(ValueError, match="message_mode"):
        create_app({"message_mode": "secret"})


# ---- access tokens ---------------------------------------------------------------------


def token_error(client: FlaskClient, **params: str) -> int:
    query = {"grant_type": "client_credential", "appid": OA_APPID, "secret": OA_SECRET, **params}
    query = {k: v for k, v in query.items() if v}
    return client.get("/cgi-bin/token", query_string=query).get_json().get("errcode", 0)


def test_token_issue_and_errors(client: FlaskClient) -> None:
    body = client.get("/cgi-bin/token", query_string={
        "grant_type": "client_credential", "appid": OA_APPID, "secret": OA_SECRET}).get_json()
    assert set(body) == {"access_token", "expires_in"} and body["expires_in"] == 7200
    assert token_error(client, appid="wxnosuchapp00000") == 40013
    assert token_error(client, secret="wrong") == 40125
    assert token_error(client, appid="") == 41002
    assert token_error(client, secret="") == 41004
    assert token_error(client, grant_type="password") == 40002
    bad = client.get("/cgi-bin/token", query_string={
        "grant_type": "client_credential", "appid": OA_APPID, "secret": "wrong"}).get_json()
    assert bad["errmsg"].startswith("invalid appsecret") and " rid: " in bad["errmsg"]
    assert client.post("/cgi-bin/token").get_json()["errcode"] == 43001


def test_new_token_revokes_the_previous_one_of_that_app_only(client: FlaskClient) -> None:
    first, mini = get_token(client), get_token(client, MINI_APPID, MINI_SECRET)
    second = get_token(client)
    assert first != second
    assert call(client, CUSTOM, first, text("ounknown"))["errcode"] == 40001
    assert call(client, CUSTOM, second, text("ounknown"))["errcode"] == 40003  # token accepted
    assert call(client, CUSTOM, mini, text("ounknown"))["errcode"] == 40003


def test_missing_unknown_and_expired_tokens(client: FlaskClient, clock: FakeClock) -> None:
    assert call(client, CUSTOM, None, text("o1"))["errcode"] == 41001
    assert call(client, CUSTOM, "bogus", text("o1"))["errcode"] == 40001
    token = get_token(client)
    clock.advance(7199)
    assert call(client, CUSTOM, token, text("o1"))["errcode"] == 40003
    clock.advance(2)
    expired = call(client, CUSTOM, token, text("o1"))
    assert expired["errcode"] == 42001 and expired["errmsg"].startswith("access_token expired")
    fresh = get_token(client)
    assert control(client, "tokens/expire", {"appid": OA_APPID})["expired"] >= 1
    assert call(client, CUSTOM, fresh, text("o1"))["errcode"] == 42001


def stable(client: FlaskClient, raw: bytes | None = None, **body: Any) -> dict[str, Any]:
    payload = {"grant_type": "client_credential", "appid": OA_APPID, "secret": OA_SECRET, **body}
    return call(client, "/cgi-bin/stable_token", None, payload, raw=raw)


def test_stable_token_semantics(client: FlaskClient, clock: FakeClock) -> None:
    first = stable(client)
    assert set(first) == {"access_token", "expires_in"} and first["expires_in"] == 7200
    clock.advance(100)
    again = stable(client)
    assert again == {"access_token": first["access_token"], "expires_in": 7100}
    # Isolated from /cgi-bin/token in both directions.
    basic = get_token(client)
    assert stable(client)["access_token"] == first["access_token"]
    assert call(client, CUSTOM, basic, text("o1"))["errcode"] == 40003
    # Forced refresh: a new token, the old one dies at once ...
    forced = stable(client, force_refresh=True)["access_token"]
    assert forced != first["access_token"]
    assert call(client, CUSTOM, first["access_token"], text("o1"))["errcode"] == 40001
    # ... but not twice within 30 seconds.
    assert stable(client, force_refresh=True)["access_token"] == forced
    # Normal mode renews in the last 5 minutes; the outgoing token still works meanwhile.
    clock.advance(7200 - 200)
    renewed = stable(client)
    assert renewed["access_token"] != forced and renewed["expires_in"] == 7200
    assert call(client, CUSTOM, forced, text("o1"))["errcode"] == 40003
    clock.advance(201)
    assert call(client, CUSTOM, forced, text("o1"))["errcode"] == 42001


def test_stable_token_errors(client: FlaskClient, clock: FakeClock) -> None:
    assert stable(client, appid="wxnosuchapp00000")["errcode"] == 40013
    assert stable(client, secret="wrong")["errcode"] == 40125
    assert stable(client, appid="")["errcode"] == 41002
    assert stable(client, grant_type="x")["errcode"] == 40002
    assert stable(client, force_refresh="yes")["errcode"] == 47001
    assert stable(client, raw=b"{not json")["errcode"] == 47001
    assert stable(client, raw=b"")["errcode"] == 44002
    assert client.get("/cgi-bin/stable_token").get_json()["errcode"] == 43002
    for _ in range(20):
        assert "access_token" in stable(client, force_refresh=True)
        clock.advance(31)
    assert stable(client, force_refresh=True)["errcode"] == 45009


# ---- mini-program login ----------------------------------------------------------------


def code2session(client: FlaskClient, code: str | None, **params: str) -> dict[str, Any]:
    query = {"appid": MINI_APPID, "secret": MINI_SECRET, "js_code": code,
             "grant_type": "authorization_code", **params}
    return client.get("/sns/jscode2session",
                      query_string={k: v for k, v in query.items() if v}).get_json()


def test_code2session(client: FlaskClient) -> None:
    login = control(client, "login", {"openid": "o" + "a" * 27, "unionid": "u" * 28})
    assert login["openid"] == "o" + "a" * 27 and login["appid"] == MINI_APPID
    session = code2session(client, login["code"])
    assert set(session) == {"openid", "session_key", "unionid"}
    assert session["openid"] == login["openid"] and session["unionid"] == "u" * 28
    assert len(base64.b64decode(session["session_key"])) == 16
    fresh = control(client, "login")
    assert len(fresh["openid"]) == 28 and fresh["openid"] != login["openid"]


def test_code2session_errors(client: FlaskClient, clock: FakeClock) -> None:
    assert code2session(client, "nosuchcode")["errcode"] == 40029
    code = control(client, "login")["code"]
    assert "openid" in code2session(client, code)
    used = code2session(client, code)
    assert used["errcode"] == 40163 and used["errmsg"].startswith("code been used")
    stale = control(client, "login")["code"]
    clock.advance(301)
    assert code2session(client, stale)["errcode"] == 40029
    assert code2session(client, None)["errcode"] == 41008
    assert code2session(client, "x", appid="")["errcode"] == 41002
    assert code2session(client, "x", secret="")["errcode"] == 41004
    assert code2session(client, "x", appid=OA_APPID)["errcode"] == 40013
    assert code2session(client, "x", secret="wrong")["errcode"] == 40125
    assert code2session(client, "x", grant_type="client_credential")["errcode"] == 40002


def test_code2session_blocked_and_rate_limited_users(client: FlaskClient) -> None:
    login = control(client, "login")
    control(client, f"users/{login['openid']}", {"blocked": True})
    assert code2session(client, login["code"])["errcode"] == 40226
    control(client, f"users/{login['openid']}", {"blocked": False, "rate_limited": True})
    assert code2session(client, login["code"])["errcode"] == 45011
    control(client, f"users/{login['openid']}", {"rate_limited": False})
    assert code2session(client, login["code"])["openid"] == login["openid"]


# ---- customer-service messages ---------------------------------------------------------


def test_custom_text_is_delivered(client: FlaskClient) -> None:
    token = get_token(client)
    interact(client, "o-resident-1")
    assert call(client, CUSTOM, token, text("o-resident-1", "您好，补贴已发放")) == {
        "errcode": 0, "errmsg": "ok"}
    [message] = client.get("/_emulator/messages").get_json()["messages"]
    assert message["kind"] == "custom" and message["touser"] == "o-resident-1"
    assert message["msgtype"] == "text" and message["appid"] == OA_APPID
    assert message["body"]["text"]["content"] == "您好，补贴已发放"


def test_custom_message_types(client: FlaskClient) -> None:
    token = get_token(client)
    interact(client, "o1")
    media_id = upload(client, token)["media_id"]
    image = {"touser": "o1", "msgtype": "image", "image": {"media_id": media_id}}
    news = {"touser": "o1", "msgtype": "news", "news": {"articles": [
        {"title": "稳岗补贴", "description": "d", "url": "https://x", "picurl": "https://p"}]}}
    page = {"touser": "o1", "msgtype": "miniprogrampage", "miniprogrampage": {
        "title": "办件进度", "appid": MINI_APPID, "pagepath": "pages/case/index",
        "thumb_media_id": media_id}}
    for body in (image, news, page):
        assert call(client, CUSTOM, token, body)["errcode"] == 0, body["msgtype"]
    kinds = [m["msgtype"] for m in client.get("/_emulator/messages").get_json()["messages"]]
    assert kinds == ["image", "news", "miniprogrampage"]
    bad_image = {**image, "image": {"media_id": "nosuchmedia"}}
    assert call(client, CUSTOM, token, bad_image)["errcode"] == 40007
    two = {**news, "news": {"articles": news["news"]["articles"] * 2}}
    assert call(client, CUSTOM, token, two)["errcode"] == 45008
    no_thumb = {**page, "miniprogrampage": {**page["miniprogrampage"], "thumb_media_id": "x"}}
    assert call(client, CUSTOM, token, no_thumb)["errcode"] == 40007
    assert call(client, CUSTOM, token, {"touser": "o1", "msgtype": "telegram"})["errcode"] == 40008
    assert call(client, CUSTOM, token, text("o1", "  "))["errcode"] == 44004
    assert call(client, CUSTOM, token, {"touser": "o1", "msgtype": "text"})["errcode"] == 47001


def test_custom_48_hour_window(client: FlaskClient, clock: FakeClock) -> None:
    token = get_token(client)
    control(client, "users/o-quiet", {})  # known, subscribed, never wrote to us
    late = call(client, CUSTOM, token, text("o-quiet"))
    assert late["errcode"] == 45015 and late["errmsg"].startswith("response out of time limit")
    interact(client, "o-quiet")
    clock.advance(48 * 3600 - 1)
    token = get_token(client)  # the old one expired long ago
    assert call(client, CUSTOM, token, text("o-quiet"))["errcode"] == 0
    clock.advance(2)
    assert call(client, CUSTOM, token, text("o-quiet"))["errcode"] == 45015
    control(client, "users/o-quiet", {"last_interaction": clock.now - 3600})
    assert call(client, CUSTOM, token, text("o-quiet"))["errcode"] == 0
    assert [m["touser"] for m in client.get("/_emulator/messages").get_json()["messages"]] == [
        "o-quiet", "o-quiet"]


def test_custom_five_messages_per_interaction(client: FlaskClient) -> None:
    token = get_token(client)
    interact(client, "o-chatty")
    results = [call(client, CUSTOM, token, text("o-chatty", f"第{i}条"))["errcode"]
               for i in range(6)]
    assert results == [0, 0, 0, 0, 0, 45047]
    assert call(client, CUSTOM, token, text("o-chatty"))["errmsg"].startswith(
        "out of response count limit")
    interact(client, "o-chatty")
    assert call(client, CUSTOM, token, text("o-chatty"))["errcode"] == 0


def test_custom_recipient_checks(client: FlaskClient) -> None:
    token = get_token(client)
    assert call(client, CUSTOM, token, text("o-stranger"))["errcode"] == 40003
    assert call(client, CUSTOM, token, {"msgtype": "text", "text": {"content": "x"}})[
        "errcode"] == 40003
    # A mini-program openid is not an official-account openid.
    assert call(client, CUSTOM, token, text(mini_user(client)))["errcode"] == 40003
    interact(client, "o-leaving")
    control(client, "envelope", {"openid": "o-leaving", "msg_type": "event",
                                 "event": "unsubscribe", "mode": "plain"})
    assert call(client, CUSTOM, token, text("o-leaving"))["errcode"] == 45015
    control(client, "envelope", {"openid": "o-leaving", "msg_type": "event",
                                 "event": "subscribe", "mode": "plain"})
    assert call(client, CUSTOM, token, text("o-leaving"))["errcode"] == 0


def test_custom_bad_bodies(client: FlaskClient) -> None:
    token = get_token(client)
    assert call(client, CUSTOM, token, raw=b"{\"touser\": ")["errcode"] == 47001
    assert call(client, CUSTOM, token, raw=b"[1, 2]")["errcode"] == 47001
    assert call(client, CUSTOM, token, raw=b"\xff\xfe\x00garbage")["errcode"] == 47001
    assert call(client, CUSTOM, token, raw=b"")["errcode"] == 44002
    assert client.get(CUSTOM, query_string={"access_token": token}).get_json()[
        "errcode"] == 43002


# ---- subscribe messages ----------------------------------------------------------------


def subscribe_body(openid: str, template_id: str = "TPL-benefit") -> dict[str, Any]:
    return {"touser": openid, "template_id": template_id, "page": "pages/notice/index",
            "data": {"thing1": {"value": "失业保险金"}, "amount2": {"value": "1,820元"}}}


def test_subscribe_messages_are_one_time(client: FlaskClient) -> None:
    token, openid = get_token(client, MINI_APPID, MINI_SECRET), mini_user(client)
    refused = call(client, SUBSCRIBE, token, subscribe_body(openid))
    assert refused["errcode"] == 43101
    assert refused["errmsg"].startswith("user refuse to accept the msg")
    control(client, f"users/{openid}", {"accept": ["TPL-benefit"]})
    assert call(client, SUBSCRIBE, token, subscribe_body(openid)) == {"errcode": 0, "errmsg": "ok"}
    assert call(client, SUBSCRIBE, token, subscribe_body(openid))["errcode"] == 43101
    control(client, f"users/{openid}", {"subscriptions": {"TPL-benefit": 2}})
    assert [call(client, SUBSCRIBE, token, subscribe_body(openid))["errcode"]
            for _ in range(3)] == [0, 0, 43101]
    # Accepting one template does not allow another.
    assert call(client, SUBSCRIBE, token, subscribe_body(openid, "TPL-other"))["errcode"] == 43101
    messages = client.get("/_emulator/messages", query_string={"touser": openid}).get_json()
    assert [m["kind"] for m in messages["messages"]] == ["subscribe"] * 3
    assert messages["messages"][0]["body"]["data"]["thing1"]["value"] == "失业保险金"


def test_subscribe_errors(client: FlaskClient) -> None:
    token, openid = get_token(client, MINI_APPID, MINI_SECRET), mini_user(client)
    control(client, f"users/{openid}", {"subscriptions": {"TPL-benefit": 5}})
    oa_token = get_token(client)
    assert call(client, SUBSCRIBE, oa_token, subscribe_body(openid))["errcode"] == 48001
    assert call(client, SUBSCRIBE, token, subscribe_body("o-nobody"))["errcode"] == 40003
    assert call(client, SUBSCRIBE, token, {**subscribe_body(openid), "template_id": ""})[
        "errcode"] == 40037
    assert call(client, SUBSCRIBE, token, {**subscribe_body(openid), "data": {"x": 1}})[
        "errcode"] == 47003
    assert control(client, f"users/{openid}", {})["subscriptions"] == {"TPL-benefit": 5}


# ---- phone numbers ---------------------------------------------------------------------


def test_phone_number(client: FlaskClient, clock: FakeClock) -> None:
    token = get_token(client, MINI_APPID, MINI_SECRET)
    code = control(client, "phone-code", {"phone": "13800138000"})["code"]
    assert call(client, PHONE, token, {"code": code}) == {
        "errcode": 0, "errmsg": "ok",
        "phone_info": {"phoneNumber": "13800138000", "purePhoneNumber": "13800138000",
                       "countryCode": "86",
                       "watermark": {"timestamp": int(clock.now), "appid": MINI_APPID}}}
    reused = call(client, PHONE, token, {"code": code})
    assert reused["errcode"] == 40029 and reused["errmsg"].startswith("invalid code")
    assert call(client, PHONE, token, {"code": "nosuchcode"})["errcode"] == 40029
    assert call(client, PHONE, token, {})["errcode"] == 41008
    hk = control(client, "phone-code", {"phone": "51234567", "country_code": "852"})["code"]
    assert call(client, PHONE, token, {"code": hk})["phone_info"]["phoneNumber"] == "+85251234567"
    stale = control(client, "phone-code", {"phone": "13800138000"})["code"]
    clock.advance(301)
    assert call(client, PHONE, token, {"code": stale})["errcode"] == 40029
    bound = control(client, "phone-code", {"phone": "13800138000", "openid": "o-a"})["code"]
    assert call(client, PHONE, token, {"code": bound, "openid": "o-b"})["errcode"] == 40029
    assert call(client, PHONE, get_token(client), {"code": bound})["errcode"] == 48001
    assert control(client, "phone-code", {"phone": "138-0013"}, status=400)["error"]


# ---- content security ------------------------------------------------------------------


def sec_check(client: FlaskClient, token: str, openid: str, content: str,
              **extra: Any) -> dict[str, Any]:
    return call(client, SEC_CHECK, token,
                {"version": 2, "openid": openid, "scene": 2, "content": content, **extra})


def test_msg_sec_check_v2(client: FlaskClient) -> None:
    token, openid = get_token(client, MINI_APPID, MINI_SECRET), mini_user(client)
    passed = sec_check(client, token, openid, "请问灵活就业怎么交社保")
    assert passed["errcode"] == 0 and passed["result"] == {"suggest": "pass", "label": 100}
    assert passed["detail"][0]["strategy"] == "content_model" and passed["trace_id"]
    risky = sec_check(client, token, openid, "哪里可以赌博")
    assert risky["result"] == {"suggest": "risky", "label": 20006}
    assert {"strategy": "keyword", "errcode": 0, "suggest": "risky", "label": 20006,
            "level": 20, "keyword": "赌博"} in risky["detail"]
    control(client, "risky-words", {"words": {"敏感词": 20001}})
    assert sec_check(client, token, openid, "一个敏感词")["result"]["label"] == 20001
    assert sec_check(client, token, openid, "哪里可以赌博")["result"]["suggest"] == "pass"
    assert sec_check(client, token, openid, "x", scene=9)["errcode"] == 40129
    assert sec_check(client, token, "o-nobody", "x")["errcode"] == 40003
    assert sec_check(client, token, openid, None)["errcode"] == 47001
    assert sec_check(client, get_token(client), openid, "x")["errcode"] == 48001
    control(client, "risky-words", {"words": ["bad"]}, status=400)


def test_msg_sec_check_v1(client: FlaskClient) -> None:
    token = get_token(client, MINI_APPID, MINI_SECRET)
    assert call(client, SEC_CHECK, token, {"content": "你好"}) == {"errcode": 0, "errmsg": "ok"}
    assert call(client, SEC_CHECK, token, {"content": "色情"})["errcode"] == 87014


# ---- media -----------------------------------------------------------------------------


def test_media_upload_and_fetch_back(client: FlaskClient, clock: FakeClock) -> None:
    token = get_token(client)
    uploaded = upload(client, token)
    assert set(uploaded) == {"type", "media_id", "created_at"} and uploaded["type"] == "image"
    assert uploaded["created_at"] == int(clock.now)
    fetched = client.get(f"/_emulator/media/{uploaded['media_id']}")
    assert fetched.data == PNG and fetched.mimetype == "image/png"
    assert fetched.headers["X-Media-Type"] == "image"
    thumb = upload(client, token, "thumb")
    assert set(thumb) == {"type", "thumb_media_id", "created_at"}
    assert upload(client, token, "thumb", b"x" * (64 * 1024 + 1))["errcode"] == 40006
    assert upload(client, token, "spreadsheet")["errcode"] == 40004
    assert upload(client, token, "video", b"x" * (17 << 20))["errcode"] == 40006
    no_file = client.post(UPLOAD, query_string={"access_token": token, "type": "image"},
                          data={}, content_type="multipart/form-data").get_json()
    assert no_file["errcode"] == 41005
    assert client.get("/_emulator/media/nosuch").status_code == 404
    # Temporary media expires after 3 days.
    interact(client, "o1")
    clock.advance(3 * 24 * 3600 + 1)
    interact(client, "o1")
    token = get_token(client)
    image = {"touser": "o1", "msgtype": "image", "image": {"media_id": uploaded["media_id"]}}
    assert call(client, CUSTOM, token, image)["errcode"] == 40007


# ---- faults, call log, message log -----------------------------------------------------


def test_fault_injection(client: FlaskClient) -> None:
    token = get_token(client)
    interact(client, "o1")
    control(client, "faults", {"path": CUSTOM, "errcode": -1, "count": 2})
    busy = call(client, CUSTOM, token, text("o1"))
    assert busy["errcode"] == -1 and busy["errmsg"].startswith("system error")
    assert call(client, CUSTOM, token, text("o1"))["errcode"] == -1
    assert call(client, CUSTOM, token, text("o1"))["errcode"] == 0
    assert [c["errcode"] for c in client.get(
        "/_emulator/calls", query_string={"path": CUSTOM}).get_json()["calls"]] == [-1, -1, 0]
    # A fault fires even with a valid token, so 40001 injection tests token refresh.
    control(client, "faults", {"path": "/cgi-bin/token", "errcode": 40001, "status": 503,
                               "errmsg": "injected"})
    response = client.get("/cgi-bin/token")
    assert response.status_code == 503 and response.get_json()["errmsg"].startswith("injected")
    control(client, "faults", {"path": CUSTOM, "errcode": 45009, "count": 3})
    assert control(client, "faults", {"path": CUSTOM, "errcode": 45009, "count": 0})[
        "faults"] == {}
    control(client, "faults", {"path": "cgi-bin/x", "errcode": 1}, status=400)
    control(client, "faults", {"path": CUSTOM, "errcode": 0}, status=400)
    control(client, "faults", {"path": CUSTOM, "errcode": 0, "delay": -1}, status=400)


def test_a_late_answer_after_delivery(client: FlaskClient) -> None:
    """errcode 0 with a delay: WeChat delivers the message at once and answers late (what a
    caller killed meanwhile leaves behind)."""
    token = get_token(client)
    interact(client, "o-late")
    control(client, "faults", {"path": CUSTOM, "errcode": 0, "delay": 0.5})
    started = time.monotonic()
    assert call(client, CUSTOM, token, text("o-late", "迟到的回答"))["errcode"] == 0
    assert time.monotonic() - started >= 0.5
    delivered = client.get("/_emulator/messages", query_string={"touser": "o-late"}).get_json()
    assert [m["body"]["text"]["content"] for m in delivered["messages"]] == ["迟到的回答"]
    assert client.get("/_emulator/faults").get_json()["faults"] == {}  # count 1: used up


def test_call_log(client: FlaskClient) -> None:
    token = get_token(client)
    stable(client)
    call(client, CUSTOM, token, text("o-x", "查询养老金"))
    client.get("/cgi-bin/not/emulated")
    calls = client.get("/_emulator/calls").get_json()["calls"]
    assert [c["id"] for c in calls] == [1, 2, 3, 4]
    assert calls[0]["query"]["secret"] == "***" and calls[1]["body"]["secret"] == "***"
    send = calls[2]
    assert send["method"] == "POST" and send["path"] == CUSTOM and send["errcode"] == 40003
    assert send["query"]["access_token"] == token[:6] + "…"
    assert send["body"]["text"]["content"] == "查询养老金" and isinstance(send["time"], float)
    assert calls[3]["status"] == 404 and calls[3]["errcode"] is None
    since = client.get("/_emulator/calls", query_string={"since": 2}).get_json()["calls"]
    assert [c["id"] for c in since] == [3, 4]
    assert client.get("/_emulator/calls", query_string={"since": "x"}).status_code == 400


def test_message_log_filters(client: FlaskClient) -> None:
    token = get_token(client)
    for openid in ("o-a", "o-b"):
        interact(client, openid)
    for openid in ("o-a", "o-b", "o-a"):
        call(client, CUSTOM, token, text(openid))
    everything = client.get("/_emulator/messages").get_json()["messages"]
    assert [m["id"] for m in everything] == [1, 2, 3]
    only_a = client.get("/_emulator/messages", query_string={"touser": "o-a"}).get_json()
    assert [m["id"] for m in only_a["messages"]] == [1, 3]
    later = client.get("/_emulator/messages", query_string={"since_id": 1}).get_json()
    assert [m["id"] for m in later["messages"]] == [2, 3]
    unfiltered = client.get("/_emulator/messages", query_string={"touser": ""}).get_json()
    assert [m["id"] for m in unfiltered["messages"]] == [1, 2, 3]


def test_reset_forgets_everything(client: FlaskClient) -> None:
    token = get_token(client)
    interact(client, "o1")
    call(client, CUSTOM, token, text("o1"))
    control(client, "reset")
    assert client.get("/_emulator/messages").get_json()["messages"] == []
    assert client.get("/_emulator/calls").get_json()["calls"] == []
    assert client.get("/_emulator/users/o1").status_code == 404
    assert call(client, CUSTOM, token, text("o1"))["errcode"] == 40001


def test_control_endpoints_reject_bad_input(client: FlaskClient) -> None:
    bad = client.post("/_emulator/login", data="{not json")
    assert bad.status_code == 400 and bad.get_json()["error"]
    control(client, "login", {"openid": 42}, status=400)
    control(client, "login", {"appid": "wxnosuchapp00000"}, status=400)
    control(client, "login", {"appid": OA_APPID}, status=400)
    control(client, "users/o1", {"unionid": 7}, status=400)
    control(client, "users/o1", {"vip": True}, status=400)
    control(client, "users/o1", {"blocked": "yes"}, status=400)
    control(client, "users/o1", {"last_interaction": "yesterday"}, status=400)
    control(client, "users/o1", {"subscriptions": {"T": -1}}, status=400)
    interact(client, "o-oa")
    control(client, "login", {"openid": "o-oa"}, status=400)  # belongs to the official account
    assert client.get("/_emulator/nothing").status_code == 404
    user = client.get("/_emulator/users/o-oa").get_json()
    assert user["appid"] == OA_APPID and user["subscribed"] is True


# ---- the callback side: envelopes and replies ------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_envelope_and_reply_round_trip(client: FlaskClient, mode: str) -> None:
    openid = "oResident0000000000000000001"
    envelope = control(client, "envelope", {
        "openid": openid, "msg_type": "text", "content": "养老金怎么领取?",
        "msg_id": 1234567890123456, "mode": mode})
    query, body = envelope["query"], envelope["body"]
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])
    assert query["openid"] == openid and envelope["interaction"] is True
    crypto = WeChatCrypto(TOKEN, AES_KEY, OA_APPID)
    outer = xmltodict.parse(body)["xml"]
    if mode == "plain":
        assert "encrypt_type" not in query and "Encrypt" not in outer
        message = outer
    else:
        assert query["encrypt_type"] == "aes"
        message = xmltodict.parse(crypto.decrypt_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]))["xml"]
        if mode == "safe":
            assert set(outer) == {"ToUserName", "Encrypt"}
        else:
            assert {k: v for k, v in outer.items() if k != "Encrypt"} == message
    assert message == {"ToUserName": GH_ID, "FromUserName": openid,
                       "CreateTime": query["timestamp"], "MsgType": "text",
                       "Content": "养老金怎么领取?", "MsgId": "1234567890123456"}
    reply = TextReply(source=GH_ID, target=openid, content="请带身份证到社保窗口办理。").render()
    if mode != "plain":
        reply = crypto.encrypt_message(reply, query["nonce"], query["timestamp"])
    opened = control(client, "open", {"body": reply, "query": query})
    assert opened["msg_type"] == "text" and opened["content"] == "请带身份证到社保窗口办理。"
    assert opened["to_user"] == openid and opened["encrypted"] is (mode != "plain")


def test_signatures_are_real(client: FlaskClient) -> None:
    query = control(client, "envelope", {"openid": "o1", "msg_type": "text", "content": "x",
                                         "mode": "safe"})["query"]
    with pytest.raises(InvalidSignatureException):
        check_signature("other-token", query["signature"], query["timestamp"], query["nonce"])
    body = control(client, "envelope", {"openid": "o1", "msg_type": "text", "content": "x",
                                        "mode": "safe"})["body"]
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto(TOKEN, AES_KEY, OA_APPID).decrypt_message(
            body, "0" * 40, query["timestamp"], query["nonce"])


def test_open_refuses_what_wechat_would_not_deliver(client: FlaskClient) -> None:
    query = control(client, "envelope", {"openid": "o1", "msg_type": "text", "content": "x",
                                         "mode": "safe"})["query"]
    plain = TextReply(source=GH_ID, target="o1", content="hi").render()
    other_app = WeChatCrypto(TOKEN, AES_KEY, "wxsomeoneelse000").encrypt_message(plain, "1", "2")
    assert "AppID" in control(client, "open", {"body": other_app, "query": query}, 400)["error"]
    tampered = WeChatCrypto(TOKEN, AES_KEY, OA_APPID).encrypt_message(plain, "1", "2").replace(
        "<Nonce><![CDATA[1]]>", "<Nonce><![CDATA[9]]>")
    assert "MsgSignature" in control(client, "open", {"body": tampered, "query": query},
                                     400)["error"]
    assert "safe mode" in control(client, "open", {"body": plain, "query": query}, 400)["error"]
    wrong_from = TextReply(source="gh_other", target="o1", content="hi").render()
    control(client, "open", {"body": wrong_from, "mode": "plain"}, status=400)
    wrong_to = TextReply(source=GH_ID, target="o2", content="hi").render()
    encrypted_wrong_to = WeChatCrypto(TOKEN, AES_KEY, OA_APPID).encrypt_message(wrong_to, "1", "2")
    control(client, "open", {"body": encrypted_wrong_to, "query": query}, status=400)
    encrypted = WeChatCrypto(TOKEN, AES_KEY, OA_APPID).encrypt_message(plain, "1", "2")
    control(client, "open", {"body": encrypted, "mode": "plain"}, status=400)
    control(client, "open", {"body": "<xml><broken>", "mode": "plain"}, status=400)
    control(client, "open", {"body": 5}, status=400)
    # "success" and an empty reply are always fine; compatible mode takes plain replies.
    assert control(client, "open", {"body": "success", "query": query}) == {"success": True}
    assert control(client, "open", {"body": "", "query": query}) == {"success": True}
    assert control(client, "open", {"body": plain, "mode": "compatible"})["content"] == "hi"


def test_media_and_news_replies(client: FlaskClient) -> None:
    token = get_token(client)
    media_id = upload(client, token)["media_id"]
    image = ImageReply(source=GH_ID, target="o1", media_id=media_id).render()
    assert control(client, "open", {"body": image, "mode": "plain"})["media_id"] == media_id
    unknown = ImageReply(source=GH_ID, target="o1", media_id="nosuch").render()
    control(client, "open", {"body": unknown, "mode": "plain"}, status=400)
    news = ArticlesReply(source=GH_ID, target="o1")
    news.add_article({"title": "就业补贴", "description": "d", "image": "https://p",
                      "url": "https://u"})
    opened = control(client, "open", {"body": news.render(), "mode": "plain"})
    assert opened["articles"] == [{"title": "就业补贴", "description": "d",
                                   "pic_url": "https://p", "url": "https://u"}]


def envelope_message(client: FlaskClient, **data: Any) -> tuple[dict[str, Any], bool]:
    built = control(client, "envelope", {"openid": "o-types", "mode": "plain", **data})
    return xmltodict.parse(built["body"])["xml"], built["interaction"]


def test_envelope_message_types(client: FlaskClient) -> None:
    voice, _ = envelope_message(client, msg_type="voice", recognition="我要查社保")
    assert voice["MsgType"] == "voice" and voice["Recognition"] == "我要查社保"
    assert voice["Format"] == "amr" and voice["MediaId"] and voice["MsgId"]
    image, _ = envelope_message(client, msg_type="image", media_id="m1")
    assert image["MediaId"] == "m1" and image["PicUrl"].startswith("http")
    video, _ = envelope_message(client, msg_type="video")
    assert video["MediaId"] and video["ThumbMediaId"]
    where, _ = envelope_message(client, msg_type="location",
                                location={"x": 31.2, "y": 121.5, "label": "人社局"})
    assert (where["Location_X"], where["Location_Y"], where["Scale"], where["Label"]) == (
        "31.2", "121.5", "15", "人社局")
    link, _ = envelope_message(client, msg_type="link",
                               link={"title": "t", "description": "d", "url": "https://u"})
    assert link["Url"] == "https://u"
    click, opened = envelope_message(client, msg_type="event", event="CLICK",
                                     event_key="MENU_POLICY")
    assert click["Event"] == "CLICK" and click["EventKey"] == "MENU_POLICY" and opened
    assert "MsgId" not in click
    view, opened = envelope_message(client, msg_type="event", event="VIEW",
                                    event_key="https://x")
    assert opened is False  # VIEW does not open the customer-service window
    subscribe, _ = envelope_message(client, msg_type="event", event="subscribe",
                                    event_key="qrscene_42", ticket="T")
    assert subscribe["Ticket"] == "T"


def test_envelope_validation(client: FlaskClient) -> None:
    control(client, "envelope", {"msg_type": "text", "content": "x"}, status=400)
    control(client, "envelope", {"openid": "o1", "msg_type": "fax"}, status=400)
    control(client, "envelope", {"openid": "o1", "msg_type": "text"}, status=400)
    control(client, "envelope", {"openid": "o1", "msg_type": "event"}, status=400)
    control(client, "envelope", {"openid": "o1", "msg_type": "location",
                                 "location": {"x": "north"}}, status=400)
    control(client, "envelope", {"openid": "o1", "msg_type": "text", "content": "x",
                                 "mode": "secret"}, status=400)
    control(client, "envelope", {"openid": "o1", "msg_type": "text", "content": "x",
                                 "msg_id": "abc"}, status=400)
    mini = mini_user(client)
    control(client, "envelope", {"openid": mini, "msg_type": "text", "content": "x"},
            status=400)
    # Nothing above touched the user.
    assert client.get("/_emulator/users/o1").status_code == 404


def test_cdata_terminator_in_content_survives(client: FlaskClient) -> None:
    body = control(client, "envelope", {"openid": "o1", "msg_type": "text",
                                        "content": "a]]>b<c>", "mode": "plain"})["body"]
    assert xmltodict.parse(body)["xml"]["Content"] == "a]]>b<c>"


# ---- a real process, driven by requests and wechatpy -----------------------------------


def documented_client_class() -> type:
    """Exec the recipe in emulator/__init__.py, so the documentation cannot go stale."""
    doc = emulator.__doc__ or ""
    block = doc.split("::\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line)
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent("\n".join(lines)), namespace)
    return namespace["BaseUrlWeChatClient"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    env = {**os.environ, "WECHAT_APPID": OA_APPID, "WECHAT_SECRET": OA_SECRET,
           "MINIAPP_APPID": MINI_APPID, "MINIAPP_SECRET": MINI_SECRET, "WECHAT_TOKEN": TOKEN,
           "WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_MESSAGE_MODE": "safe",
           "WECHAT_ORIGINAL_ID": GH_ID, "EMULATOR_TOKEN_TTL": "7200",
           "EMULATOR_RISKY_WORDS": "赌博:20006", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{base}/_emulator/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"emulator did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_session() -> Iterator[RedisStorage]:
    """wechatpy token storage in the shared Redis under a private prefix, removed after."""
    connection = redis.Redis(host="127.0.0.1", port=6379)
    prefix = f"test-emulator-{uuid.uuid4().hex}"
    try:
        yield RedisStorage(connection, prefix=prefix)
    finally:
        for key in connection.scan_iter(f"{prefix}:*"):
            connection.delete(key)


def test_wechatpy_against_the_running_emulator(server: tuple[str, Path],
                                               redis_session: RedisStorage) -> None:
    base, _ = server
    requests.post(f"{base}/_emulator/reset", timeout=5).raise_for_status()
    client_class = documented_client_class()
    official = client_class(OA_APPID, OA_SECRET, base, session=redis_session)
    openid = "oResident0000000000000000002"
    requests.post(f"{base}/_emulator/envelope", json={"openid": openid, "msg_type": "text",
                                                      "content": "你好"}, timeout=5)

    assert official.message.send_text(openid, "您好，这里是12333") == {"errcode": 0,
                                                                       "errmsg": "ok"}
    assert redis_session.get(f"{OA_APPID}_access_token")  # token kept in Redis
    # An injected 40001 makes wechatpy fetch a new token from the emulator and retry.
    requests.post(f"{base}/_emulator/faults", json={"path": CUSTOM, "errcode": 40001},
                  timeout=5).raise_for_status()
    assert official.message.send_text(openid, "第二条")["errcode"] == 0
    calls = requests.get(f"{base}/_emulator/calls", timeout=5).json()["calls"]
    assert [(c["path"], c["errcode"]) for c in calls[-3:]] == [
        (CUSTOM, 40001), ("/cgi-bin/token", 0), (CUSTOM, 0)]

    uploaded = official.media.upload("image", ("card.png", io.BytesIO(PNG), "image/png"))
    assert requests.get(f"{base}/_emulator/media/{uploaded['media_id']}",
                        timeout=5).content == PNG
    with pytest.raises(WeChatClientException) as refused:
        official.message.send_text("oNobody000000000000000000000", "x")
    assert refused.value.errcode == 40003

    mini = client_class(MINI_APPID, MINI_SECRET, base, session=redis_session)
    login = requests.post(f"{base}/_emulator/login", json={}, timeout=5).json()
    assert mini.wxa.code_to_session(login["code"])["openid"] == login["openid"]
    requests.post(f"{base}/_emulator/users/{login['openid']}", json={"accept": ["TPL"]},
                  timeout=5).raise_for_status()
    assert mini.wxa.send_subscribe_message(
        login["openid"], "TPL", {"thing1": {"value": "办件完成"}})["errcode"] == 0
    phone_code = requests.post(f"{base}/_emulator/phone-code", json={"phone": "13900000000"},
                               timeout=5).json()["code"]
    phone = mini.post(f"{base}{PHONE}", data={"code": phone_code})
    assert phone["phone_info"]["purePhoneNumber"] == "13900000000"
    check = mini.post(f"{base}{SEC_CHECK}", data={"version": 2, "openid": login["openid"],
                                                  "scene": 2, "content": "赌博"})
    assert check["result"]["suggest"] == "risky"
    messages = requests.get(f"{base}/_emulator/messages", timeout=5).json()["messages"]
    assert [(m["kind"], m["msgtype"]) for m in messages] == [
        ("custom", "text"), ("custom", "text"), ("subscribe", "subscribe")]


def test_concurrent_sends_respect_the_five_message_limit(server: tuple[str, Path]) -> None:
    base, _ = server
    requests.post(f"{base}/_emulator/reset", timeout=5).raise_for_status()
    token = requests.get(f"{base}/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": OA_APPID, "secret": OA_SECRET},
        timeout=5).json()["access_token"]
    requests.post(f"{base}/_emulator/envelope", json={"openid": "o-busy", "msg_type": "text",
                                                      "content": "x"}, timeout=5)

    def send(i: int) -> int:
        return requests.post(f"{base}{CUSTOM}", params={"access_token": token},
                             json=text("o-busy", f"{i}"), timeout=10).json()["errcode"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(send, range(24)))
    assert sorted(results) == [0] * 5 + [45047] * 19
    ids = [m["id"] for m in requests.get(f"{base}/_emulator/messages", timeout=5).json()[
        "messages"]]
    assert ids == [1, 2, 3, 4, 5]


def test_process_log_hides_credentials(server: tuple[str, Path]) -> None:
    base, log = server
    token = requests.get(f"{base}/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": OA_APPID, "secret": OA_SECRET},
        timeout=5).json()["access_token"]
    requests.post(f"{base}{CUSTOM}", params={"access_token": token}, json=text("o1"), timeout=5)
    written = log.read_text()
    assert "/cgi-bin/token" in written and "secret=***" in written
    assert OA_SECRET not in written and token not in written
    assert f"access_token={token[:6]}…" in written


# ---- face verification (人脸核身 2.0, issue 15) ----------------------------------------------

GET_VERIFY_ID = "/cityservice/face/identify/getverifyid"
QUERY_VERIFY = "/cityservice/face/identify/queryverifyinfo"
CERT = {"cert_type": "IDENTITY_CARD", "cert_name": "张三", "cert_no": "310101199801011234"}


def test_cert_hash_matches_wechats_documented_example() -> None:
    from emulator.state import face_cert_hash

    assert face_cert_hash(*CERT.values()) == (
        "3c241f7ff324977aeb91f173bb2a7b06569e6fd784d5573db34a636d8671108b")


def test_face_verification_round_trip(client: FlaskClient) -> None:
    from emulator.state import face_cert_hash

    openid, token = mini_user(client), get_token(client, MINI_APPID, MINI_SECRET)
    got = call(client, GET_VERIFY_ID, token, {"out_seq_no": "seq-00001", "cert_info": CERT,
                                              "openid": openid})
    assert got["errcode"] == 0 and got["expires_in"] == 3600 and len(got["verify_id"]) <= 256
    query = {"verify_id": got["verify_id"], "out_seq_no": "seq-00001",
             "cert_hash": face_cert_hash(*CERT.values()), "openid": openid}
    # Before the user went through wx.requestFacialVerify: no success.
    assert call(client, QUERY_VERIFY, token, query)["verify_ret"] != 10000
    control(client, "face", {"verify_id": got["verify_id"], "verify_ret": 10000})
    assert call(client, QUERY_VERIFY, token, query) == {"errcode": 0, "errmsg": "ok",
                                                         "verify_ret": 10000}
    # Tampered identity data or another user: an errcode, never a verify_ret.
    forged = call(client, QUERY_VERIFY, token, {**query, "cert_hash": "0" * 64})
    assert forged["errcode"] == 47003 and "verify_ret" not in forged
    assert call(client, QUERY_VERIFY, token, {**query, "openid": mini_user(client)})[
        "errcode"] == 40003
    # The call log never holds the name or the ID number.
    calls = client.get("/_emulator/calls", query_string={"path": GET_VERIFY_ID}).get_json()
    assert "310101199801011234" not in json.dumps(calls, ensure_ascii=False)
    assert "张三" not in json.dumps(calls, ensure_ascii=False)


def test_face_verification_errors(client: FlaskClient) -> None:
    openid, token = mini_user(client), get_token(client, MINI_APPID, MINI_SECRET)
    body = {"out_seq_no": "seq-00002", "cert_info": CERT, "openid": openid}
    assert call(client, GET_VERIFY_ID, token, {**body, "out_seq_no": "x"})["errcode"] == 47003
    assert call(client, GET_VERIFY_ID, token, {**body, "cert_info": {}})["errcode"] == 47001
    assert call(client, GET_VERIFY_ID, token, {**body, "openid": "o-nobody"})["errcode"] == 40003
    assert call(client, GET_VERIFY_ID, token, body)["errcode"] == 0
    assert call(client, GET_VERIFY_ID, token, body)["errcode"] == 47003  # out_seq_no reused
    # Mini-program only: the official account's token is refused.
    assert call(client, GET_VERIFY_ID, get_token(client), {**body, "out_seq_no": "seq-3"})[
        "errcode"] == 48001
