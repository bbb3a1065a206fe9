"""Grid workers through the API, end to end: a resident consents by one tap, the grid worker
sees their benefits with reasons, confirms a notice for them, guides them step by step,
records a visit; the resident sees it all in /me/history and is told in WeChat; withdrawal
stops the grid worker at the next call; another grid's worker is refused; paper consent."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

import pytest
import requests
from rq import Queue, SimpleWorker
from sqlalchemy import select

from huimin.benefits.models import BenefitNotice
from huimin.grid import notify
from huimin.grid.models import GridConsentRequest, GridVisit
from huimin.guides.models import CareModeChoice
from huimin.identity.idcard import fake_id_number
from huimin.platform.db import utcnow
from huimin.platform.keys import pseudonym_secret
from huimin.privacy import audit, consent
from huimin.privacy.models import AuditEntry
from huimin.residents.models import Resident
from huimin.wechat.api import WeChatApi, WeChatError
from huimin.wechat.models import UndeliveredMessage, WechatUser
from jobs.queues import PUSH
from tests.api_fixtures import bearer, bind_real_name, citizen_login, create_staff, staff_login
from webapp.extensions import services

BIRTH = date(1950, 6, 15)
ID_NUMBER = fake_id_number(random.Random(8), birth=BIRTH, region="340104")
OA_OPENID = "oa-grandma"


def error_code(resp) -> str:
    return resp.get_json()["error"]["code"]


class World:
    """One resident (real-name bound, in grid G1, with WeChat) and the staff around her."""

    def __init__(self, app, client, emulator: str) -> None:
        self.app, self.client, self.emulator = app, client, emulator
        self.citizen = citizen_login(client, emulator)
        resp = bind_real_name(client, self.citizen.headers, "王秀英", ID_NUMBER)
        assert resp.status_code == 200, resp.get_json()
        with app.app_context(), services().db.session() as s:
            resident = s.scalars(select(Resident)).one()
            resident.grid_id = "G1"
            resident.facts_version += 1
            resident.local_hukou = True
            resident.birth_date = date(1944, 1, 1)  # 82: the elderly allowance applies
            self.resident_id = resident.id
            s.add(WechatUser(openid=OA_OPENID, pseudonym="u-grandma",
                             resident_id=resident.id))
            notice = BenefitNotice(
                resident_id=resident.id, policy="elderly_allowance", rule_version=1,
                as_of=date.today(), status="notified", delivery="official_account",
                expires_at=utcnow() + timedelta(days=60))
            s.add(notice)
            s.flush()
            self.notice_id = notice.id
        # She wrote to the official account a moment ago (WeChat's 48-hour window is open).
        requests.post(f"{emulator}/_emulator/users/{OA_OPENID}",
                      json={"last_interaction": time.time()}, timeout=5).raise_for_status()
        self.worker = create_staff(app, "wang_grid", ["grid_worker"], ["G1"])
        self.outsider = create_staff(app, "li_grid", ["grid_worker"], ["G2"])
        self.supervisor = create_staff(app, "zhao_check", ["grid_supervisor"], ["G1"])
        self.worker_headers = bearer(staff_login(client, self.worker))
        self.outsider_headers = bearer(staff_login(client, self.outsider))
        self.supervisor_headers = bearer(staff_login(client, self.supervisor))

    def grid(self, method: str, path: str, headers=None, **kwargs):
        url = f"/api/v1/grid/residents/{self.resident_id}{path}"
        return self.client.open(url, method=method, headers=headers or self.worker_headers,
                                **kwargs)

    def me(self, method: str, path: str, **kwargs):
        return self.client.open(f"/api/v1/me{path}", method=method,
                                headers=self.citizen.headers, **kwargs)

    def scheduled_sends(self) -> list[str]:
        with self.app.app_context():
            queue = Queue(PUSH, connection=services().redis)
            ids = queue.scheduled_job_registry.get_job_ids()
            jobs = [queue.fetch_job(i) for i in ids]
        return [j.id for j in jobs if j and j.func_name == "jobs.grid.notify_resident"
                and j.args == (self.resident_id,)]

    def deliver_notifications(self) -> str:
        """What the scheduled RQ job does, with this app's settings."""
        assert self.scheduled_sends(), "no send scheduled"
        with self.app.app_context():
            svc = services()
            return notify.send_queued(svc.db, WeChatApi(svc.settings, svc.redis), svc.redis,
                                      self.resident_id, pseudonym_secret(svc.settings))

    def wechat_messages(self) -> list[str]:
        resp = requests.get(f"{self.emulator}/_emulator/messages",
                            params={"touser": OA_OPENID}, timeout=5)
        return [m["body"]["text"]["content"] for m in resp.json()["messages"]
                if m.get("msgtype") == "text"]


