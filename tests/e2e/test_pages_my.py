"""The citizens' pages inside WeChat (/my/), in Debian's Chromium at phone size (390x844),
on a real stack (web, worker, WeChat emulator):

- the whole "policy finds people" loop: the chat simulator shows the official account's
  menu; matching runs; the push arrives in the simulator; its link opens 我的补贴 signed in
  through WeChat web authorisation; one tap confirms; the grid worker's worklist no longer
  lists the resident; another notice declined with 不需要 (final, off the worklist too);
- sign-in refused with a forged code, a used code and a replayed redirect;
- every page in normal and care mode (axe-core, sizes from computed styles), care mode
  remembered for the citizen on a new phone; 网格员帮办 accept and withdraw; export and
  account deletion with a confirmation step.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import text

from huimin.identity.idcard import fake_id_number
from tests.e2e.pages_support import (
    check_page,
    create_staff,
    db,
    flask,
    import_residents,
    page_stack,  # noqa: F401 - this module's own small stack (the `stack` fixture)
    phone,
    screenshot,
)

# Each test's limit covers the module's stack start when it runs first (Stack.wait allows each
# service 240 s; 267 s were seen on the shared machine): 900 s fits that and a loaded run of
# the longest test, and a real hang still fails.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

OPENID = "o-sim-wang-xiuying"
PASSWORD = "Grid-Pass-2468"
ID_NUMBER = fake_id_number(random.Random(17), birth=date(1944, 3, 8), region="340104")


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    ids = import_residents(stack, tmp_path_factory.mktemp("csv"), [
        {"external_id": "loop-1", "grid_id": "G1", "name": "王秀英", "id_number": ID_NUMBER,
         "local_hukou": "yes", "employment_status": "unemployed",
         "registered_unemployed": "yes"}])
    create_staff(stack, "wang_grid", "grid_worker", ("G1",), PASSWORD)
    return {"resident_id": ids["loop-1"]}


def web(stack, path: str = "") -> str:
    return stack.url("web") + path


def as_citizen(stack, openid: str, path: str) -> str:
    """What a tap on a link inside WeChat does: the emulator knows who is holding the phone."""
    return (f"{stack.url('emulator')}/_emulator/as?openid={openid}"
            f"&next={web(stack, path)}")


def staff_headers(stack) -> dict[str, str]:
    resp = requests.post(web(stack, "/api/v1/staff/login"), timeout=10,
                         json={"username": "wang_grid", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def grid_sign_in(page, stack) -> None:
    page.goto(web(stack, "/grid/"))
    page.fill("#username", "wang_grid")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#me-name:has-text('wang_grid')")


def wait_for(check, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def test_full_loop_from_matching_to_the_worklist(stack, world, browser):
    from playwright.sync_api import expect

    citizen = phone(browser)
    citizen.add_init_script(f"localStorage.setItem('huimin-sim-openid', {json.dumps(OPENID)})")
    chat = citizen.new_page()
    chat.goto(web(stack, "/"))
    expect(chat.locator(".msg.system").first).to_have_text("已关注“惠民人社”公众号")
    # The official account's menu links to the citizens' pages.
    expect(chat.locator("#menu a.menu-item").first).to_have_text("我的补贴")
    engine = db(stack)
    wait_for(lambda: engine.connect().execute(text(
        "SELECT id FROM wechat_users WHERE openid = :o"), {"o": OPENID}).scalar(),
        what="the chat user")
    # The bureau's records link this WeChat user to the resident (issue 15's binding).
    with engine.begin() as conn:
        conn.execute(text("UPDATE wechat_users SET resident_id = :r WHERE openid = :o"),
                     {"r": world["resident_id"], "o": OPENID})

    grid = phone(browser).new_page()
    grid_sign_in(grid, stack)
    expect(grid.locator("#worklist-empty")).to_be_visible()

    out = flask(stack, "benefits", "match", "--policy", "elderly_allowance")
    assert "elderly_allowance" in out or "1" in out, out
    link = chat.locator(".msg.later a[data-url*='/my/benefits?notice=']")
    expect(link).to_have_text("点这里一键确认", timeout=30_000)
    notice_id = int(parse_qs(urlsplit(link.get_attribute("data-url")).query)["notice"][0])
    screenshot(chat, "simulator-push")

    grid.reload()
    row = grid.locator(f"#worklist li[data-resident='{world['resident_id']}']")
    expect(row).to_contain_text("有政策提醒未确认")
    expect(row).to_contain_text("王*")
    assert "王秀英" not in row.inner_text()

    with citizen.expect_page() as opened:
        link.click()
    mine = opened.value
    card = mine.locator(f"#notice-{notice_id}")
    expect(card).to_have_class("card notice focus")
    expect(card).to_contain_text("高龄津贴")
    assert mine.url.startswith(web(stack, "/my/benefits?notice="))
    check_page(mine, care=True)  # she is 82: care mode by age, as in the chat
    screenshot(mine, "my-benefits-notice")
    card.locator("button[data-confirm]").click()
    expect(mine.locator("#flash")).to_contain_text("已确认领取")
    expect(card.locator(".next")).to_contain_text("不用再填表")
    with engine.connect() as conn:
        status, channel = conn.execute(text(
            "SELECT status, response_channel FROM benefit_notices WHERE id = :i"),
            {"i": notice_id}).one()
    assert (status, channel) == ("confirmed", "miniapp")

    grid.reload()
    expect(grid.locator("#worklist-empty")).to_be_visible()
    expect(grid.locator(f"li[data-resident='{world['resident_id']}']")).to_have_count(0)
    engine.dispose()


def test_declining_a_notice(stack, world, browser, tmp_path):
    """不需要: the bureau learns she is insured with 15 years paid, matching finds 城乡居民基本
    养老保险; she declines it from the push's link. The page says what happens next, the API
    and a reload show it declined for good, and the grid worker no longer has to visit."""
    from playwright.sync_api import expect

    resident = world["resident_id"]
    import_residents(stack, tmp_path, [
        {"external_id": "loop-1", "grid_id": "G1", "name": "王秀英", "id_number": ID_NUMBER,
         "local_hukou": "yes", "resident_pension_insured": "yes",
         "pension_contribution_years": "15", "receiving_pension": "no"}])
    flask(stack, "benefits", "match", "--policy", "residents_basic_pension")
    engine = db(stack)

    def notice() -> tuple[int, str, str | None] | None:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT id, status, response_channel FROM benefit_notices WHERE resident_id = :r"
                " AND policy = 'residents_basic_pension'"), {"r": resident}).one_or_none()

    def pushed() -> int | None:
        row = notice()
        return row[0] if row and row[1] == "notified" else None

    notice_id = wait_for(pushed, what="the pushed notice")

    def worklist() -> list[int]:
        resp = requests.get(web(stack, "/api/v1/grid/worklist?per_page=50"), timeout=10,
                            headers=staff_headers(stack))
        assert resp.status_code == 200, resp.text
        return [item["resident_id"] for item in resp.json()["items"]]

    assert resident in worklist()

    page = phone(browser).new_page()
    page.goto(as_citizen(stack, OPENID, f"/my/benefits?notice={notice_id}"))
    card = page.locator(f"#notice-{notice_id}")
    expect(card).to_have_attribute("data-status", "notified")
    card.locator(f"button[data-decline='{notice_id}']").click()
    expect(page.locator("#flash")).to_have_text(
        "已记下您不需要这项待遇。如果改变主意，请拨打 12333。")
    expect(card).to_have_attribute("data-status", "declined")
    expect(card.locator(".next")).to_contain_text("已记下您不需要这项待遇")
    expect(card.locator("button")).to_have_count(0)
    assert notice() == (notice_id, "declined", "miniapp")

    # Through the API, with the page's own session: declined, and it cannot be confirmed now.
    token = page.evaluate("JSON.parse(sessionStorage.getItem('huimin-my-tokens')).access_token")
    headers = {"Authorization": "Bearer " + token}
    listed = requests.get(web(stack, "/api/v1/me/notices?per_page=50"), headers=headers,
                          timeout=10)
    assert listed.status_code == 200, listed.text
    assert {n["id"]: n["status"] for n in listed.json()["items"]}[notice_id] == "declined"
    late = requests.post(web(stack, f"/api/v1/me/notices/{notice_id}/confirm"),
                         headers=headers, timeout=10)
    assert late.status_code == 409, late.text
    assert notice() == (notice_id, "declined", "miniapp")

    # Reloaded (in care mode one screen at a time): among the notices already answered.
    page.reload()
    page.wait_for_selector("#content :is(h2, article, section)")
    for _ in range(10):
        if card.count() or not page.locator("#screen-next").count():
            break
        page.click("#screen-next")
    expect(card).to_have_attribute("data-status", "declined")
    expect(card.locator(".next")).to_contain_text("已记下您不需要这项待遇")
    assert resident not in worklist()
    page.context.close()
    engine.dispose()


def test_sign_in_refuses_forged_used_and_replayed_codes(stack, world, browser):
    from playwright.sync_api import expect

    context = phone(browser)
    page = context.new_page()

    def back_from_wechat_with(code: str) -> None:
        """Start a sign-in in this browser (its session gets the state), then arrive at
        /my/oauth the way WeChat's redirect would, carrying ``code``."""
        started = context.request.get(web(stack, "/my/sign-in?next=/my/data"), max_redirects=0)
        assert started.status == 302
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        page.goto(web(stack, f"/my/oauth?code={code}&state={state}"))

    # WeChat never issued this code: 40029.
    back_from_wechat_with("forged-code")
    expect(page.locator("#page-error")).to_have_text("登录凭证无效或已过期，请回到公众号重新打开")
    check_page(page, care=False)
    screenshot(page, "my-sign-in-refused")

    # A real sign-in, watching the redirect that carried the code.
    redirects: list[str] = []
    page.on("request", lambda r: redirects.append(r.url) if "/my/oauth?" in r.url else None)
    page.goto(as_citizen(stack, "o-stranger-1", "/my/data"))
    expect(page.locator("#profile")).to_contain_text("实名认证：未认证")
    used = parse_qs(urlsplit(redirects[-1]).query)["code"][0]
    # The same redirect again (the state is spent) ...
    page.goto(redirects[-1])
    expect(page.locator("#page-error")).to_have_text("登录链接已失效，请回到公众号重新打开")
    # ... and the used code with a fresh state: WeChat says 40163.
    back_from_wechat_with(used)
    expect(page.locator("#page-error")).to_have_text("这个登录链接已经用过了，请回到公众号重新打开")

    # WeChat's code exchange fails once behind a broken gateway (HTTP 502): a page in words,
    # not a server error, and 重新登录 brings her to the page she was opening.
    requests.post(f"{stack.url('emulator')}/_emulator/faults", timeout=5, json={
        "path": "/sns/oauth2/access_token", "errcode": -1, "status": 502}).raise_for_status()
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/my/oauth?" in r.url else None)
    page.goto(web(stack, "/my/sign-in?next=/my/data"))  # as a page with no tokens does
    expect(page.locator("#page-error")).to_have_text("微信暂时连不上，请稍后点“重新登录”再试")
    assert answers == [200]
    check_page(page, care=False)
    screenshot(page, "my-sign-in-wechat-down")
    page.click("#retry")
    expect(page.locator("#profile")).to_contain_text("实名认证：未认证")
    assert page.url == web(stack, "/my/data")
    context.close()


