"""WeChat's web authorisation page (网页授权, open.weixin.qq.com/connect/oauth2/authorize).

In WeChat the in-app browser knows who the user is; here the emulator remembers it in a
cookie of its own, set when the chat simulator opens a link "as" a user
(`GET /_emulator/as?openid=...&next=...`). With `scope=snsapi_base` WeChat asks nothing and
redirects straight back to `redirect_uri` with `code` and `state`; the project's server then
trades the code for the openid at `/sns/oauth2/access_token` (emulator/api.py).
Without a remembered user the page asks for an openid (the emulator's stand-in for "signed
in to WeChat").
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, request

from emulator.api import current_state

bp = Blueprint("wechat_web_auth", __name__)

COOKIE = "emulator_openid"
SCOPES = ("snsapi_base", "snsapi_userinfo")


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><main><h1>{escape(title)}</h1>{body}</main></html>")
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


@bp.get("/connect/oauth2/authorize")
def authorize() -> Response:
    state = current_state()
    args = request.args
    if args.get("appid") != state.config.wechat_appid:
        return _page("错误", "<p>appid 参数错误（10002）</p>", 400)
    redirect_uri = args.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https"):
        return _page("错误", "<p>redirect_uri 参数错误（10003）</p>", 400)
    if args.get("response_type") != "code" or args.get("scope") not in SCOPES:
        return _page("错误", "<p>scope 参数错误或没有 scope 权限（10005）</p>", 400)
    openid = args.get("emulator_openid") or request.cookies.get(COOKIE)
    if not openid:
        hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                         for k, v in args.items())
        return _page("微信模拟：选择用户", f'<form method="get">{hidden}'
                     '<label>openid <input name="emulator_openid" required></label>'
                     '<button type="submit">以该用户身份继续</button></form>')
    code = state.oauth_code(openid)["code"]
    params = {"code": code, "state": args.get("state", "")}
    response = redirect(_with_query(redirect_uri, params))
    response.set_cookie(COOKIE, openid, httponly=True, samesite="Lax")
    return response


@bp.get("/_emulator/as")
def open_as() -> Response:
    """The simulator opens a link inside "WeChat" as this user."""
    openid, target = request.args.get("openid", ""), request.args.get("next", "")
    if not openid or urlsplit(target).scheme not in ("http", "https"):
        return _page("错误", "<p>openid and an http(s) next URL are required</p>", 400)
    response = redirect(target)
    response.set_cookie(COOKIE, openid, httponly=True, samesite="Lax")
    return response
