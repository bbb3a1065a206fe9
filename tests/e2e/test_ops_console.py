"""The ops console end to end, on the real stack (web, Rasa, action server, worker, emulator).

1. In real headless Chromium (Debian's package, driven by Playwright) an ops staff member signs
   in with password and TOTP, finds a message the assistant did not understand, labels it with
   the right intent, starts a training and watches it finish (the real Rasa training on the
   worker's `training` queue).
2. The full loop on that training: the evaluated model passes the gate and is activated; the
   running Rasa server pulls it from the web app and answers with it, while requests sent during
   the switch all succeed and a conversation in progress carries on; then `flask model rollback`
   brings the previous model back.
One training in all: the loop test reuses the browser's (and trains through the API when run
alone). Timings go to var/test-logs/ops-loop-timings.json (see README).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import requests
from sqlalchemy import create_engine, text

from huimin.platform.db import Database
from huimin.wechat import undelivered
from scripts.stack import ROOT
from tests.api_fixtures import Staff, bearer
from tests.debian import ensure_installed
from tests.rasa_workers import models_by_worker

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TRAINING_TIMEOUT = 20 * 60
SWITCH_TIMEOUT = 240
# Plausible greetings the trained model has never seen; the test uses one it gets wrong.
CANDIDATES = ("吃饭了没呀您", "瞅啥呢小助手", "吃了吗您内", "溜达到这儿了问声好", "嘿小惠早安吉祥",
              "见过小助手", "叨扰一下您呐")
TIMINGS = ROOT / "var" / "test-logs" / "ops-loop-timings.json"


def ensure_chromium() -> None:
    """CI machines start without a browser: Debian's, installed as root when missing."""
    ensure_installed(str(CHROMIUM), "chromium")


@pytest.fixture(scope="module")
def flask_cli(stack):
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", *args],
                              cwd=ROOT, env=stack.env, input=stdin, capture_output=True,
                              text=True, timeout=120)

    return run


@pytest.fixture(scope="module")
def ops_staff(flask_cli) -> Staff:
    """An ops account created the way an administrator does it (`flask staff create`)."""
    username, password = f"ops-{uuid.uuid4().hex[:6]}", "Console-Pass-2468"
    result = flask_cli("staff", "create", "--username", username, "--role", "ops",
                       "--password-stdin", stdin=password + "\n")
    assert result.returncode == 0, result.stderr
    uri = re.search(r"otpauth://\S+", result.stdout).group(0)
    return Staff(0, username, password, pyotp.parse_uri(uri).secret)


@pytest.fixture(scope="module")
def shared() -> dict:
    """What the browser test leaves for the loop test (its training run)."""
    return {}


@pytest.fixture(scope="module")
def db(stack) -> Iterator:
    engine = create_engine(stack.env["DATABASE_URL"])
    yield engine
    engine.dispose()


def rasa_status(stack) -> dict:
    return requests.get(f"{stack.url('rasa')}/status", params={"token": stack.env["RASA_TOKEN"]},
                        timeout=10).json()


def on_every_worker(stack, model_id: str) -> bool:
    """True once every Rasa worker process answers with `model_id` (each swaps on its own)."""
    seen = models_by_worker(stack.url("rasa"), stack.env["RASA_TOKEN"],
                            stack.processes["rasa"].popen.pid, model_id, SWITCH_TIMEOUT)
    return set(seen.values()) == {model_id}


def parse(stack, text_: str) -> dict:
    resp = requests.post(f"{stack.url('rasa')}/model/parse", json={"text": text_},
                         params={"token": stack.env["RASA_TOKEN"]}, timeout=30)
    resp.raise_for_status()
    return resp.json()["intent"]


@pytest.fixture(scope="module")
def misunderstood(stack, say) -> dict:
    """A greeting the live model does not understand (the fallback or a low confidence, so it
    is in the review inbox), said by a citizen through the WeChat callback."""
    for phrase in CANDIDATES:
        intent = parse(stack, phrase)
        if intent["name"] == "nlu_fallback" or intent["confidence"] < 0.6:
            break
    else:
        pytest.fail(f"the model is sure about every candidate greeting: {CANDIDATES}")
    say(f"o-ops-{uuid.uuid4().hex[:8]}", phrase)
    return {"text": phrase, "before": intent}


def api_login(stack, staff: Staff) -> dict[str, str]:
    resp = requests.post(f"{stack.url('web')}/api/v1/staff/login", timeout=10, json={
        "username": staff.username, "password": staff.password, "totp": staff.totp_now()})
    assert resp.status_code == 200, resp.text
    return bearer(resp.json()["access_token"])


