"""The grid workers' workbench (/grid/), in Debian's Chromium at phone size (390x844), on a
real stack (web, worker, WeChat emulator):

- sign-in (password; TOTP shown when the role requires it), worklist in words, search
  within my grids, a resident's page refused until she consents (paper form, confirmed by
  the grid's supervisor), her benefits with reasons, a notice confirmed for her, an assisted
  guide with next / repeat / back / stop, a visit note; all of it in her own history;
- refused for a resident of another grid, and at once after the consent is withdrawn;
- a visit note written offline waits on the phone ("等待发送") and is stored exactly once
  when the connection returns, even when the first answer is lost on the way back; so does
  a notice confirmed for a resident offline, across a reload with no signal;
- axe-core and computed sizes on every screen in normal and care mode.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from datetime import date

import pyotp
import pytest
import requests
from sqlalchemy import text

from huimin.benefits.sources import catalogue, titles
from huimin.grid import history
from huimin.identity.idcard import fake_id_number
from huimin.platform.db import Database
from huimin.platform.settings import load_settings
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
from tests.e2e.signal_line import SignalLine, signal_line
from tests.grid_fixtures import give_consent

# Each test's limit covers the module's stack start when it runs first (Stack.wait allows each
# service 240 s; 267 s were seen on the shared machine): 900 s fits that and a loaded run of
# the longest test, and a real hang still fails.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
# Service workers' own requests reach context.route only with this (the offline test needs
# it); read by Playwright's driver when the browser fixture starts it.
os.environ["PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS"] = "1"

PASSWORD = "Grid-Pass-2468"
ID_A = fake_id_number(random.Random(21), birth=date(1941, 2, 3), region="340104")
ID_B = fake_id_number(random.Random(22), birth=date(1942, 4, 5), region="340104")
ID_C = fake_id_number(random.Random(23), birth=date(1943, 6, 7), region="340104")


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    ids = import_residents(stack, tmp_path_factory.mktemp("csv"), [
        {"external_id": "a", "grid_id": "G1", "name": "李桂兰", "id_number": ID_A,
         "local_hukou": "yes"},
        {"external_id": "b", "grid_id": "G2", "name": "赵德明", "id_number": ID_B,
         "local_hukou": "yes"},
        {"external_id": "c", "grid_id": "G1", "name": "孙玉珍", "id_number": ID_C,
         "local_hukou": "yes"}])
    create_staff(stack, "wang_grid", "grid_worker", ("G1",), PASSWORD)
    create_staff(stack, "zhao_super", "grid_supervisor", ("G1",), PASSWORD)
    flask(stack, "benefits", "match", "--policy", "elderly_allowance")  # no WeChat: worklist
    return {"a": ids["a"], "b": ids["b"], "c": ids["c"]}


def web(stack, path: str = "") -> str:
    return stack.url("web") + path


def sign_in(page, stack, username: str = "wang_grid", base: str | None = None) -> None:
    page.goto((base or web(stack)) + "/grid/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(f"#me-name:has-text('{username}')")


def api(stack, username: str) -> dict[str, str]:
    resp = requests.post(web(stack, "/api/v1/staff/login"), timeout=10,
                         json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": "Bearer " + resp.json()["access_token"]}


def test_totp_is_asked_when_the_role_requires_it(stack, world, browser):
    from playwright.sync_api import expect

    out = flask(stack, "staff", "create", "--username", "ops_li", "--role", "ops",
                "--password-stdin", stdin=PASSWORD + "\n")
    secret = pyotp.parse_uri(re.search(r"otpauth://\S+", out).group(0)).secret
    page = phone(browser).new_page()
    page.goto(web(stack, "/grid/"))
    check_page(page, care=False)
    screenshot(page, "grid-sign-in")
    page.fill("#username", "ops_li")
    page.fill("#password", "wrong")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("请输入动态验证码")
    expect(page.locator("#totp")).to_be_visible()
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("#login-form button[type=submit]")
    expect(page.locator("#me-name")).to_have_text("ops_li")
    # Signed in, but the worklist is for grid workers only.
    expect(page.locator("#content .error")).to_have_text("您没有权限进行此操作")


def test_a_grid_workers_visit(stack, world, browser):
    from playwright.sync_api import expect

    a, b = world["a"], world["b"]
    page = phone(browser).new_page()
    sign_in(page, stack)
    row = page.locator(f"#worklist li[data-resident='{a}']")
    expect(row).to_contain_text("有政策提醒未确认")
    expect(row).to_contain_text("没有微信")
    expect(row).to_contain_text("李**，85岁")
    expect(page.locator(f"#worklist li[data-resident='{b}']")).to_have_count(0)
    check_page(page, care=False)
    screenshot(page, "grid-worklist")
    # Search: my grids only (赵德明 lives in G2).
    page.fill("#q", "德明")
    page.click("#search button[type=submit]")
    expect(page.locator("#worklist-empty")).to_have_text("我的网格里没有找到。")
    page.fill("#q", ID_A[-4:])
    page.click("#search button[type=submit]")
    expect(page.locator("#worklist li")).to_have_count(1)

    # Her page, before she consents: refused in words, with the ways to ask.
    page.click(f"#worklist li[data-resident='{a}'] button")
    expect(page.locator("#refusal")).to_have_text("该居民尚未授权您协助办理")
    page.click("#ask-form button[type=submit]")
    expect(page.locator("#flash")).to_have_text("该居民没有可用的微信，请使用纸质授权")
    page.fill("#paper-evidence", "IMG-20261202-01")
    page.click("#paper-form button[type=submit]")
    expect(page.locator("#flash")).to_contain_text("另一位工作人员核对照片后生效")
    check_page(page, care=False)
    # The grid's supervisor checks the signed form on her own phone: confirm in one tap.
    supervisor = phone(browser).new_page()
    sign_in(supervisor, stack, "zhao_super")
    form = supervisor.locator(f"#paper-pending .paper[data-resident='{a}']")
    expect(form).to_contain_text("李**")
    expect(form).to_contain_text("IMG-20261202-01")
    expect(form).to_contain_text("登记人：wang_grid")
    assert "李桂兰" not in supervisor.content()
    check_page(supervisor, care=False)
    screenshot(supervisor, "grid-supervisor")
    form.locator("button[data-paper-confirm]").click()
    expect(supervisor.locator("#flash")).to_have_text("已确认，授权立即生效，居民会收到微信消息")
    expect(form).to_have_count(0)
    supervisor.reload()
    expect(supervisor.locator("#paper-empty")).to_be_visible()
    supervisor.context.close()

    page.reload()
    expect(page.locator("#identity")).to_contain_text("李**")
    expect(page.locator("#identity")).to_contain_text(ID_A[:4])
    assert ID_A not in page.content() and "李桂兰" not in page.content()
    expect(page.locator("#consent-state")).to_contain_text("全部协助")
    expect(page.locator("#consent-state")).to_contain_text(re.compile(r"有效至 \d{4}-\d{2}-\d{2}"))
    benefit = page.locator("#benefits .benefit[data-policy=elderly_allowance]")
    expect(benefit).to_contain_text("年龄满80周岁：是")
    check_page(page, care=False)
    screenshot(page, "grid-resident")
    benefit.locator("button[data-confirm]").click()
    expect(page.locator("#flash")).to_have_text("已代居民确认领取，居民会收到微信消息")
    expect(page.locator("#benefits .benefit[data-policy=elderly_allowance]")) \
        .to_contain_text("提醒状态：已确认")

    # An assisted guide, read out step by step.
    page.select_option("#guide-key", "pension_certification")
    page.click("#guide-start")
    expect(page.locator("#guide-progress")).to_be_visible()
    box, progress = page.locator("#guide-box"), page.locator("#guide-progress")

    def press(button: str, turn: int) -> str:
        page.click(button)
        expect(box).to_have_attribute("data-turn", str(turn))
        return page.locator("#guide-box .step").last.inner_text()

    expect(box).to_have_attribute("data-turn", "1")
    expect(progress).to_have_text(re.compile(r"第 1 步，共 \d+ 步"))
    step2 = press("#guide-next", 2)
    expect(progress).to_have_text(re.compile(r"第 2 步"))
    assert press("#guide-repeat", 3) == step2
    press("#guide-next", 4)
    expect(progress).to_have_text(re.compile(r"第 3 步"))
    assert press("#guide-back", 5) == step2
    expect(progress).to_have_text(re.compile(r"第 2 步"))
    screenshot(page, "grid-guide")
    page.click("#guide-stop")
    expect(page.locator("#guide-done")).to_have_text("已停止")

    # A visit note with the next visit date.
    page.select_option("#visit-outcome", "helped")
    page.fill("#visit-note", "帮她确认了高龄津贴，电话 13812345678")
    page.fill("#visit-next", date.today().isoformat())
    page.click("#visit-form button[type=submit]")
    expect(page.locator("#flash")).to_have_text("走访记录已保存")
    expect(page.locator("#visit-list")).to_contain_text("138****5678")

    # Care mode on the workbench (reading with an older resident beside you).
    page.click("#care-toggle")
    check_page(page, care=True)
    screenshot(page, "grid-resident-care")
    page.goto(web(stack, "/grid/"))
    expect(page.locator(f"#worklist li[data-resident='{a}']")).to_contain_text("约好的回访到期了")
    check_page(page, care=True)
    screenshot(page, "grid-worklist-care")
    page.click("#care-toggle")

    # Everything done is in her own history (what /api/v1/me/history shows her).
    database = Database(stack.env["DATABASE_URL"])
    with database.session() as s:
        names = titles(catalogue(load_settings().policies_dir))  # as /me/history does
        texts = [i["text"] for i in history.history(s, a, 1, 500, names)["items"]]
    database.engine.dispose()
    assert "上门走访：已协助办理" in texts, texts
    assert "帮您确认领取“高龄津贴”" in texts, sorted(set(texts))
    assert any("养老金领取资格认证" in t for t in texts)

    # Another grid's resident: refused, in words.
    page.goto(web(stack, f"/grid/residents/{b}"))
    expect(page.locator("#refusal")).to_have_text("该居民不在您负责的网格内")
    # She withdraws face to face: refused at once.
    page.goto(web(stack, f"/grid/residents/{a}"))
    page.click("#withdraw")
    expect(page.locator("#flash")).to_have_text("已按居民要求撤回授权")
    page.reload()
    expect(page.locator("#refusal")).to_have_text("该居民尚未授权您协助办理")
    refused = requests.get(web(stack, f"/api/v1/grid/residents/{a}/benefits"),
                           headers=api(stack, "wang_grid"), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "consent_required"
    # A new paper form with a blurry photo: the supervisor sends it back, with the reason.
    blurry = requests.post(web(stack, f"/api/v1/grid/residents/{a}/consents"),
                           headers=api(stack, "wang_grid"), timeout=10,
                           json={"scopes": ["grid_worker_assist"], "evidence": "IMG-blurry"})
    assert blurry.status_code == 201, blurry.text
    supervisor = phone(browser).new_page()
    sign_in(supervisor, stack, "zhao_super")
    form = supervisor.locator(f"#paper-{blurry.json()['id']}")
    form.locator("input[name=reason]").fill("照片看不清签名")
    form.locator("button[data-paper-reject]").click()
    expect(supervisor.locator("#flash")).to_have_text("已退回，登记的网格员需要重新登记")
    expect(form).to_have_count(0)
    supervisor.context.close()
    page.reload()
    expect(page.locator("#refusal")).to_have_text("该居民尚未授权您协助办理")
    with db(stack).connect() as conn:
        denials = conn.execute(text("SELECT COUNT(*) FROM audit_log WHERE result = 'denied' "
                                    "AND target = :t"), {"t": f"resident:{b}"}).scalar()
        status = conn.execute(text("SELECT status FROM grid_consent_requests WHERE id = :i"),
                              {"i": blurry.json()["id"]}).scalar()
    assert denials >= 1 and status == "rejected"


@pytest.fixture
def line(stack) -> Iterator[SignalLine]:
    """The phone's own line to the web tier, for the offline tests to cut."""
    with signal_line(web(stack)) as relay:
        yield relay