@pytest.fixture
def world(api_app, api_client, emulator) -> World:
    return World(api_app, api_client, emulator)


def test_grid_worker_helps_a_resident_end_to_end(world):
    # On the worklist (a notice she has not answered), without consent yet.
    page = world.client.get("/api/v1/grid/worklist", headers=world.worker_headers).get_json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert item["resident_id"] == world.resident_id and item["name"] == "王**"
    assert item["reasons"] == ["pending_notice"] and item["consent_scopes"] == []
    assert world.client.get("/api/v1/grid/worklist", headers=world.outsider_headers
                            ).get_json()["total"] == 0

    # No consent: refused, and the refusal is audited.
    resp = world.grid("GET", "/benefits")
    assert resp.status_code == 403 and error_code(resp) == "consent_required"

    # She consents by one tap: the request reaches her WeChat with a mini-program link.
    resp = world.grid("POST", "/consent-requests", json={"scopes": ["grid_worker_assist"]})
    assert resp.status_code == 201, resp.get_json()
    request_id = resp.get_json()["id"]
    assert world.deliver_notifications() == "sent"
    (message,) = world.wechat_messages()
    assert "wang_grid" in message and "/my/assist?request=" in message
    assert f"request={request_id}" in message
    pending = world.me("GET", "/grid-consent-requests").get_json()["items"]
    assert [p["id"] for p in pending] == [request_id]
    resp = world.me("POST", f"/grid-consent-requests/{request_id}/accept")
    assert resp.status_code == 200 and resp.get_json()["status"] == "granted"
    given = {c["scope"]: c for c in world.me("GET", "/consents").get_json()["items"]}
    assert given["grid_worker_assist"]["active"] and given["grid_worker_assist"]["channel"] == \
        "miniapp"

    # Her benefits, with the reasons.
    resp = world.grid("GET", "/benefits")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    allowance = next(i for i in body["items"] if i["policy"] == "elderly_allowance")
    assert allowance["status"] == "eligible" and allowance["reasons"]
    assert allowance["notice"]["id"] == world.notice_id
    consent_id = body["consent_id"]

    # Confirm the notice for her: channel grid_worker, who, which consent.
    resp = world.grid("POST", f"/notices/{world.notice_id}/confirm")
    assert resp.status_code == 200, resp.get_json()
    confirmed = resp.get_json()
    assert confirmed["status"] == "confirmed"
    assert confirmed["response_channel"] == "grid_worker"
    assert confirmed["responded_by"] == world.worker.id
    assert confirmed["consent_id"] == consent_id
    again = world.grid("POST", f"/notices/{world.notice_id}/confirm")
    assert again.status_code == 200 and again.get_json()["confirmed_at"] == \
        confirmed["confirmed_at"]

    # A guide in assisted mode: care mode, the messages come back to the grid worker.
    resp = world.grid("POST", "/guides/pension_certification")
    assert resp.status_code == 200, resp.get_json()
    turn = resp.get_json()
    assert turn["event"] == "started" and turn["care_mode"] is True and turn["step"] == 1
    assert "我们一起办“养老金领取资格认证”" in turn["messages"][0]["text"]
    for _ in range(3):
        turn = world.grid("POST", "/guides/pension_certification/next").get_json()
    assert turn["step"] == 4 and turn["messages"][-1]["options"][0]["label"] == "找到了"
    turn = world.grid("POST", "/guides/pension_certification/answer", json={"choice": 2}
                      ).get_json()
    assert "别着急" in turn["messages"][0]["text"]  # the help step
    turn = world.grid("POST", "/guides/pension_certification/back").get_json()
    assert turn["step"] == 4
    assert world.grid("POST", "/guides/pension_certification/repeat").get_json()["step"] == 4
    turn = world.grid("POST", "/guides/pension_certification/stop").get_json()
    assert turn["event"] == "stopped"
    resumed = world.grid("POST", "/guides/pension_certification").get_json()
    assert resumed["event"] == "resume_offered"
    assert "上次做到第 4 步，继续吗？" in resumed["messages"][0]["text"]
    assert world.grid("POST", "/guides/no_such_guide").status_code == 404
    bad = world.grid("POST", "/guides/pension_certification/answer", json={"choice": "x"})
    assert bad.status_code == 422

    # A visit note; numbers typed into it are masked.
    resp = world.grid("POST", "/visits", json={"outcome": "helped",
                                               "note": "帮她认证，她女儿电话13812345678"})
    assert resp.status_code == 201, resp.get_json()
    assert "13812345678" not in resp.get_json()["note"]
    assert resp.get_json()["consent_id"] == consent_id
    assert len(world.grid("GET", "/visits").get_json()["items"]) == 1

    # Her own history says what was done for her, newest first.
    history = world.me("GET", "/history").get_json()
    assert history["total"] == 8
    assert [i["text"] for i in history["items"]] == [
        "查看了给您的走访记录",
        "上门走访：已协助办理",
        "接着帮您办“养老金领取资格认证”",
        "“养老金领取资格认证”先办到这里",
        "开始一步一步帮您办“养老金领取资格认证”",
        "帮您确认领取“高龄津贴”",
        "查看了您可以享受的政策",
        "请您授权网格员协助办理",
    ]
    assert {i["who"] for i in history["items"]} == {"网格员（wang_grid）"}

    # She was told about each action in WeChat, in one message (a visit is several actions).
    assert world.deliver_notifications() == "sent"
    told = world.wechat_messages()[-1]
    assert told == (
        "刚刚为您办了这些事：\n"
        "1. 网格员（wang_grid）查看了您可以享受的政策。\n"
        "2. 网格员（wang_grid）已帮您确认领取“高龄津贴”。有疑问请打 12333。\n"
        "3. 网格员（wang_grid）正在一步一步帮您办“养老金领取资格认证”。\n"
        "4. 网格员（wang_grid）记录了一次上门走访：已协助办理。\n"
        "不想再让网格员帮忙，可在公众号菜单“网格员帮办”里撤回。"
    )
    assert len(world.wechat_messages()) == 2

    # Everything is in the (intact) audit log.
    with world.app.app_context(), services().db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.target == f"resident:{world.resident_id}").order_by(AuditEntry.seq))]
        assert audit.verify_chain(s) == []
    for action in ("grid.benefits.view", "grid.consent.request", "consent.grant",
                   "benefit.confirm", "grid.guide.start", "grid.guide.stop",
                   "grid.visit.record"):
        assert action in actions


