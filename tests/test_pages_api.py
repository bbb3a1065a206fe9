"""What the /my/ and /grid/ pages rely on, in process against the real emulator, Redis and
SQLite: WeChat web authorisation (snsapi_base) with WeChat's shapes and error codes, the same
citizen as in the chat and the mini-program, visit notes sent twice stored once (the
Idempotency-Key), withdrawal in person, the worklist's follow-ups, expiring consents and
search within my grids, and links from pushed messages to the pages."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from huimin.benefits.push import Message
from huimin.grid.models import GridVisit
from huimin.identity.models import CitizenAccount
from huimin.platform.db import utcnow
from huimin.platform.settings import BenefitSettings
from huimin.privacy.models import Consent
from huimin.wechat.menu import menu
from scripts.stack import free_port
from tests.grid_fixtures import give_consent
from tests.test_grid_api import ID_NUMBER, OA_OPENID, World, error_code
from webapp.extensions import services

PUBLIC = "http://pages.test"
ID_TAIL = ID_NUMBER[-4:]


@pytest.fixture
def world(emulator, sqlite_url, redis_url, redis_conn) -> World:
    from tests.api_fixtures import make_api_app

    app = make_api_app(sqlite_url, redis_url, emulator, wechat_oauth_base=emulator,
                       public_base_url=PUBLIC)
    return World(app, app.test_client(), emulator)


def oauth_code(emulator: str, openid: str) -> str:
    resp = requests.post(f"{emulator}/_emulator/oauth-code", json={"openid": openid}, timeout=5)
    resp.raise_for_status()
    return resp.json()["code"]


def sign_in_through_wechat(world: World | SimpleNamespace, openid: str,
                           next_path: str = "/my/assist"):
    """/my/sign-in → WeChat's authorize page (the emulator, as this user) → /my/oauth."""
    client = world.client
    resp = client.get("/my/sign-in", query_string={"next": next_path})
    assert resp.status_code == 302
    authorize = resp.headers["Location"]
    assert "/connect/oauth2/authorize?" in authorize and "scope=snsapi_base" in authorize
    back = requests.get(authorize, params={"emulator_openid": openid}, allow_redirects=False,
                        timeout=5)
    assert back.status_code == 302
    target = urlsplit(back.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == PUBLIC and target.path == "/my/oauth"
    return client.get(f"{target.path}?{target.query}"), parse_qs(target.query)


def tokens_in(page: str) -> dict:
    match = re.search(r'<script id="tokens" type="application/json">(.*?)</script>', page, re.S)
    assert match, page
    return json.loads(match.group(1))


def test_the_emulator_trades_a_code_once_with_wechats_shapes_and_errors(emulator):
    base = f"{emulator}/sns/oauth2/access_token"
    params = {"appid": "wx0000000000demo", "secret": "demo-secret",
              "grant_type": "authorization_code"}
    code = oauth_code(emulator, "o-web-1")
    first = requests.get(base, params={**params, "code": code}, timeout=5).json()
    assert first["openid"] == "o-web-1" and first["scope"] == "snsapi_base"
    assert first["expires_in"] == 7200 and first["access_token"] and first["refresh_token"]
    assert "unionid" not in first  # snsapi_base: WeChat gives the openid only
    again = requests.get(base, params={**params, "code": code}, timeout=5).json()
    assert again["errcode"] == 40163 and again["errmsg"].startswith("code been used")
    bad = requests.get(base, params={**params, "code": "made-up"}, timeout=5).json()
    assert bad["errcode"] == 40029
    wrong = requests.get(base, params={**params, "secret": "nope", "code": oauth_code(
        emulator, "o-web-1")}, timeout=5).json()
    assert wrong["errcode"] == 40125
    mini = requests.get(base, params={**params, "appid": "wx0000000000mini",
                                      "code": code}, timeout=5).json()
    assert mini["errcode"] == 40013


def test_web_sign_in_is_the_same_citizen_as_chat_and_mini_program(world):
    resp, _ = sign_in_through_wechat(world, OA_OPENID)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    tokens = tokens_in(resp.get_data(as_text=True))
    assert '"/my/assist"' in resp.get_data(as_text=True)
    me = world.client.get("/api/v1/me", headers={"Authorization": "Bearer "
                                                  + tokens["access_token"]}).get_json()
    mini = world.me("GET", "").get_json()
    assert me["account_id"] == mini["account_id"] and me["name"] == "王**"
    # Signing in again finds the same account by the official-account openid.
    again, _ = sign_in_through_wechat(world, OA_OPENID)
    with world.app.app_context(), services().db.session() as s:
        accounts = s.scalars(select(CitizenAccount)).all()
    assert len(accounts) == 1 and accounts[0].oa_openid == OA_OPENID
    assert tokens_in(again.get_data(as_text=True))["access_token"] != tokens["access_token"]


def test_a_stranger_gets_an_account_of_their_own(world):
    resp, _ = sign_in_through_wechat(world, "o-stranger")
    tokens = tokens_in(resp.get_data(as_text=True))
    me = world.client.get("/api/v1/me", headers={"Authorization": "Bearer "
                                                  + tokens["access_token"]}).get_json()
    assert me["real_name_verified"] is False and me["account_id"] != \
        world.me("GET", "").get_json()["account_id"]


def test_bad_reused_or_forged_codes_are_refused(world):
    client = world.client
    resp, query = sign_in_through_wechat(world, OA_OPENID)
    assert resp.status_code == 200
    # The same redirect again: the state was used up with the first.
    replay = client.get(f"/my/oauth?code={query['code'][0]}&state={query['state'][0]}")
    assert replay.status_code == 400 and "登录链接已失效" in replay.get_data(as_text=True)
    # A fresh state but a code WeChat already traded: 40163.
    client.get("/my/sign-in")
    with client.session_transaction() as session:
        state = session["huimin_wechat_oauth"]["state"]
    reused = client.get(f"/my/oauth?code={query['code'][0]}&state={state}")
    assert reused.status_code == 400 and "已经用过" in reused.get_data(as_text=True)
    client.get("/my/sign-in")
    with client.session_transaction() as session:
        state = session["huimin_wechat_oauth"]["state"]
    made_up = client.get(f"/my/oauth?code=not-a-code&state={state}")
    assert made_up.status_code == 400 and "凭证无效" in made_up.get_data(as_text=True)
    assert "access_token" not in made_up.get_data(as_text=True)
    # A code without the state this browser was given (another site's link): refused.
    forged = client.get(f"/my/oauth?code={oauth_code(world.emulator, OA_OPENID)}&state=x")
    assert forged.status_code == 400


def test_sign_in_only_returns_to_our_pages(world):
    resp = world.client.get("/my/sign-in", query_string={"next": "https://evil.example/"})
    assert resp.status_code == 302
    with world.client.session_transaction() as session:
        assert session["huimin_wechat_oauth"]["next"] == "/my/benefits"


def test_pages_are_served(world):
    for path in ("/my/", "/my/benefits", "/my/code", "/my/assist", "/my/data", "/grid/",
                 "/grid/residents/1"):
        resp = world.client.get(path)
        assert resp.status_code == 200, path
        assert "pages.css" in resp.get_data(as_text=True)
    assert world.client.get("/my/nothing").status_code == 404
    # The workbench's service worker, from /grid/ so that its scope covers the workbench.
    worker = world.client.get("/grid/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert '"/grid/"' in worker.get_data(as_text=True)


def test_a_visit_note_sent_twice_is_stored_once(world):
    with world.app.app_context():
        give_consent(services().db, world.resident_id)
    body = {"outcome": "met", "note": "身体不错", "next_visit_on": date.today().isoformat()}
    key = {"Idempotency-Key": "phone-7f3a"}
    first = world.grid("POST", "/visits", json=body, headers={**world.worker_headers, **key})
    second = world.grid("POST", "/visits", json=body, headers={**world.worker_headers, **key})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert first.get_json()["next_visit_on"] == date.today().isoformat()
    other = world.grid("POST", "/visits", json=body, headers=world.worker_headers)
    assert other.get_json()["id"] != first.get_json()["id"]
    with world.app.app_context(), services().db.session() as s:
        assert len(s.scalars(select(GridVisit)).all()) == 2
    history = world.me("GET", "/history").get_json()["items"]
    assert [h["text"] for h in history].count("上门走访：见到本人") == 2
    # A follow-up due today puts her on the worklist, with the reason in words.
    items = world.client.get("/api/v1/grid/worklist", headers=world.worker_headers) \
        .get_json()["items"]
    mine = next(i for i in items if i["resident_id"] == world.resident_id)
    assert "约好的回访到期了" in mine["reason_labels"]
    far = world.grid("POST", "/visits", headers=world.worker_headers, json={
        "outcome": "met", "next_visit_on": (date.today() + timedelta(days=400)).isoformat()})
    assert far.status_code == 422


def test_withdrawal_in_person_and_search_within_my_grids(world):
    with world.app.app_context():
        give_consent(services().db, world.resident_id, days=3)
    worklist = world.client.get("/api/v1/grid/worklist", headers=world.worker_headers)
    mine = next(i for i in worklist.get_json()["items"] if i["resident_id"] == world.resident_id)
    assert "授权快到期了" in mine["reason_labels"]
    found = world.client.get("/api/v1/grid/worklist?q=秀英", headers=world.worker_headers)
    assert [i["resident_id"] for i in found.get_json()["items"]] == [world.resident_id]
    tail = world.client.get(f"/api/v1/grid/worklist?q={ID_TAIL}", headers=world.worker_headers)
    assert [i["resident_id"] for i in tail.get_json()["items"]] == [world.resident_id]
    nobody = world.client.get("/api/v1/grid/worklist?q=秀英", headers=world.outsider_headers)
    assert nobody.get_json()["items"] == []
    refused = world.client.post(
        f"/api/v1/grid/residents/{world.resident_id}/consents/withdraw",
        headers=world.outsider_headers, json={"scopes": ["grid_worker_assist"]})
    assert refused.status_code == 403 and error_code(refused) == "not_your_grid"
    done = world.grid("POST", "/consents/withdraw", json={"scopes": ["grid_worker_assist"]})
    assert done.status_code == 200 and len(done.get_json()["withdrawn"]) == 1
    after = world.grid("GET", "/benefits")
    assert after.status_code == 403 and error_code(after) == "consent_required"
    with world.app.app_context(), services().db.session() as s:
        grid = s.scalars(select(Consent).where(Consent.scope == "grid_worker_assist")).all()
        real_name = s.scalars(select(Consent).where(Consent.scope == "real_name")).all()
    assert grid and all(c.withdrawn_at for c in grid)
    assert real_name and not any(c.withdrawn_at for c in real_name)  # only the grid's ends
    assert world.me("GET", "/history").get_json()["items"][0]["text"] == "按您的要求撤回了授权"


def test_pushed_messages_and_the_menu_link_to_the_pages(world):
    settings = BenefitSettings.from_env({"PUBLIC_BASE_URL": PUBLIC + "/"})
    text = Message(7, "高龄津贴", "100元/月").text(settings.pages_url)
    assert f'<a href="{PUBLIC}/my/benefits?notice=7">' in text
    with world.app.app_context():
        buttons = menu(services().settings)["button"]
    urls = [b.get("url") for b in buttons] + [s.get("url") for b in buttons
                                               for s in b.get("sub_button", [])]
    assert {f"{PUBLIC}/my/{p}" for p in ("benefits", "code", "assist", "data")} <= set(urls)
    assert len(buttons) <= 3 and all(len(b.get("sub_button", [])) <= 5 for b in buttons)
    simulator = world.client.get("/").get_data(as_text=True)
    assert f'data-url="{PUBLIC}/my/benefits"' in simulator
    # A grid worker's consent request links to the citizen's 网格员帮办 page.
    world.grid("POST", "/consent-requests", json={"scopes": ["grid_worker_assist"]})
    world.deliver_notifications()
    assert any(f'{PUBLIC}/my/assist?request=' in m for m in world.wechat_messages())


def test_an_unknown_fact_is_answered_in_place(world):
    first = world.me("GET", "/benefits/question").get_json()
    assert first["fact"] and first["text"]
    value = "1" if first["choices"] else "3"  # the first choice, as in the chat
    saved = world.me("POST", "/benefits/answers", json={"fact": first["fact"], "answer": value})
    assert saved.status_code == 200 and saved.get_json()["saved"] is True
    after = world.me("GET", "/benefits/question").get_json()
    assert after["fact"] != first["fact"]
    skipped = world.me("POST", "/benefits/answers",
                       json={"fact": after["fact"], "answer": "不清楚"}).get_json()
    assert skipped == {"fact": after["fact"], "saved": False}
    nxt = world.me("GET", f"/benefits/question?skip={after['fact']}").get_json()
    assert nxt["fact"] not in (first["fact"], after["fact"])
    bad = world.me("POST", "/benefits/answers",
                   json={"fact": "pension_contribution_years", "answer": "很多年"})
    assert bad.status_code == 400 and "answer" in bad.get_json()["error"]["fields"]
    with world.app.app_context(), services().db.session() as s:
        from huimin.residents.models import Resident
        resident = s.get(Resident, world.resident_id)
        assert resident.facts_version > 1
        assert getattr(resident, first["fact"]) is not None


@pytest.mark.parametrize("fault", ["unreachable", "busy", "http_502"])
def test_wechat_down_gives_a_page_in_words_never_a_5xx(fault, emulator, sqlite_url, redis_url,
                                                       redis_conn):
    """WeChat's code exchange unreachable (nothing listens), busy (errcode -1) or behind a
    broken gateway (HTTP 502): the citizen reads what happened and can try again."""
    from tests.api_fixtures import make_api_app

    api_base = f"http://127.0.0.1:{free_port()}" if fault == "unreachable" else emulator
    if fault != "unreachable":
        requests.post(f"{emulator}/_emulator/faults", timeout=5, json={
            "path": "/sns/oauth2/access_token", "errcode": -1,
            "status": 502 if fault == "http_502" else 200}).raise_for_status()
    app = make_api_app(sqlite_url, redis_url, emulator, wechat_oauth_base=emulator,
                       wechat_api_base=api_base, public_base_url=PUBLIC)
    resp, _ = sign_in_through_wechat(SimpleNamespace(client=app.test_client()), OA_OPENID,
                                     "/my/code")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    assert "微信暂时连不上，请稍后点“重新登录”再试" in page and "access_token" not in page
    assert 'href="/my/sign-in?next=/my/code"' in page
    with app.app_context(), services().db.session() as s:
        assert s.scalars(select(CitizenAccount)).all() == []  # nobody signed in


def _suspend_binding(world: World) -> None:
    """What an appeal against the binding does (huimin.identity.real_name.file_appeal)."""
    with world.app.app_context(), services().db.session() as s:
        holder = s.scalars(select(CitizenAccount).where(
            CitizenAccount.resident_id == world.resident_id)).one()
        holder.binding_suspended_at = utcnow()


def _as(world: World, resp) -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens_in(resp.get_data(as_text=True))["access_token"]}


def test_a_suspended_binding_does_not_open_the_residents_pages(world):
    """The chat knows her resident, but the mini-program account holding it is under appeal:
    signing in through the pages neither joins that account nor takes the resident."""
    _suspend_binding(world)
    resp, _ = sign_in_through_wechat(world, OA_OPENID)
    assert resp.status_code == 200
    headers = _as(world, resp)
    me = world.client.get("/api/v1/me", headers=headers).get_json()
    assert me["real_name_verified"] is False and me["name"] is None
    assert me["account_id"] != world.me("GET", "").get_json()["account_id"]
    benefits = world.client.get("/api/v1/me/benefits", headers=headers)
    assert benefits.status_code == 409
    assert world.client.get("/api/v1/me/notices", headers=headers).get_json()["items"] == []
    with world.app.app_context(), services().db.session() as s:
        mine = s.scalars(select(CitizenAccount).where(CitizenAccount.oa_openid == OA_OPENID)).one()
        assert mine.resident_id is None


def test_a_binding_suspended_after_sign_in_closes_the_pages(world):
    resp, _ = sign_in_through_wechat(world, OA_OPENID)
    headers = _as(world, resp)
    assert world.client.get("/api/v1/me/benefits", headers=headers).status_code == 200
    _suspend_binding(world)
    again, _ = sign_in_through_wechat(world, OA_OPENID)
    for h in (headers, _as(world, again)):
        assert world.client.get("/api/v1/me/benefits", headers=h).status_code == 409
        assert world.client.get("/api/v1/me", headers=h).get_json()["name"] is None
