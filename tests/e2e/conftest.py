"""End-to-end helpers: talk to the running stack exactly as WeChat and a citizen would."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from huimin.platform.settings import load_settings
from tests.e2e.pages_support import browser  # noqa: F401 - the page tests' Chromium
from tests.wechat import envelope, open_reply, text_xml

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def wechat_settings(stack):
    """The settings the stack runs with (defaults plus the stack's URLs)."""
    return dataclasses.replace(load_settings(), wechat_api_base=stack.url("emulator"))


@pytest.fixture(scope="session")
def say(stack, wechat_settings):
    """Send one text as a WeChat user to the real callback; return the opened passive reply."""

    def _say(openid: str, text: str, timeout: float = 10) -> dict:
        query, body = envelope(wechat_settings, text_xml(openid, text))
        resp = requests.post(f"{stack.url('web')}/wechat/callback", params=query, data=body,
                             headers={"Content-Type": "text/xml"}, timeout=timeout)
        assert resp.status_code == 200, resp.text
        if resp.text in {"", "success"}:
            return {"MsgType": "success", "Content": ""}
        return open_reply(wechat_settings, query, resp.content)

    return _say