def test_withdrawal_stops_the_grid_worker_at_the_next_step(world):
    resp = world.grid("POST", "/consents", json={"scopes": ["guide"], "evidence": "photo-17"})
    assert resp.status_code == 201
    request_id = resp.get_json()["id"]
    # Not in force until a grid supervisor confirms; the recorder cannot.
    assert world.grid("POST", "/guides/employment_code").status_code == 403
    own = world.client.post(f"/api/v1/grid/consents/{request_id}/confirm",
                            headers=world.worker_headers)
    assert own.status_code == 403 and error_code(own) == "forbidden"  # not a supervisor
    listed = world.client.get("/api/v1/grid/consents/pending", headers=world.supervisor_headers)
    assert [r["id"] for r in listed.get_json()["items"]] == [request_id]
    item = listed.get_json()["items"][0]  # what the supervisor checks the photo against
    assert (item["resident_name"], item["grid_id"], item["requested_by_name"],
            item["evidence"]) == ("王**", "G1", "wang_grid", "photo-17")
    ok = world.client.post(f"/api/v1/grid/consents/{request_id}/confirm",
                           headers=world.supervisor_headers)
    assert ok.status_code == 200 and ok.get_json()["status"] == "granted"

    assert world.grid("POST", "/guides/employment_code").status_code == 200
    assert world.grid("POST", "/guides/employment_code/next").status_code == 200
    # The guide scope does not let them see her benefits.
    assert error_code(world.grid("GET", "/benefits")) == "consent_required"
    # Another grid's worker is refused whatever she consented to.
    other = world.grid("POST", "/guides/employment_code/next", headers=world.outsider_headers)
    assert other.status_code == 403 and error_code(other) == "not_your_grid"

    resp = world.me("DELETE", "/consents/guide")
    assert resp.status_code == 200 and resp.get_json()["withdrawn"] == 1
    blocked = world.grid("POST", "/guides/employment_code/next")
    assert blocked.status_code == 403 and error_code(blocked) == "consent_required"
    with world.app.app_context(), services().db.session() as s:
        denied = s.scalars(select(AuditEntry).where(
            AuditEntry.result == audit.DENIED,
            AuditEntry.target == f"resident:{world.resident_id}")).all()
    reasons = [(e.actor, e.detail["reason"]) for e in denied]
    assert (f"staff:{world.worker.id}", "consent_required") in reasons
    assert (f"staff:{world.outsider.id}", "not_your_grid") in reasons