def test_every_page_in_normal_and_care_mode(stack, world, browser):
    from playwright.sync_api import expect

    # A grid worker asks for consent; the citizen answers on 网格员帮办.
    resp = requests.post(web(stack, f"/api/v1/grid/residents/{world['resident_id']}"
                                    "/consent-requests"), headers=staff_headers(stack),
                         json={"scopes": ["grid_worker_assist"], "days": 30}, timeout=10)
    assert resp.status_code == 201, resp.text
    context = phone(browser)
    page = context.new_page()
    page.goto(as_citizen(stack, OPENID, "/my/assist"))
    request = page.locator(f"#request-{resp.json()['id']}")
    expect(request).to_contain_text("网格员协助办理")
    check_page(page, care=True)  # aged 82: on by default
    screenshot(page, "my-assist-care")
    request.locator("button[data-accept]").click()
    expect(page.locator("#flash")).to_contain_text("已同意")
    expect(page.locator(".consent[data-scope=grid_worker_assist]")).to_be_visible()
    page.click("#screen-next")  # care mode: one screen at a time
    expect(page.locator("#history")).to_contain_text("请您授权网格员协助办理")

    # She turns care mode off: every page in normal mode, and a new phone remembers it.
    page.click("#care-toggle")
    expect(page.locator("#flash")).to_contain_text("已关闭大字模式")
    for name in ("benefits", "code", "assist", "data"):
        page.goto(web(stack, f"/my/{name}"))
        page.wait_for_selector("#content :is(h2, article, section)")
        check_page(page, care=False)
        screenshot(page, f"my-{name}")
    expect(page.locator("#profile")).to_contain_text("王**")
    assert "王秀英" not in page.locator("#profile").inner_text()
    # 我的补贴 asks what it still needs, one question at a time, the chat's questions.
    page.goto(web(stack, "/my/benefits"))
    form = page.locator("#question-form")
    fact = form.get_attribute("data-fact")
    form.locator("button").first.click()
    expect(page.locator("#flash")).to_contain_text(re.compile("已保存|先跳过"))
    expect(page.locator(f"#question-form[data-fact='{fact}']")).to_have_count(0)
    assert ID_NUMBER not in page.content()
    other = phone(browser).new_page()
    other.goto(as_citizen(stack, OPENID, "/my/benefits"))
    other.wait_for_selector("#content h2")
    expect(other.locator("html")).not_to_have_class("care")
    with db(stack).connect() as conn:
        enabled = conn.execute(text("SELECT enabled FROM care_mode_choices WHERE "
                                    "resident_id = :r"), {"r": world["resident_id"]}).scalar()
    assert enabled in (False, 0)  # the row the chat's guides read (huimin.guides.care)

    # On again: every page in care mode.
    page.click("#care-toggle")
    expect(page.locator("#flash")).to_contain_text("已开启大字模式")
    for name in ("benefits", "code", "data"):
        page.goto(web(stack, f"/my/{name}"))
        page.wait_for_selector("#content :is(h2, article, section)")
        check_page(page, care=True)
        screenshot(page, f"my-{name}-care")

    # The employment code: a QR that loads, the holder's colour, revoke.
    page.goto(web(stack, "/my/code"))
    expect(page.locator("#code-label")).to_contain_text("码")
    colour = page.locator("#code-card").get_attribute("data-colour")
    expect(page.locator("#qr")).to_have_class(f"qr {colour}")
    page.wait_for_function("() => { const i = document.getElementById('qr');"
                           " return i.complete && i.naturalWidth > 0; }")  # the QR loads
    page.click("#screen-next")  # the scan log
    page.click("#screen-next")  # revoke, on a screen of its own
    page.click("#revoke")
    expect(page.locator("#flash")).to_contain_text("就业码已作废")

    # Withdraw the consent again on 网格员帮办.
    page.goto(web(stack, "/my/assist"))
    page.click("button[data-withdraw=grid_worker_assist]")
    expect(page.locator("#no-consents")).to_be_visible()
    context.close()


