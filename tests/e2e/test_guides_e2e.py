"""A guide through the real stack: signed WeChat XML -> callback -> Rasa (trained model) ->
action server -> Redis sessions, with digits mapped to the numbered lines, words and a voice
message, leaving and coming back, care mode from the resident's birth date."""

from __future__ import annotations

import time
import uuid
from datetime import date

import pytest
import requests
from sqlalchemy import create_engine, text

from huimin.platform.keys import pseudonym_secret
from huimin.platform.settings import load_settings
from huimin.wechat import users as wechat_users
from huimin.wechat.conversation import FALLBACK_TEXT

pytestmark = pytest.mark.e2e


class Resident:
    def __init__(self, stack) -> None:
        self.stack = stack
        self.openid = f"o-guide-{uuid.uuid4().hex[:10]}"
        self.emulator, self.web = stack.url("emulator"), stack.url("web")

    def send(self, msg_type: str, **fields) -> str:
        env = requests.post(f"{self.emulator}/_emulator/envelope",
                            json={"openid": self.openid, "msg_type": msg_type, **fields},
                            timeout=5).json()
        resp = requests.post(f"{self.web}/wechat/callback", params=env["query"],
                             data=env["body"].encode(), headers={"Content-Type": "text/xml"},
                             timeout=15)
        assert resp.status_code == 200, resp.text
        opened = requests.post(f"{self.emulator}/_emulator/open",
                               json={"body": resp.text, "query": env["query"]}, timeout=5).json()
        return opened.get("content", "")

    def say(self, words: str) -> str:
        return self.send("text", content=words)

    def speak(self, recognised: str) -> str:
        return self.send("voice", recognition=recognised, media_id="voice-1", format="amr")

    def aged(self, birth: date) -> None:
        """Link this WeChat user to a resident with this birth date (as an import would)."""
        sender = wechat_users.pseudonym(self.openid, pseudonym_secret(load_settings()))
        engine = create_engine(self.stack.env["DATABASE_URL"])
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO residents (external_id, birth_date, wechat_channel, push_opt_out, "
                "created_at, updated_at, facts_version) VALUES (:ext, :birth, 1, 0, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"), {"ext": self.openid, "birth": birth})
            conn.execute(text(
                "UPDATE wechat_users SET resident_id = (SELECT id FROM residents WHERE "
                "external_id = :ext) WHERE pseudonym = :sender"),
                {"ext": self.openid, "sender": sender})
        engine.dispose()


def test_an_older_resident_is_guided_step_by_step(stack):
    user = Resident(stack)
    # First contact creates the WeChat user record. An earlier test may have stopped Rasa:
    # wait until the channel no longer answers with its "assistant busy" apology.
    deadline = time.monotonic() + 90
    while FALLBACK_TEXT in user.say("你好"):
        assert time.monotonic() < deadline, "the assistant did not come back"
        time.sleep(5)
    user.aged(date(1950, 5, 1))

    first = user.say("教我做养老金认证")
    assert "我们一起办“养老金领取资格认证”" in first and "本人身份证" in first
    assert "第 1 步，共 11 步。" in first and "打开微信。点右上角的放大镜。" in first
    assert "回复 1：下一步" in first and "回复 5：转人工" in first
    assert first.rstrip().endswith("要人帮忙：回复“转人工”，或打 12333。")

    assert "第 2 步，共 11 步。" in user.say("1")  # the digit is the numbered line 下一步
    assert "第 3 步，共 11 步。" in user.say("下一步")
    again = user.say("再说一遍")
    assert "第 3 步，共 11 步。" in again and "点“搜索”" in again
    assert "第 2 步，共 11 步。" in user.say("上一步")
    assert "第 3 步" in user.speak("下一步。")  # a voice message: WeChat's recognised text
    question = user.say("1")
    assert "第 4 步" in question and "找到了吗？" in question and "回复 1：找到了" in question
    help_step = user.say("没找到")
    assert "别着急" in help_step and "我们再写一次" in help_step

    stopped = user.say("不办了")
    assert "先不办了" in stopped
    offer = user.say("教我做养老金认证")
    assert "上次做到第 4 步，继续吗？" in offer
    assert "回复 1：继续" in offer and "回复 2：重新开始" in offer
    resumed = user.say("1")
    assert "接着上次" in resumed and "我们再写一次" in resumed