def wait_for_run(stack, headers, run_id: int) -> dict:
    deadline = time.monotonic() + TRAINING_TIMEOUT
    while time.monotonic() < deadline:
        run = requests.get(f"{stack.url('web')}/api/v1/ops/training/{run_id}", headers=headers,
                           timeout=10).json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(5)
    pytest.fail(f"training run {run_id} did not finish in {TRAINING_TIMEOUT} s")


def record_undelivered(stack) -> int:
    """What huimin.wechat.delivery records when WeChat refuses a late answer."""
    db = Database(stack.env["DATABASE_URL"])
    try:
        with db.session() as session:
            return undelivered.record(
                session, openid=f"o-ops-{uuid.uuid4().hex[:8]}", sender_id="s-ops",
                message_key="m-1", kind=undelivered.ANSWER, reason="wechat refused (45015)",
                text="请致电 13812345678 确认失业金", errcode=45015).id
    finally:
        db.engine.dispose()


@pytest.mark.timeout(TRAINING_TIMEOUT + 300)
def test_browser_sign_in_annotate_and_train(stack, ops_staff, misunderstood, shared):
    ensure_chromium()
    from playwright.sync_api import expect, sync_playwright

    web = stack.url("web")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # A tablet in portrait, touch enabled: the console must work there.
        page = browser.new_page(viewport={"width": 820, "height": 1180}, has_touch=True,
                                locale="zh-CN")
        page.set_default_timeout(30_000)
        page.goto(f"{web}/ops/")
        expect(page.locator("#login h1")).to_have_text("惠民助手 · 运营后台")
        page.fill("input[name=username]", ops_staff.username)
        page.fill("input[name=password]", "wrong-password")
        page.fill("input[name=totp]", "000000")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
        page.fill("input[name=password]", ops_staff.password)
        page.fill("input[name=totp]", ops_staff.totp_now())
        page.click("#login-form button[type=submit]")
        expect(page.locator("#me-name")).to_have_text(ops_staff.username)

        # The inbox: search for the message and open it with its conversation.
        page.fill("input[name=q]", misunderstood["text"])
        page.click("#inbox-filters button[type=submit]")
        item = page.locator("#inbox-list .item").first
        expect(item.locator(".text")).to_have_text(misunderstood["text"])
        item.click()
        expect(page.locator(".bubble.focus")).to_contain_text(misunderstood["text"])
        page.select_option("#intent-select", "greet")
        page.click("#save-relabel")
        expect(page.locator("#flash")).to_have_text("已保存标注")
        page.goto(f"{web}/ops/#/inbox")
        page.select_option("select[name=status]", "reviewed")
        page.fill("input[name=q]", misunderstood["text"])
        page.click("#inbox-filters button[type=submit]")
        expect(page.locator("#inbox-list .item .chip.done").first).to_have_text("已改意图：greet")

        # An answer WeChat refused (45015): listed with the reason in words, masked, handled.
        row_id = record_undelivered(stack)
        page.goto(f"{web}/ops/#/undelivered")
        row = page.locator(f"#undelivered-table tr[data-id='{row_id}']")
        expect(row).to_contain_text("超过48小时未互动")
        expect(row).to_contain_text("138****5678")
        assert "13812345678" not in row.inner_text()
        row.locator("input.note").fill("已电话告知")
        row.locator("button[data-resolve]").click()
        expect(page.locator("#flash")).to_have_text(f"#{row_id} 已标记为已处理")
        expect(row).to_have_count(0)

        # Train, and watch the progress and log until it finishes.
        page.click("#nav a[data-tab=training]")
        clicked = time.time()
        page.click("#start-training")
        expect(page.locator("#run-status")).to_have_attribute(
            "data-status", re.compile("queued|running"))
        expect(page.locator("#run-log")).to_contain_text("导出完成", timeout=120_000)
        expect(page.locator("#run-status")).to_have_attribute(
            "data-status", re.compile("succeeded|failed"), timeout=TRAINING_TIMEOUT * 1000)
        log = page.locator("#run-log").inner_text()
        assert page.locator("#run-status").get_attribute("data-status") == "succeeded", log[-3000:]
        assert "$ rasa train" in log and "宏平均F1" in log and "已登记为模型" in log
        expect(page.locator("#run-model")).to_be_visible()
        model_id = int(page.locator("#run-model").inner_text().lstrip("#"))

        # The registry shows it with its evaluation and the gate's verdict.
        page.click("#run-model")
        expect(page.locator("#gate h3")).to_contain_text("上线检查")
        expect(page.locator(".kpi").nth(1)).to_contain_text("宏平均F1")
        shared.update(model_id=model_id, clicked=clicked, finished=time.time())
        browser.close()