def walk_screens(page) -> list[str]:
    """Care mode, page by page: one screen, at most one main action, the 适老化 sizes."""
    keys: list[str] = []
    while True:
        screen = page.locator("#content .screen")
        expect_one(screen)
        keys.append(screen.get_attribute("data-key"))
        assert page.locator("#content button.primary:visible").count() <= 1, keys[-1]
        check_page(page, care=True)
        if not page.locator("#screen-next").count():
            return keys
        page.click("#screen-next")
        page.wait_for_function("(k) => document.getElementById('screen').dataset.key !== k",
                               arg=keys[-1])


def expect_one(locator) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_count(1)


def test_care_mode_is_one_step_per_screen(stack, world, browser):
    """适老化: every citizen page in care mode is a row of screens, each with one main action
    (answer this notice, accept this request, revoke, export, delete), large text and
    targets; the action works from its own screen."""
    from playwright.sync_api import expect

    resp = requests.post(web(stack, f"/api/v1/grid/residents/{world['resident_id']}"
                                    "/consent-requests"), headers=staff_headers(stack),
                         json={"scopes": ["grid_worker_assist"], "days": 30}, timeout=10)
    assert resp.status_code == 201, resp.text
    request_id = resp.json()["id"]
    page = phone(browser).new_page()
    page.goto(as_citizen(stack, OPENID, f"/my/assist?request={request_id}"))
    page.wait_for_selector("#content .screen")
    if "care" not in (page.locator("html").get_attribute("class") or ""):
        page.click("#care-toggle")
        expect(page.locator("html")).to_have_class("care")
        page.reload()
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-key", f"request-{request_id}")  # the linked one
    expect(screen.locator("button.primary")).to_have_text("同意")
    expect(page.locator("#screen-progress")).to_contain_text("第 1 页")
    screenshot(page, "my-assist-care-step")
    assert walk_screens(page)[-1] == "history"
    for name, wanted in (("benefits", {"eligible"}), ("code", {"code", "scans", "revoke"}),
                         ("data", {"profile", "export", "delete"})):
        page.goto(web(stack, f"/my/{name}"))
        page.wait_for_selector("#content .screen")
        keys = walk_screens(page)
        assert wanted <= set(keys), (name, keys)
    # Back one page, and the last step's action works where it stands: delete asks first.
    page.click("#screen-back")
    expect(screen).to_have_attribute("data-key", "export")
    page.click("#screen-next")
    page.click("#delete")
    expect(page.locator("#delete-confirm")).to_be_visible()
    expect(page.locator("#delete")).to_be_hidden()
    check_page(page, care=True)
    page.click("#delete-no")
    expect(page.locator("#delete")).to_be_visible()
    # The request is answered from its own screen.
    page.goto(web(stack, f"/my/assist?request={request_id}"))
    page.click(f"button[data-decline='{request_id}']")
    expect(page.locator("#flash")).to_contain_text("已拒绝")
    expect(page.locator(f"#request-{request_id}")).to_have_count(0)
    page.context.close()


