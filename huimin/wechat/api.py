"""Outbound calls to WeChat's server API (the emulator in development and tests).

The access token is shared by every process through Redis: one process refreshes it at a time,
under a lock, because each refresh invalidates the previous token. A call answered "token
invalid/expired" (40001, 40014, 42001) refreshes once and retries once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import redis
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from huimin.platform.settings import Settings

TOKEN_ERRORS = {40001, 40014, 42001}
REFRESH_MARGIN = 300  # refresh five minutes before WeChat's expiry


class WeChatError(Exception):
    """WeChat refused a call; `errcode` is WeChat's own code (e.g. 45015, 43101)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenStore:
    def __init__(self, conn: redis.Redis, appid: str) -> None:
        self.conn = conn
        self.key = f"huimin:wechat:token:{appid}"
        self.lock_key = f"huimin:wechat:token-lock:{appid}"

    def _read(self) -> str | None:
        raw = self.conn.get(self.key)
        if not raw:
            return None
        data = json.loads(raw)
        return data["token"] if data["expires_at"] - time.time() > REFRESH_MARGIN else None

    def get(self, fetch) -> str:
        try:
            token = self._read()
            if token:
                return token
            with self.conn.lock(self.lock_key, timeout=15, blocking_timeout=15):
                token = self._read()  # another process may have refreshed while we waited
                if token:
                    return token
                token, expires_in = fetch()
                payload = {"token": token, "expires_at": time.time() + expires_in}
                self.conn.set(self.key, json.dumps(payload), ex=int(expires_in))
                return token
        except redis.RedisError:
            token, _ = fetch()  # Redis down: work, at the cost of one fetch per call
            return token

    def invalidate(self, token: str) -> None:
        """Forget `token` only if it is still the stored one (never a newer token)."""
        try:
            raw = self.conn.get(self.key)
            if raw and json.loads(raw)["token"] == token:
                self.conn.delete(self.key)
        except redis.RedisError:
            pass


CERT_TYPE_ID_CARD = "IDENTITY_CARD"
FACE_VERIFIED = 10000  # queryverifyinfo's verify_ret when the face matched the ID's holder


def face_cert_hash(name: str, id_number: str, cert_type: str = CERT_TYPE_ID_CARD) -> str:
    """WeChat's ``cert_hash`` over the identity sent to getverifyid: standard base64 of each
    field, joined as ``cert_type=..&cert_name=..&cert_no=..``, SHA-256, lower-case hex."""
    joined = "&".join(f"{key}={base64.b64encode(value.encode()).decode()}" for key, value in (
        ("cert_type", cert_type), ("cert_name", name), ("cert_no", id_number)))
    return hashlib.sha256(joined.encode()).hexdigest()


class _Client(WeChatClient):
    """wechatpy's client pointed at `api_base`, its token taken from the shared TokenStore."""

    def __init__(self, appid: str, secret: str, api_base: str, tokens: TokenStore) -> None:
        super().__init__(appid, secret, timeout=5, auto_retry=False)
        self.api_base = api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{self.api_base}/"
        self.tokens = tokens

    def fetch_access_token(self) -> dict:
        return self._fetch_access_token(
            url=f"{self.api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid,
                    "secret": self.secret},
        )

    def _fetch(self) -> tuple[str, int]:
        result = self.fetch_access_token()
        return result["access_token"], int(result.get("expires_in", 7200))

    @property
    def access_token(self) -> str:
        return self.tokens.get(self._fetch)