def test_care_mode_setting(world):
    # 82 years old: care mode by age.
    body = world.me("GET", "/care-mode").get_json()
    assert body == {"care_mode": True, "source": "age", "choice": None, "age": 82,
                    "age_threshold": 60}
    off = world.me("PUT", "/care-mode", json={"care_mode": False}).get_json()
    assert off["care_mode"] is False and off["source"] == "choice"
    detail = world.client.get("/api/v1/guides/pension_certification",
                              headers=world.citizen.headers).get_json()
    assert detail["care_mode"] is False
    assert detail["steps"][0]["text"] == "打开微信，点右上角的放大镜。"
    back = world.me("PUT", "/care-mode", json={"care_mode": None}).get_json()
    assert back["care_mode"] is True and back["source"] == "age"
    detail = world.client.get("/api/v1/guides/pension_certification",
                              headers=world.citizen.headers).get_json()
    assert detail["care_mode"] is True
    assert detail["steps"][0]["text"] == "打开微信。点右上角的放大镜。"
    assert world.me("PUT", "/care-mode", json={}).status_code == 422


def test_guides_for_the_mini_program(api_client):
    listing = api_client.get("/api/v1/guides").get_json()
    assert listing["care_mode"] is False
    assert {g["key"] for g in listing["items"]} >= {
        "pension_certification", "social_security_card", "contribution_record",
        "unemployment_claim", "retirement_application", "employment_code"}
    detail = api_client.get("/api/v1/guides/pension_certification?care_mode=true").get_json()
    assert detail["care_mode"] is True and detail["prepare"][0] == "本人身份证"
    check = next(s for s in detail["steps"] if s["check"])
    assert check["check"]["options"][0] == {"number": 1, "label": "找到了"}
    assert api_client.get("/api/v1/guides/nope").status_code == 404


def test_admin_sets_grid_assignments(api_app, api_client, emulator):
    admin = create_staff(api_app, "root_admin", ["admin"])
    worker = create_staff(api_app, "zhou_grid", ["grid_worker"], ["G1"])
    verifier = create_staff(api_app, "qian_check", ["verifier"])
    headers = bearer(staff_login(api_client, admin))
    resp = api_client.put(f"/api/v1/grid/assignments/{worker.id}", headers=headers,
                          json={"grids": ["G3", " G2 ", "G3"]})
    assert resp.status_code == 200 and resp.get_json()["grids"] == ["G2", "G3"]
    summary = api_client.get("/api/v1/grid/assignments", headers=headers).get_json()["items"]
    assert {(g["grid_id"], tuple(g["workers"])) for g in summary} == {
        ("G2", ("zhou_grid",)), ("G3", ("zhou_grid",))}
    refused = api_client.put(f"/api/v1/grid/assignments/{verifier.id}", headers=headers,
                             json={"grids": ["G1"]})
    assert refused.status_code == 422
    assert api_client.put("/api/v1/grid/assignments/99999", headers=headers,
                          json={"grids": []}).status_code == 404