def test_the_code_renews_before_it_expires(stack, world, browser):
    """我的就业码 asks for a fresh code half a minute before the one on screen expires (the
    page's clock is moved on; the server issues real codes)."""
    from playwright.sync_api import expect

    page = phone(browser).new_page()
    page.clock.install()
    page.goto(as_citizen(stack, OPENID, "/my/code"))
    qr = page.locator("#qr")
    expect(qr).to_be_visible()
    first = qr.get_attribute("src")
    page.clock.fast_forward(9 * 60 * 1000)  # the 10-minute code is not yet due
    page.wait_for_timeout(500)
    assert qr.get_attribute("src") == first
    page.clock.fast_forward(60 * 1000)  # within its last half minute
    expect(qr).not_to_have_attribute("src", first)
    page.wait_for_function("() => { const i = document.getElementById('qr');"
                           " return i.complete && i.naturalWidth > 0; }")
    page.context.close()


def test_export_and_delete_with_a_confirmation_step(stack, world, browser):
    from playwright.sync_api import expect

    page = phone(browser).new_page()
    # Not yet real-name verified: 我的补贴 asks for it; a mistake is named next to its field
    # and nothing typed is lost.
    page.goto(as_citizen(stack, "o-leaving", "/my/benefits"))
    page.fill("#rn-name", "陈晓")
    page.fill("#rn-id", "110101199001011234")
    page.check("#rn-consent")
    page.click("#real-name-form button[type=submit]")
    expect(page.locator("#rn-id-error")).to_be_visible()
    expect(page.locator("#rn-name")).to_have_value("陈晓")
    check_page(page, care=False)
    screenshot(page, "my-real-name")
    page.goto(web(stack, "/my/data"))
    expect(page.locator("#profile")).to_contain_text("实名认证：未认证")
    with page.expect_download() as download:
        page.click("#export")
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert exported["account"]["account_id"] and exported["resident"] is None
    page.click("#delete")
    expect(page.locator("#delete-confirm")).to_be_visible()
    check_page(page, care=False)
    page.click("#delete-yes")
    expect(page.locator("#deleted")).to_contain_text("已注销")
    with db(stack).connect() as conn:
        deleted = conn.execute(text("SELECT COUNT(*) FROM citizen_accounts WHERE "
                                    "deleted_at IS NOT NULL")).scalar()
    assert deleted == 1
