"""Helpers for API tests: an app wired to the WeChat emulator, real sign-ins, staff accounts.

The ``api_app`` / ``api_client`` fixtures (tests/conftest.py) use ``make_api_app``; citizens sign
in through the emulator exactly as the mini-program does (``/_emulator/login`` stands for
``wx.login()``), staff through ``/api/v1/staff/login`` with password and TOTP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pyotp
import requests
from flask.testing import FlaskClient

from huimin.identity import accounts
from huimin.privacy.pii import cipher_from_settings
from webapp.extensions import services

STAFF_PASSWORD = "Correct-Horse-42"
# High enough that ordinary tests never meet a limit; rate-limit tests lower it.
TEST_LIMIT = "1000/minute"


def make_api_app(database_url: str, redis_url: str, emulator_url: str, **overrides: Any):
    from webapp import create_app

    settings = {
        "database_url": database_url,
        "redis_url": redis_url,
        "wechat_api_base": emulator_url,
        "rasa_url": "http://127.0.0.1:9",
        "action_server_url": "http://127.0.0.1:9",
        "api_rate_limit_login": TEST_LIMIT,
        "api_rate_limit_expensive": TEST_LIMIT,
        **overrides,
    }
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def production_overrides(**changes: Any) -> dict[str, Any]:
    """Settings that pass the production start-up checks (fresh random secrets, no simulator,
    WeChat's real API base); a test changes one of them to see the start refused."""
    import base64
    import os
    import secrets

    from huimin.privacy.pii import generate_hash_key, generate_key_entry

    return {
        "env": "production",
        "secret_key": secrets.token_urlsafe(32),
        "api_token_key": secrets.token_urlsafe(32),
        "qr_link_key": secrets.token_urlsafe(32),
        "pseudonym_key": secrets.token_hex(32),
        "rasa_token": secrets.token_urlsafe(32),
        "wechat_token": "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
                                               "23456789") for _ in range(32)),
        "wechat_aes_key": base64.b64encode(os.urandom(32)).decode().rstrip("="),
        "pii_keys": generate_key_entry("p1"),
        "pii_hash_key": generate_hash_key(),
        "simulator_enabled": False,
        "wechat_api_base": "https://api.weixin.qq.com",
        **changes,
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wx_login_code(emulator_url: str, openid: str | None = None) -> dict:
    """What ``wx.login()`` gives the mini-program: ``{code, openid, ...}``."""
    resp = requests.post(f"{emulator_url}/_emulator/login",
                         json={"openid": openid} if openid else {}, timeout=5)
    resp.raise_for_status()
    return resp.json()


def phone_code(emulator_url: str, phone: str, openid: str | None = None) -> str:
    body: dict[str, Any] = {"phone": phone}
    if openid:
        body["openid"] = openid
    resp = requests.post(f"{emulator_url}/_emulator/phone-code", json=body, timeout=5)
    resp.raise_for_status()
    return resp.json()["code"]


@dataclass
class Citizen:
    openid: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def citizen_login(client: FlaskClient, emulator_url: str, openid: str | None = None) -> Citizen:
    issued = wx_login_code(emulator_url, openid)
    resp = client.post("/api/v1/auth/login", json={"code": issued["code"]})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    return Citizen(issued["openid"], body["access_token"], body["refresh_token"])


def face_verify(client: FlaskClient, headers: dict[str, str], name: str, id_number: str,
                verify_ret: int = 10000) -> str | None:
    """The mini-program's face verification: our server starts it (getverifyid), the user
    shows their face in wx.requestFacialVerify (the emulator's control call; 10000: the
    ID's holder, 10004: someone else). The verify_id, or None if the start was refused."""
    resp = client.post("/api/v1/me/real-name/face", headers=headers,
                       json={"name": name, "id_number": id_number})
    if resp.status_code != 200:
        return None
    verify_id = resp.get_json()["verify_id"]
    with client.application.app_context():
        emulator_url = services().settings.wechat_api_base
    requests.post(f"{emulator_url}/_emulator/face",
                  json={"verify_id": verify_id, "verify_ret": verify_ret},
                  timeout=5).raise_for_status()
    return verify_id


def bind_real_name(client: FlaskClient, headers: dict[str, str], name: str, id_number: str,
                   agree: bool = True, verify_ret: int = 10000):
    """Real-name binding as the mini-program does it: face verification, then the binding."""
    body: dict[str, Any] = {"name": name, "id_number": id_number, "consent": agree}
    verify_id = face_verify(client, headers, name, id_number, verify_ret)
    if verify_id:
        body["verify_id"] = verify_id
    return client.post("/api/v1/me/real-name", headers=headers, json=body)


@dataclass
class Staff:
    id: int
    username: str
    password: str
    totp_secret: str | None
    last_counter: int = -1

    def totp_now(self) -> str:
        """A code the server has not seen: used codes are refused (replay protection), so a
        second sign-in within 30 seconds takes the next time step's code (still accepted)."""
        assert self.totp_secret
        totp = pyotp.TOTP(self.totp_secret)
        counter = max(totp.timecode(time.time()), self.last_counter + 1)
        self.last_counter = counter
        return totp.generate_otp(counter)


def create_staff(app, username: str, roles: list[str], grids: list[str] | None = None,
                 password: str = STAFF_PASSWORD) -> Staff:
    with app.app_context():
        svc = services()
        with svc.db.session() as session:
            created = accounts.create_staff(
                session, username, password, roles, cipher_from_settings(svc.settings),
                grids=grids or [],
            )
            staff_id = created.account.id
    secret = pyotp.parse_uri(created.totp_uri).secret if created.totp_uri else None
    return Staff(staff_id, username, password, secret)


def staff_login(client: FlaskClient, staff: Staff) -> str:
    body: dict[str, Any] = {"username": staff.username, "password": staff.password}
    if staff.totp_secret:
        body["totp"] = staff.totp_now()
    resp = client.post("/api/v1/staff/login", json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]