def test_notification_is_sent_by_the_real_worker_code(world, monkeypatch):
    """The scheduled job, run by RQ's own worker code with the environment the worker
    process has, sends one message for the actions of the minute."""
    settings = world.app.extensions["huimin"].settings
    for name, value in (("DATABASE_URL", settings.database_url),
                        ("REDIS_URL", settings.redis_url),
                        ("WECHAT_API_BASE", settings.wechat_api_base)):
        monkeypatch.setenv(name, value)
    resp = world.grid("POST", "/consents", json={"scopes": ["grid_worker_assist"],
                                                 "evidence": "photo-3"})
    request_id = resp.get_json()["id"]
    world.client.post(f"/api/v1/grid/consents/{request_id}/confirm",
                      headers=world.supervisor_headers)
    world.grid("POST", "/visits", json={"outcome": "met"})
    world.grid("POST", "/visits", json={"outcome": "met"})
    (job_id,) = world.scheduled_sends()  # several actions, one send
    with world.app.app_context():
        conn = services().redis
        queue = Queue(PUSH, connection=conn)
        queue.scheduled_job_registry.remove(job_id)
        queue.enqueue_job(queue.fetch_job(job_id))  # what RQ's scheduler does when it is due
        SimpleWorker([queue], connection=conn).work(burst=True)
        assert queue.fetch_job(job_id).return_value() == "sent"
    (message,) = world.wechat_messages()
    assert message.startswith(
        "刚刚为您办了这些事：\n1. 您签字同意网格员协助办理，已登记，30 天内有效。")
    assert message.count("记录了一次上门走访：见到本人") == 2


def test_account_deletion_erases_what_grid_features_keep(world):
    world.grid("POST", "/consents", json={"scopes": ["guide"], "evidence": "p-1"})
    world.grid("POST", "/consent-requests", json={"scopes": ["guide"]})
    with world.app.app_context(), services().db.session() as s:
        consent.grant(s, world.resident_id, "grid_worker_assist", "miniapp",
                          expires_at=utcnow() + timedelta(days=30))
    assert world.grid("POST", "/visits", json={"outcome": "met", "note": "腿脚不便"}
                      ).status_code == 201
    world.me("PUT", "/care-mode", json={"care_mode": True})
    assert world.me("DELETE", "").status_code == 204
    with world.app.app_context(), services().db.session() as s:
        assert {r.status for r in s.scalars(select(GridConsentRequest))} == {"expired"}
        (visit,) = s.scalars(select(GridVisit))
        assert visit.note == "" and visit.outcome == "met" and visit.staff_id == world.worker.id
        assert s.scalars(select(CareModeChoice)).all() == []
    # And the grid worker is stopped: every consent ended with the account.
    assert error_code(world.grid("GET", "/visits")) in ("consent_required", "not_your_grid")


def test_wechat_busy_keeps_the_lines_for_the_retry_and_a_closed_window_ends_it(world):
    world.grid("POST", "/consent-requests", json={"scopes": ["guide"]})
    requests.post(f"{world.emulator}/_emulator/faults", json={
        "path": "/cgi-bin/message/custom/send", "errcode": -1, "count": 1}, timeout=5)
    with pytest.raises(WeChatError):  # the job fails and RQ retries it
        world.deliver_notifications()
    assert world.wechat_messages() == []
    assert world.deliver_notifications() == "sent"  # the retry sends the kept lines
    assert len(world.wechat_messages()) == 1
    # Two days without a message from her: WeChat refuses for good; the history still shows it.
    requests.post(f"{world.emulator}/_emulator/users/{OA_OPENID}",
                  json={"last_interaction": time.time() - 3 * 86400}, timeout=5)
    world.grid("POST", "/consent-requests", json={"scopes": ["guide"]})
    assert world.deliver_notifications() == "refused:45015"
    assert world.deliver_notifications() == "nothing"
    with world.app.app_context(), services().db.session() as s:
        (kept,) = s.scalars(select(UndeliveredMessage)).all()
        assert kept.openid == OA_OPENID and kept.errcode == 45015
        assert "想协助您办理" in kept.text
    assert world.me("GET", "/history").get_json()["total"] == 2
