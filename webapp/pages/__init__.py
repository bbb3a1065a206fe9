"""Pages people use on their phones: the citizens' own pages inside WeChat (/my/) and the
grid workers' workbench (/grid/).

Both are small vanilla-JS pages over the existing API (/api/v1/me/..., /api/v1/grid/...):
every rule stays in the domain package and the API; these views only serve the pages and,
for citizens, sign them in through WeChat web authorisation (snsapi_base), since a page
opened from the official account has no wx.login.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import requests
from apiflask import APIBlueprint
from flask import redirect, render_template, request, send_from_directory, session, url_for
from wechatpy.exceptions import WeChatException

from huimin.identity.tokens import CITIZEN
from huimin.identity.web_sign_in import citizen_for_official_openid
from huimin.privacy import audit
from huimin.wechat.api import WebAuth, WeChatError
from miniapp_api.context import api_services, client_ip
from webapp.extensions import services

log = logging.getLogger(__name__)

MY_PAGES = {"benefits": "我的补贴", "code": "我的就业码", "assist": "网格员帮办",
            "data": "我的数据"}
GRID_PAGES = ("worklist", "resident")
_STATE_KEY = "huimin_wechat_oauth"

# WeChat's code-exchange refusals, in words a citizen understands.
OAUTH_ERRORS = {
    40029: "登录凭证无效或已过期，请回到公众号重新打开",
    40163: "这个登录链接已经用过了，请回到公众号重新打开",
}
WECHAT_DOWN = "微信暂时连不上，请稍后点“重新登录”再试"

bp = APIBlueprint("pages", __name__, enable_openapi=False, template_folder="templates",
                  static_folder="static", static_url_path="/pages/static")


def _safe_next(value: str | None) -> str:
    """Only our own /my/ pages: never an open redirect."""
    if value and value.startswith("/my/") and not urlsplit(value).netloc and "//" not in value:
        return value
    return url_for("pages.my_page", page="benefits")


@bp.get("/my/")
@bp.get("/my/<page>")
def my_page(page: str = "benefits"):
    """The shell of a citizen page; the page signs in and fills itself from the API."""
    if page not in MY_PAGES:
        return render_template("pages/error.html", message="没有这个页面"), 404
    return render_template("pages/my.html", page=page, pages=MY_PAGES)


@bp.get("/my/sign-in")
def my_sign_in():
    """Off to WeChat's authorize page; it comes back to /my/oauth with a one-time code."""
    state = secrets.token_urlsafe(16)
    session[_STATE_KEY] = {"state": state, "next": _safe_next(request.args.get("next"))}
    settings = services().settings
    back = settings.public_base_url.rstrip("/") + url_for("pages.my_oauth")
    return redirect(WebAuth(settings, back, state).authorize_url)


def _refused(message: str, status: int = 400, next_page: str | None = None):
    """A page in words with a way back in (to the page the citizen was opening)."""
    retry = url_for("pages.my_sign_in", next=next_page) if next_page else url_for(
        "pages.my_sign_in")
    return render_template("pages/error.html", message=message, retry=retry), status


@bp.get("/my/oauth")
def my_oauth():
    """WeChat's redirect: check the state, trade the code for the openid, issue tokens.

    WeChat being unreachable (or answering garbage) is not the citizen's fault and not a
    server error of ours to show: a page in words with a retry, status 200, never a 5xx."""
    expected = session.pop(_STATE_KEY, None)
    code, state = request.args.get("code", ""), request.args.get("state", "")
    if not expected or not secrets.compare_digest(str(expected.get("state", "")), state):
        return _refused("登录链接已失效，请回到公众号重新打开")
    next_page = _safe_next(expected.get("next"))
    if not code:
        return _refused("您没有同意授权，请回到公众号重新打开", next_page=next_page)
    svc = services()
    try:
        openid = WebAuth(svc.settings, "", "").openid_for(code)
    except WeChatError as exc:
        log.info("web authorisation refused: errcode %s", exc.errcode)
        if exc.errcode in OAUTH_ERRORS:  # the code itself is bad: the citizen starts again
            return _refused(OAUTH_ERRORS[exc.errcode], next_page=next_page)
        return _refused(WECHAT_DOWN, 200, next_page)  # WeChat busy or broken
    except (requests.RequestException, WeChatException, ValueError):
        log.warning("web authorisation failed: WeChat unreachable or answered garbage")
        return _refused(WECHAT_DOWN, 200, next_page)
    with svc.db.session() as s:
        account = citizen_for_official_openid(s, openid)
        audit.record(s, f"citizen:{account.id}", "citizen.login", f"citizen:{account.id}",
                     audit.OK, client_ip(), {"channel": "web"})
        account_id = account.id
    tokens = api_services().tokens.issue(CITIZEN, account_id).as_response()
    response = render_template("pages/signed_in.html", tokens=tokens, next=next_page)
    return response, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("/grid/")
@bp.get("/grid/residents/<int:resident_id>")
def grid_page(resident_id: int | None = None):
    """The workbench shell (sign-in, worklist, resident); data comes from /api/v1/grid/.
    One shell for every workbench page (the page reads the resident from its address), so
    the service worker can open any of them from its cache without signal."""
    return render_template("pages/grid.html")


@bp.get("/grid/sw.js")
def grid_service_worker():
    """Served from /grid/ so its scope covers the workbench; never cached by HTTP, so a new
    release reaches phones on their next visit."""
    response = send_from_directory(Path(bp.static_folder or ""), "grid-sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response
