"""The `show_employment_code` action with a real rasa_sdk Tracker and CollectingDispatcher,
a real database and the WeChat emulator process receiving the uploaded QR image."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import zxingcpp
from PIL import Image
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import context
from bot.actions.employment_code import (
    MISSING_FACTS,
    NOT_BOUND,
    SEND_FAILED,
    ActionShowEmploymentCode,
)
from huimin.employment_code import EmploymentCodes, Reason, generate_key, store
from huimin.platform.db import Database, utcnow
from huimin.platform.settings import EmploymentCodeSettings
from huimin.residents.models import Resident
from huimin.wechat.models import WechatUser
from tests.actions.recorded import recorded


@pytest.fixture
def env(
    db_url: str, redis_url: str, redis_conn, emulator: str, tmp_path: Path, serve,
) -> dict[str, str]:
    """The action server's settings pointed at this test's database, Redis, emulator, keys."""
    key_dir = tmp_path / "keys"
    generate_key("t1", key_dir, activates_at=utcnow() - timedelta(minutes=1))
    serve(database_url=db_url, redis_url=redis_url, wechat_api_base=emulator,
          employment_code=EmploymentCodeSettings(key_dir=key_dir))
    return {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "WECHAT_API_BASE": emulator,
            "EMPLOYMENT_CODE_KEY_DIR": str(key_dir)}


def tracker(sender: str) -> Tracker:
    return recorded("employment_code_asked", sender_id=sender)


def add_user(db: Database, emulator: str, openid: str, pseudonym: str,
             **facts: object) -> int | None:
    """A WeChat follower who just wrote to the official account; bound when facts given."""
    requests.post(f"{emulator}/_emulator/envelope", json={
        "openid": openid, "msg_type": "text", "content": "我的就业码", "mode": "plain"},
        timeout=5).raise_for_status()
    with db.session() as s:
        resident_id = None
        if facts:
            resident = Resident(external_id=f"ext-{openid}", **facts)
            s.add(resident)
            s.flush()
            resident_id = resident.id
        s.add(WechatUser(openid=openid, pseudonym=pseudonym, resident_id=resident_id))
    return resident_id


def messages(emulator: str, openid: str) -> list[dict]:
    return requests.get(f"{emulator}/_emulator/messages", params={"touser": openid},
                        timeout=5).json()["messages"]


def run(sender: str) -> list[str]:
    dispatcher = CollectingDispatcher()
    assert ActionShowEmploymentCode().run(dispatcher, tracker(sender), {}) == []
    return [m["text"] for m in dispatcher.messages]


def test_bound_resident_gets_the_qr_image_and_colour_in_wechat(env, emulator):
    db = context.database()
    resident_id = add_user(db, emulator, "o-ec-1", "u-ec-1", employment_status="unemployed",
                           registered_unemployed=True)
    [text] = run("u-ec-1")
    assert "蓝码 · 正在求职" in text and "岗位推荐" in text and "10分钟" in text

    [image] = messages(emulator, "o-ec-1")
    assert image["kind"] == "custom" and image["msgtype"] == "image"
    media = requests.get(f"{emulator}/_emulator/media/{image['body']['image']['media_id']}",
                         timeout=5)
    assert media.ok and media.content.startswith(b"\x89PNG")
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(media.content)).convert("L"))
    codes = EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": env["EMPLOYMENT_CODE_KEY_DIR"]})
    with db.session() as s:
        outcome = store.verify_code(s, codes, barcode.text, store.Verifier())
    assert outcome.verification.reason is Reason.OK
    assert outcome.verification.colour.value == "blue"
    assert outcome.record.resident_id == resident_id


def test_unbound_user_is_told_how_to_bind_and_nothing_is_sent(env, emulator):
    db = context.database()
    add_user(db, emulator, "o-ec-2", "u-ec-2")  # follows the account, not bound to a resident
    assert run("u-ec-2") == [NOT_BOUND]
    assert run("u-never-seen") == [NOT_BOUND]
    assert "小程序" in NOT_BOUND and "绑定" in NOT_BOUND
    assert messages(emulator, "o-ec-2") == []


def test_resident_without_employment_facts_is_asked_to_complete_them(env, emulator):
    add_user(context.database(), emulator, "o-ec-3", "u-ec-3", local_hukou=True)
    assert run("u-ec-3") == [MISSING_FACTS]
    assert messages(emulator, "o-ec-3") == []


def test_wechat_refusing_the_upload_is_reported_plainly(env, emulator):
    add_user(context.database(), emulator, "o-ec-4", "u-ec-4", employment_status="employed")
    requests.post(f"{emulator}/_emulator/faults", json={
        "path": "/cgi-bin/media/upload", "errcode": 45009, "count": 1}, timeout=5,
    ).raise_for_status()
    assert run("u-ec-4") == [SEND_FAILED]
    assert messages(emulator, "o-ec-4") == []