def set_offline(context, signal: dict[str, bool], line: SignalLine, offline: bool) -> None:
    """No signal for the pages, (through the context's route) for the service worker, and
    for real on the line to the web tier, which the emulation does not always cover."""
    signal["offline"] = offline
    if offline:
        line.cut()
    else:
        line.restore()
    context.set_offline(offline)


def test_offline_visit_note_is_sent_exactly_once(stack, world, browser, line):
    from playwright.sync_api import expect

    a = world["a"]
    database = Database(stack.env["DATABASE_URL"])
    give_consent(database, a)
    context = phone(browser, service_workers="allow")
    aborted: list[str] = []
    signal = {"offline": False}

    def no_signal(route):
        """Playwright's offline mode does not reach service workers' own fetches
        (microsoft/playwright#2311): they are cut here, and remembered."""
        if signal["offline"]:
            aborted.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    context.route("**/*", no_signal)
    page = context.new_page()
    sign_in(page, stack, base=line.url)
    page.goto(line.url + f"/grid/residents/{a}")
    expect(page.locator("#visits")).to_be_visible()

    # The service worker has kept the workbench's shell on the phone.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    note = f"离线记录 {time.time():.0f}"
    set_offline(context, signal, line, True)
    page.select_option("#visit-outcome", "met")
    page.fill("#visit-note", note)
    page.click("#visit-form button[type=submit]")
    expect(page.locator("#net")).to_be_visible()
    expect(page.locator("#outbox")).to_contain_text("等待发送：1 条")
    expect(page.locator("#visit-list .pending")).to_contain_text(note)
    # Still no signal, the page is reloaded (or the phone restarted the browser): the shell
    # opens from the service worker's cache, the note still waits, and another can be written.
    page.reload()
    expect(page.locator("#offline-note")).to_contain_text("没有网络")
    expect(page.locator("#outbox")).to_contain_text("等待发送：1 条")
    expect(page.locator("#visit-list .pending")).to_contain_text(note)
    assert any("/grid/residents/" in url for url in aborted), aborted  # not from the network
    check_page(page, care=False)
    screenshot(page, "grid-offline")

    def stored() -> int:
        with db(stack).connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM grid_visits WHERE note = :n"),
                                {"n": note}).scalar()

    assert stored() == 0
    # The signal comes back, but the answer to the first send is lost on the way back:
    # the server has stored it, the phone does not know and sends it again.
    lost: list[int] = []

    def lose_first_answer(route):
        if route.request.method == "POST" and not lost:
            route.fetch()
            lost.append(1)
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/api/v1/grid/residents/\d+/visits$"), lose_first_answer)
    set_offline(context, signal, line, False)
    expect(page.locator("#flash")).to_have_text("已发送：走访记录", timeout=30_000)
    expect(page.locator("#outbox")).to_be_hidden()
    assert lost == [1] and stored() == 1
    with db(stack).connect() as conn:
        audited = conn.execute(text(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'grid.visit.record' AND target = :t"
            " AND detail LIKE :v"), {"t": f"resident:{a}", "v": "%visit_id%"}).scalar()
        visits = conn.execute(text("SELECT COUNT(*) FROM grid_visits WHERE resident_id = :r"),
                              {"r": a}).scalar()
    assert audited == visits  # one audit entry per stored note, none for the repeat
    # The session outlived the lost signal.
    page.reload()
    expect(page.locator("#me-name")).to_have_text("wang_grid")
    expect(page.locator("#visit-list")).to_contain_text(note)
    # Signing out ends the session on the server too: the old refresh token is refused.
    refresh = page.evaluate("JSON.parse(localStorage.getItem('huimin-grid-tokens')).refresh_token")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    page.reload()
    expect(page.locator("#login")).to_be_visible()
    again = requests.post(web(stack, "/api/v1/auth/refresh"), json={"refresh_token": refresh},
                          timeout=10)
    assert again.status_code == 401, again.text
    database.engine.dispose()


