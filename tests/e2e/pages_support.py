"""Shared by the page tests (tests/e2e/test_pages_*.py): a small real stack per module (web
under gunicorn, the RQ worker, the WeChat emulator; no Rasa, which these pages never call),
Debian's Chromium at phone size, and the checks every page must pass: axe-core with no
serious or critical violation, and text and touch-target sizes from computed styles
(normal mode: text >= 16 px, targets >= 44 px; care mode, per the 适老化 specification:
text >= 18 pt = 24 px, targets >= 60 x 60 pt = 80 x 80 px)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scripts.stack import ROOT, free_port, stack_env
from tests.conftest import Stack
from tests.debian import ensure_installed
from tests.e2e.test_ops_console import CHROMIUM, CHROMIUM_ARGS, ensure_chromium
from tests.services import claimed_redis_db

SCREENS = ROOT / "docs" / "screens"
PHONE = {"width": 390, "height": 844}
NORMAL = {"text": 16, "target": 44}
CARE = {"text": 24, "target": 80}  # 18 pt and 60 pt in CSS pixels (1 pt = 4/3 px)


@pytest.fixture(scope="module", name="stack")
def page_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The page-test module's own small stack, in place of the full session stack in the
    module that imports it: web, worker and emulator on free ports with their own Redis
    database and SQLite."""
    page = request.module.__name__.rsplit("_", 1)[-1]  # test_pages_my -> my
    tmp = tmp_path_factory.mktemp(f"pages-{page}")
    with claimed_redis_db() as redis_url:
        ports = {name: free_port() for name in ("web", "rasa", "actions", "emulator")}
        env = stack_env(dict(os.environ), ports, redis_url, f"sqlite:///{tmp / 'pages.db'}")
        env.update(SIMULATOR_ENABLED="1", BENEFIT_QUIET_HOURS="0-0",
                   EMPLOYMENT_CODE_KEY_DIR=str(tmp / "keys"))
        subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "init-db"],
                       check=True, cwd=ROOT, env=env, capture_output=True)
        stack = Stack(env=env)
        try:
            for name in ("emulator", "worker", "web"):
                stack.start(name, wait=False)
            for name in ("emulator", "worker", "web"):
                stack.wait(name)
            yield stack
        finally:
            stack.close()


def flask(stack: Stack, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", *args], cwd=ROOT,
                          env=stack.env, input=stdin, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def import_residents(stack: Stack, tmp: Path, rows: list[dict[str, str]]) -> dict[str, int]:
    """Through the bureau's import (`flask residents import --no-match`: the tests run the
    matching themselves); external_id -> resident id."""
    path = tmp / "residents.csv"
    fields = sorted({k for row in rows for k in row})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    flask(stack, "residents", "import", "--no-match", str(path))
    with db(stack).connect() as conn:
        return {r[0]: r[1] for r in conn.execute(text("SELECT external_id, id FROM residents"))}


def db(stack: Stack):
    return create_engine(stack.env["DATABASE_URL"])


def create_staff(stack: Stack, username: str, role: str, grids: tuple[str, ...],
                 password: str) -> None:
    args = ["staff", "create", "--username", username, "--role", role, "--password-stdin"]
    for grid in grids:
        args += ["--grid", grid]
    flask(stack, *args, stdin=password + "\n")


CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def ensure_cjk_font() -> None:
    """Headless Chromium draws Chinese as boxes without a CJK font (the screenshots in
    docs/screens/ must be readable): Debian's small WenQuanYi Micro Hei."""
    ensure_installed(str(CJK_FONT), "fonts-wqy-microhei")


@pytest.fixture(scope="module")
def browser():
    ensure_chromium()
    ensure_cjk_font()
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions do: a page's first load takes seconds on a busy
    # 2-core machine (expect's own default, 5 s, made a page test flaky under load).
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def phone(browser, **extra):
    """A new phone: its own cookies and storage."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai", **extra)
    context.set_default_timeout(20_000)
    return context


_SIZES = """(limits) => {
  const problems = [];
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"; };
  const body = parseFloat(getComputedStyle(document.body).fontSize);
  if (body < limits.text) problems.push("body text " + body + "px");
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode; const el = node.parentElement;
    if (!node.textContent.trim() || !el || !visible(el) || el.closest("script,style")) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < limits.text - 0.01)
      problems.push("text " + size + "px: " + node.textContent.trim().slice(0, 20));
  }
  for (const el of document.querySelectorAll("a[href], button, input, select, textarea, summary")) {
    if (!visible(el)) continue;
    let box = el.getBoundingClientRect();
    const label = el.closest("label");
    if (el.matches("input[type=checkbox], input[type=radio]") && label)
      box = label.getBoundingClientRect();
    if (box.height < limits.target - 0.5 || box.width < limits.target - 0.5)
      problems.push("target " + Math.round(box.width) + "x" + Math.round(box.height) + ": "
                    + (el.textContent || el.name || el.id).trim().slice(0, 20));
  }
  return problems;
}"""


def check_page(page, care: bool) -> None:
    """axe-core: no serious or critical violation; sizes from computed styles."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [v for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"{page.url}: " + results.generate_report()
    limits = CARE if care else NORMAL
    is_care = page.evaluate("document.documentElement.classList.contains('care')")
    assert is_care == care, f"{page.url}: care mode is {'on' if is_care else 'off'}"
    problems = page.evaluate(_SIZES, limits)
    assert not problems, f"{page.url} ({'care' if care else 'normal'} mode): {problems[:8]}"


def screenshot(page, name: str) -> None:
    """Viewport only, to keep the committed PNGs small."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"))