@pytest.mark.timeout(TRAINING_TIMEOUT + SWITCH_TIMEOUT * 3)
def test_full_loop_activate_answer_and_roll_back(stack, ops_staff, misunderstood, shared, db,
                                                 flask_cli, say):
    web = f"{stack.url('web')}/api/v1/ops"
    headers = api_login(stack, ops_staff)
    timings: dict[str, float] = {}
    if "model_id" not in shared:  # run alone: annotate and train through the API
        inbox = requests.get(f"{web}/inbox", params={"q": misunderstood["text"], "status": "all"},
                             headers=headers, timeout=10).json()
        message_id = inbox["items"][0]["id"]
        requests.put(f"{web}/messages/{message_id}/annotation", headers=headers, timeout=10,
                     json={"action": "relabel", "intent": "greet"}).raise_for_status()
        shared["clicked"] = time.time()
        run = requests.post(f"{web}/training", headers=headers, timeout=10).json()
        run = wait_for_run(stack, headers, run["id"])
        assert run["status"] == "succeeded", run["error"]
        shared.update(model_id=run["model_id"], finished=time.time())
    timings["train_seconds"] = shared["finished"] - shared["clicked"]

    model = requests.get(f"{web}/models/{shared['model_id']}", headers=headers, timeout=10).json()
    assert model["annotation_count"] >= 1 and model["source"] == "training"
    assert 0.8 < model["evaluation"]["macro_f1"] <= 1 and model["evaluation"]["per_intent_f1"]
    previous = rasa_status(stack)
    live = requests.get(f"{web}/status", headers=headers, timeout=10).json()["active_model"]
    assert live["rasa_model_id"] == previous["model_id"] != model["rasa_model_id"]
    assert model["gate"]["ok"], model["gate"]["reasons"]
    assert model["diff"]["against"] == live["id"]  # compared with the live, evaluated model

    # A conversation in progress before the switch ...
    citizen = f"o-ops-{uuid.uuid4().hex[:8]}"
    assert "哪个区" in say(citizen, "社保局在哪里")["Content"]
    # ... and traffic all through it.
    failures: list[str] = []
    latencies: list[float] = []
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                resp = requests.post(f"{stack.url('rasa')}/webhooks/rest/webhook", timeout=60,
                                     json={"sender": f"load-{n % 5}", "message": "你好"})
                if resp.status_code != 200 or not resp.json():
                    failures.append(f"{resp.status_code} {resp.text[:100]}")
            except requests.RequestException as exc:
                failures.append(repr(exc))
            latencies.append(time.monotonic() - started)
            time.sleep(0.2)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    activated = time.time()
    resp = requests.post(f"{web}/models/{model['id']}/activate", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    assert on_every_worker(stack, model["rasa_model_id"]), "Rasa did not pick up the new model"
    answering = time.time()
    time.sleep(3)
    stop.set()
    sender.join(70)
    assert failures == [], failures[:5]
    timings.update(activation_to_answering=answering - activated,
                   train_click_to_answering=answering - shared["clicked"],
                   requests_during_switch=len(latencies), failed=len(failures),
                   max_latency=max(latencies),
                   median_latency=sorted(latencies)[len(latencies) // 2])

    # The new model understands what the old one did not; the conversation carried on.
    now = parse(stack, misunderstood["text"])
    assert now["name"] == "greet" and now["confidence"] >= 0.6, now
    answer = say(citizen, "东城区")["Content"]
    assert "人民路88号" in answer
    with db.connect() as conn:
        row = conn.execute(text(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'ops.model.activate' AND result = 'ok'"
        )).scalar()
    assert row == 1

    # Roll back from the command line (CI/CD); Rasa follows.
    rolled = flask_cli("model", "rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert f"#{live['id']}" in rolled.stdout
    rolled_at = time.time()
    assert on_every_worker(stack, previous["model_id"]), "Rasa did not go back to the model"
    timings["rollback_to_answering"] = time.time() - rolled_at
    back = parse(stack, misunderstood["text"])
    assert back["name"] == misunderstood["before"]["name"]
    assert back["confidence"] == pytest.approx(misunderstood["before"]["confidence"], abs=1e-3)
    with db.connect() as conn:
        actions = [r[0] for r in conn.execute(text(
            "SELECT action FROM audit_log WHERE action LIKE 'ops.model.%' ORDER BY seq"))]
    assert actions[-2:] == ["ops.model.activate", "ops.model.rollback"]
    listing = flask_cli("model", "list")
    assert re.search(rf"^\* #{live['id']} ", listing.stdout, re.M), listing.stdout
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps({k: round(v, 2) for k, v in timings.items()}, indent=2))