def test_offline_confirmation_survives_a_reload_and_is_sent_once(stack, world, browser,
                                                               line):
    """A notice confirmed for 孙玉珍 with no signal waits on the phone through a reload; when
    the signal returns it is sent with the key it was given offline, and although the first
    answer is lost and the phone sends again, she is confirmed for once."""
    from playwright.sync_api import expect

    c = world["c"]
    database = Database(stack.env["DATABASE_URL"])
    give_consent(database, c)
    context = phone(browser, service_workers="allow")
    signal = {"offline": False}
    aborted: list[str] = []

    def no_signal(route):
        """As in the visit-note test: cuts the service worker's own fetches too."""
        if signal["offline"]:
            aborted.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    context.route("**/*", no_signal)
    page = context.new_page()
    sign_in(page, stack, base=line.url)
    page.goto(line.url + f"/grid/residents/{c}")
    benefit = page.locator("#benefits .benefit[data-policy=elderly_allowance]")
    expect(benefit.locator("button[data-confirm]")).to_be_visible()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    def notice() -> tuple[str, int]:
        """Her notice's state and how many confirmations are audited for her."""
        with db(stack).connect() as conn:
            status = conn.execute(text("SELECT status FROM benefit_notices WHERE resident_id"
                                       " = :r AND policy = 'elderly_allowance'"),
                                  {"r": c}).scalar()
            audited = conn.execute(text("SELECT COUNT(*) FROM audit_log WHERE action = "
                                        "'benefit.confirm' AND target = :t"),
                                   {"t": f"resident:{c}"}).scalar()
        return status, audited

    open_status = notice()[0]
    assert open_status in ("matched", "notified")
    set_offline(context, signal, line, True)
    with pytest.raises(requests.ConnectionError):  # no request gets through, whatever its path
        requests.get(line.url + "/healthz", timeout=5)
    benefit.locator("button[data-confirm]").click()
    expect(page.locator("#flash")).to_have_text("没有网络：已存在手机里，有网后自动发送")
    expect(benefit.locator(".pending")).to_have_text("等待发送")
    expect(page.locator("#outbox")).to_contain_text("等待发送：1 条（代确认：高龄津贴）")
    kept = "JSON.parse(localStorage.getItem('huimin-grid-outbox')).map((i) => i.key)"
    keys = page.evaluate(kept)
    assert len(keys) == 1 and keys[0], keys
    # Reloaded with no signal: the shell comes from the service worker, the confirmation waits.
    page.reload()
    expect(page.locator("#offline-note")).to_contain_text("没有网络")
    expect(page.locator("#outbox")).to_contain_text("等待发送：1 条（代确认：高龄津贴）")
    assert page.evaluate(kept) == keys
    assert any("/grid/residents/" in url for url in aborted), aborted
    assert notice() == (open_status, 0)

    # The signal returns; the answer to the first send is lost, so the phone sends again.
    sent: list[str | None] = []

    def lose_first_answer(route):
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(route.request.headers.get("idempotency-key"))
        if len(sent) == 1:
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/api/v1/grid/residents/\d+/notices/\d+/confirm$"),
               lose_first_answer)
    set_offline(context, signal, line, False)
    expect(page.locator("#flash")).to_have_text("已发送：代确认：高龄津贴", timeout=30_000)
    expect(page.locator("#outbox")).to_be_hidden()
    expect(benefit).to_contain_text("提醒状态：已确认")
    assert sent == keys * 2, sent  # the key made offline, both times
    assert notice() == ("confirmed", 1)
    with database.session() as s:
        names = titles(catalogue(load_settings().policies_dir))
        texts = [i["text"] for i in history.history(s, c, 1, 500, names)["items"]]
    database.engine.dispose()
    assert texts.count("帮您确认领取“高龄津贴”") == 1, texts
    context.close()
