"""Local emulator of the WeChat server API: the project's only stand-in for WeChat.

Run: `python -m emulator --host 127.0.0.1 --port 8081`; tests: `create_app(config)`.
Settings: WECHAT_APPID/SECRET, MINIAPP_APPID/SECRET, WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY,
WECHAT_MESSAGE_MODE (defaults as in huimin/platform/settings.py), plus WECHAT_ORIGINAL_ID (gh_ id),
EMULATOR_TOKEN_TTL and EMULATOR_RISKY_WORDS ("word:label,...").
Control endpoints live under /_emulator/ (see emulator/control.py).

Pointing wechatpy 1.8.18 at it. Setting `API_BASE_URL` alone is NOT enough: wechatpy
hard-codes https://api.weixin.qq.com/cgi-bin/token in `fetch_access_token`, and `client.wxa`
carries its own `API_BASE_URL`. Subclass once and pass the base URL (Settings.wechat_api_base;
https://api.weixin.qq.com in production) — tests exec this very block::

    from wechatpy import WeChatClient

    class BaseUrlWeChatClient(WeChatClient):
        def __init__(self, appid, secret, api_base, session=None, timeout=None):
            super().__init__(appid, secret, session=session, timeout=timeout)
            self.api_base = api_base.rstrip("/")
            self.API_BASE_URL = f"{self.api_base}/cgi-bin/"  # message, media, menu ...
            self.wxa.API_BASE_URL = f"{self.api_base}/"  # wxa.*: jscode2session, subscribe
        def fetch_access_token(self):
            return self._fetch_access_token(
                url=f"{self.api_base}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid,
                        "secret": self.secret},
            )

    # client = BaseUrlWeChatClient(appid, secret, api_base,
    #                              session=RedisStorage(redis, prefix="wechatpy"))

APIs wechatpy lacks (getuserphonenumber, msg_sec_check v2, stable_token) go through
`client.post(f"{api_base}/wxa/business/getuserphonenumber", data={"code": code})`: an
absolute URL is used as is and the access_token is still appended.
Like WeChat, each /cgi-bin/token call revokes the app's previous token (WeChat keeps the
old one 5 more minutes; the emulator does not, to expose processes fetching their own).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from emulator.api import bp as api_bp
from emulator.config import EmulatorConfig
from emulator.control import bp as control_bp
from emulator.state import EmulatorState
from emulator.web_auth import bp as web_auth_bp

__all__ = ["create_app"]

MAX_UPLOAD_BYTES = 16 << 20  # above WeChat's largest temporary media (10 MB)


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the emulator; `config` overrides env settings (see `EmulatorConfig` fields)."""
    settings = EmulatorConfig.load(config)
    app = Flask("emulator")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["wechat_emulator"] = EmulatorState(settings)
    app.register_blueprint(web_auth_bp)  # before control's /_emulator/<path> catch-all
    app.register_blueprint(control_bp)
    app.register_blueprint(api_bp)
    return app
