"""The outbound WeChat client against the emulator: shared token, refresh-once, error codes."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import requests

from huimin.platform.settings import load_settings
from huimin.wechat.api import WeChatApi, WeChatError


@pytest.fixture
def settings(emulator):
    return dataclasses.replace(load_settings(), wechat_api_base=emulator)


def interact(emulator: str, openid: str) -> None:
    """The user sends a message, which opens WeChat's 48-hour reply window."""
    requests.post(f"{emulator}/_emulator/envelope",
                  json={"openid": openid, "msg_type": "text", "content": "hi"},
                  timeout=5).raise_for_status()


def token_calls(emulator: str) -> int:
    calls = requests.get(f"{emulator}/_emulator/calls", params={"path": "/cgi-bin/token"},
                         timeout=5).json()["calls"]
    return len(calls)


def test_send_text_reaches_the_user(settings, emulator, redis_conn):
    interact(emulator, "o-api-1")
    WeChatApi(settings, redis_conn).send_text("o-api-1", "您好，这是回复")
    msgs = requests.get(f"{emulator}/_emulator/messages", params={"touser": "o-api-1"},
                        timeout=5).json()["messages"]
    assert [m["body"]["text"]["content"] for m in msgs] == ["您好，这是回复"]


def test_reply_window_passed_is_reported_with_wechat_code(settings, emulator, redis_conn):
    requests.post(f"{emulator}/_emulator/users/o-api-2",
                  json={"subscribed": True, "last_interaction": 1}, timeout=5)
    with pytest.raises(WeChatError) as err:
        WeChatApi(settings, redis_conn).send_text("o-api-2", "迟到的回复")
    assert err.value.errcode == 45015


def test_token_is_fetched_once_for_all_processes(settings, emulator, redis_conn):
    interact(emulator, "o-api-3")
    apis = [WeChatApi(settings, redis_conn) for _ in range(6)]
    threads = [threading.Thread(target=a.send_text, args=("o-api-3", "并发")) for a in apis[:4]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert token_calls(emulator) == 1


def test_invalid_token_refreshes_once_and_retries(settings, emulator, redis_conn):
    interact(emulator, "o-api-4")
    api = WeChatApi(settings, redis_conn)
    api.send_text("o-api-4", "第一条")
    requests.post(f"{emulator}/_emulator/tokens/expire", json={}, timeout=5).raise_for_status()
    api.send_text("o-api-4", "第二条")
    assert token_calls(emulator) == 2
    requests.post(f"{emulator}/_emulator/faults",
                  json={"path": "/cgi-bin/message/custom/send", "errcode": 40001, "count": 5},
                  timeout=5).raise_for_status()
    with pytest.raises(WeChatError) as err:
        api.send_text("o-api-4", "第三条")
    assert err.value.errcode == 40001  # refreshed once, retried once, then gave up


def test_jscode2session(settings, emulator, redis_conn):
    settings = dataclasses.replace(settings)
    code = requests.post(f"{emulator}/_emulator/login", json={"openid": "o-mini-1"},
                         timeout=5).json()["code"]
    api = WeChatApi(settings, redis_conn, miniapp=True)
    assert api.jscode2session(code)["openid"] == "o-mini-1"
    with pytest.raises(WeChatError) as err:
        api.jscode2session(code)
    assert err.value.errcode == 40163