class WeChatApi:
    def __init__(self, settings: Settings, conn: redis.Redis, *, miniapp: bool = False) -> None:
        appid = settings.miniapp_appid if miniapp else settings.wechat_appid
        secret = settings.miniapp_secret if miniapp else settings.wechat_secret
        self.tokens = TokenStore(conn, appid)
        self.client = _Client(appid, secret, settings.wechat_api_base, self.tokens)

    def call(self, method: str, url: str, **kwargs: Any) -> dict:
        for attempt in (1, 2):
            try:
                token = self.client.access_token
                params = {**kwargs.pop("params", {}), "access_token": token}
                return self.client._request(method, url, params=params, **kwargs)
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    self.tokens.invalidate(token)
                    continue
                raise WeChatError(exc.errcode, str(exc.errmsg)) from exc
        raise AssertionError("unreachable")

    def send_text(self, openid: str, text: str) -> dict:
        return self.call("post", "message/custom/send", data={
            "touser": openid, "msgtype": "text", "text": {"content": text}})

    def send_image(self, openid: str, media_id: str) -> dict:
        return self.call("post", "message/custom/send", data={
            "touser": openid, "msgtype": "image", "image": {"media_id": media_id}})

    def upload_image(self, name: str, content: bytes) -> str:
        result = self.call("post", "media/upload", params={"type": "image"},
                           files={"media": (name, content, "image/png")})
        return result["media_id"]

    def send_subscribe(self, openid: str, template_id: str, data: dict, page: str = "") -> dict:
        return self.call("post", f"{self.client.api_base}/cgi-bin/message/subscribe/send",
                         data={"touser": openid, "template_id": template_id, "page": page,
                               "data": data})

    def phone_number(self, code: str) -> dict:
        return self.call("post", f"{self.client.api_base}/wxa/business/getuserphonenumber",
                         data={"code": code})["phone_info"]

    def face_verify_id(self, openid: str, out_seq_no: str, name: str, id_number: str) -> dict:
        """Face verification 2.0, step 1: ``{verify_id, expires_in}`` for the mini-program's
        wx.requestFacialVerify (the name and ID number go to WeChat, never to a log)."""
        return self.call("post", f"{self.client.api_base}/cityservice/face/identify/getverifyid",
                         data={"out_seq_no": out_seq_no, "openid": openid, "cert_info": {
                             "cert_type": CERT_TYPE_ID_CARD, "cert_name": name,
                             "cert_no": id_number}})

    def face_verify_result(self, verify_id: str, out_seq_no: str, cert_hash: str,
                           openid: str) -> int:
        """Face verification 2.0, step 3: ``verify_ret`` (``FACE_VERIFIED`` = the ID's holder
        showed their face). Tampered data comes back as an errcode (WeChatError)."""
        return int(self.call(
            "post", f"{self.client.api_base}/cityservice/face/identify/queryverifyinfo",
            data={"verify_id": verify_id, "out_seq_no": out_seq_no, "cert_hash": cert_hash,
                  "openid": openid})["verify_ret"])

    def jscode2session(self, code: str) -> dict:
        """Mini-program sign-in: no access token, appid+secret instead."""
        try:
            return self.client.wxa.code_to_session(code)
        except WeChatClientException as exc:
            raise WeChatError(exc.errcode, str(exc.errmsg)) from exc


class WebAuth(WeChatOAuth):
    """Official-account web authorisation (网页授权) with wechatpy, pointed at our bases:
    the authorize page lives on ``oauth_base`` (open.weixin.qq.com), the code exchange on
    ``api_base`` (api.weixin.qq.com); both are the emulator in development."""

    def __init__(self, settings: Settings, redirect_uri: str, state: str) -> None:
        super().__init__(settings.wechat_appid, settings.wechat_secret, redirect_uri,
                         scope="snsapi_base", state=state)
        self.API_BASE_URL = settings.wechat_api_base.rstrip("/") + "/"
        self.OAUTH_BASE_URL = settings.wechat_oauth_base.rstrip("/") + "/connect/"

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> dict:
        kwargs.setdefault("timeout", 5)  # wechatpy's OAuth client sets none
        return super()._request(method, url_or_endpoint, **kwargs)

    def openid_for(self, code: str) -> str:
        """Trade the one-time code for the openid (40029 invalid, 40163 used: WeChatError)."""
        try:
            result = self.fetch_access_token(code)
        except WeChatOAuthException as exc:
            raise WeChatError(exc.errcode, str(exc.errmsg)) from exc
        openid = result.get("openid")
        if not openid:
            raise WeChatError(None, "no openid in the web authorisation answer")
        return str(openid)
