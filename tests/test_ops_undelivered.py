"""Undelivered WeChat messages in the ops console: the domain functions on both databases, and
the API (/api/v1/ops/undelivered) signed in as real ops staff with password and TOTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from huimin.identity.models import CitizenAccount
from huimin.ops.tickets import Staff as TicketStaff
from huimin.platform.db import Database, utcnow
from huimin.privacy import audit
from huimin.privacy.masking import mask_openid
from huimin.wechat import undelivered
from huimin.wechat.models import UndeliveredMessage
from tests.api_fixtures import bearer, create_staff, staff_login
from webapp.extensions import services

OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def seed(session, n: int = 1, *, start_minutes_ago: int = 600, **fields) -> list[int]:
    """``n`` rows one minute apart (oldest first); returns their ids."""
    ids = []
    for i in range(n):
        row = undelivered.record(
            session, openid=fields.get("openid", OPENID), sender_id=fields.get("sender", "p-1"),
            message_key=f"m{i}", kind=fields.get("kind", undelivered.ANSWER),
            text=fields.get("text", f"回答 {i}"),
            reason=fields.get("reason", "wechat refused (45015)"),
            errcode=fields.get("errcode", 45015),
        )
        row.created_at = utcnow() - timedelta(minutes=start_minutes_ago - i)
        ids.append(row.id)
    session.flush()
    return ids


# ---- domain ------------------------------------------------------------------------------------


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    yield database
    database.engine.dispose()


def test_list_count_and_resolve(db):
    staff = TicketStaff(actor="staff:7", name="anna", ip="10.0.0.1")
    with db.session() as s:
        old, mid, new = seed(s, 3)
    with db.session() as s:
        assert [r.id for r in s.scalars(undelivered.list_query())] == [new, mid, old]
        assert undelivered.count_open(s) == 3
        row = undelivered.resolve(s, mid, staff, "  已电话联系 13812345678 ")
        first_at = row.resolved_at
        assert (row.resolved_by, row.resolved_by_name) == ("staff:7", "anna")
        assert row.resolution_note == "已电话联系 138****5678"
    with db.session() as s:
        assert [r.id for r in s.scalars(undelivered.list_query(undelivered.OPEN))] == [new, old]
        assert [r.id for r in s.scalars(undelivered.list_query(undelivered.RESOLVED))] == [mid]
        assert [r.id for r in s.scalars(undelivered.list_query(undelivered.ALL))] == [
            new, mid, old]
        assert undelivered.count_open(s) == 2
        # Idempotent: a colleague's second mark keeps the first one's who, when and note.
        again = undelivered.resolve(s, mid, TicketStaff("staff:8", "bob", None), "重复")
        assert (again.resolved_by, again.resolution_note) == ("staff:7", "已电话联系 138****5678")
        assert utc(again.resolved_at) == utc(first_at)
    with db.session() as s, pytest.raises(undelivered.UndeliveredNotFound):
        undelivered.resolve(s, 999999, staff)
    with db.session() as s:
        entries = s.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq)).all()
        assert [(e.actor, e.action, e.target) for e in entries] == [
            ("staff:7", "ops.undelivered.resolve", f"wechat_undelivered:{mid}"),
            ("staff:8", "ops.undelivered.resolve", f"wechat_undelivered:{mid}"),
        ]
        assert [e.detail["already_resolved"] for e in entries] == [False, True]
        assert entries[0].ip == "10.0.0.1"
        assert audit.verify_chain(s) == []
    with pytest.raises(ValueError):
        undelivered.list_query("closed")


@pytest.mark.parametrize(("errcode", "reason", "expected"), [
    (45015, "wechat refused (45015)", "超过48小时未互动，无法主动发送"),
    (45047, "wechat refused (45047)", "客服消息条数已达上限（需等市民回复后才能再发）"),
    (45015, "reply window passed", "超过48小时未互动，无法主动发送"),
    (None, "user unsubscribed", "市民已取消关注公众号，无法发送"),
    (None, "queue unavailable", "系统排队服务暂时不可用，问题未能转交助手"),
    (None, "wechat unavailable (-1)", "微信接口暂时不可用，未能发送"),
    (40099, "wechat refused (40099)", "微信拒绝发送（错误码 40099）"),
    (None, "something new", "未能送达（something new）"),
])
def test_reasons_in_plain_chinese(errcode, reason, expected):
    row = UndeliveredMessage(reason=reason, errcode=errcode)
    assert undelivered.explain(row) == expected


def test_openid_masked():
    assert mask_openid(OPENID) == "o6_b" + "*" * 20 + "fL2M"
    assert mask_openid("o-fuzz-1") == "o-" + "****" + "-1"
    assert mask_openid("abc") == "***"
    assert mask_openid("") == ""


# ---- API ---------------------------------------------------------------------------------------


@pytest.fixture
def ops_staff(api_app):
    return create_staff(api_app, "ops-olga", ["ops"])


@pytest.fixture
def ops_headers(api_client, ops_staff) -> dict[str, str]:
    return bearer(staff_login(api_client, ops_staff))


def seed_app(app, n: int = 1, **fields) -> list[int]:
    with app.app_context(), services().db.session() as s:
        return seed(s, n, **fields)


def test_listing_masks_and_explains(api_app, api_client, ops_headers):
    (answer,) = seed_app(api_app, text="您的电话13812345678已登记")
    (question,) = seed_app(api_app, start_minutes_ago=5, kind=undelivered.QUESTION,
                           text="养老金怎么领", reason="queue unavailable", errcode=None)
    resp = api_client.get("/api/v1/ops/undelivered", headers=ops_headers)
    assert resp.status_code == 200
    page = resp.get_json()
    assert (page["total"], page["page"]) == (2, 1)
    assert [r["id"] for r in page["items"]] == [question, answer]  # newest first
    q, a = page["items"]
    assert (q["kind"], q["kind_label"], q["reason_text"], q["errcode"]) == (
        "question", "提问未处理", "系统排队服务暂时不可用，问题未能转交助手", None)
    assert (a["kind_label"], a["reason_text"], a["errcode"]) == (
        "回答未送达", "超过48小时未互动，无法主动发送", 45015)
    assert a["text"] == "您的电话138****5678已登记"
    assert a["openid"] == "o6_b" + "*" * 20 + "fL2M"
    assert OPENID not in resp.get_data(as_text=True)
    assert a["resolved_at"] is None and a["created_at"].endswith("+00:00")
    status = api_client.get("/api/v1/ops/status", headers=ops_headers).get_json()
    assert status["open_undelivered"] == 2


def test_pagination_and_status_filter(api_app, api_client, ops_headers):
    ids = seed_app(api_app, 5)
    newest_first = list(reversed(ids))
    got = []
    for page in (1, 2, 3):
        body = api_client.get("/api/v1/ops/undelivered", headers=ops_headers,
                              query_string={"page": page, "per_page": 2}).get_json()
        assert (body["total"], body["per_page"]) == (5, 2)
        got += [r["id"] for r in body["items"]]
    assert got == newest_first
    api_client.post(f"/api/v1/ops/undelivered/{ids[0]}/resolve", json={}, headers=ops_headers)
    for status, expected in [("open", newest_first[:4]), ("resolved", [ids[0]]),
                             ("all", newest_first)]:
        body = api_client.get("/api/v1/ops/undelivered", headers=ops_headers,
                              query_string={"status": status}).get_json()
        assert [r["id"] for r in body["items"]] == expected, status
    bad = api_client.get("/api/v1/ops/undelivered", headers=ops_headers,
                         query_string={"status": "closed", "page": 0})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"status", "page"}


def test_resolve_is_audited_idempotent_and_404s(api_app, api_client, ops_staff, ops_headers):
    (row_id,) = seed_app(api_app)
    url = f"/api/v1/ops/undelivered/{row_id}/resolve"
    resp = api_client.post(url, json={"note": "已电话联系，市民已办理"}, headers=ops_headers)
    assert resp.status_code == 200
    done = resp.get_json()
    assert done["resolved_at"] and done["resolved_by_name"] == "ops-olga"
    assert done["resolved_by"] == f"staff:{ops_staff.id}"
    assert done["resolution_note"] == "已电话联系，市民已办理"
    again = api_client.post(url, json={}, headers=ops_headers)
    assert again.status_code == 200
    assert again.get_json()["resolved_at"] == done["resolved_at"]
    assert again.get_json()["resolution_note"] == "已电话联系，市民已办理"
    assert api_client.get("/api/v1/ops/status", headers=ops_headers).get_json()[
        "open_undelivered"] == 0

    missing = api_client.post("/api/v1/ops/undelivered/999999/resolve", json={},
                              headers=ops_headers)
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error["code"] == "not_found" and error["fields"] == {"message_id": "没有这条记录"}
    too_long = api_client.post(url, json={"note": "长" * 501}, headers=ops_headers)
    assert too_long.status_code == 422
    assert too_long.get_json()["error"]["fields"] == {"note": "太长"}

    with api_app.app_context(), services().db.session() as s:
        assert audit.verify_chain(s) == []
        resolves = s.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "ops.undelivered.resolve").order_by(audit.AuditEntry.seq)
        ).all()
        assert [(e.actor, e.target, e.result) for e in resolves] == [
            (f"staff:{ops_staff.id}", f"wechat_undelivered:{row_id}", audit.OK)] * 2
        assert [e.detail["already_resolved"] for e in resolves] == [False, True]
        listed = s.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "ops.undelivered.list")).all()
        assert listed == []  # nobody listed in this test


def test_listing_is_audited(api_app, api_client, ops_staff, ops_headers):
    seed_app(api_app, 2)
    api_client.get("/api/v1/ops/undelivered", headers=ops_headers)
    with api_app.app_context(), services().db.session() as s:
        (entry,) = s.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "ops.undelivered.list")).all()
        assert entry.actor == f"staff:{ops_staff.id}"
        assert entry.detail == {"status": "open", "page": 1, "count": 2}


def test_only_ops_and_admin(api_app, api_client):
    (row_id,) = seed_app(api_app)
    url = f"/api/v1/ops/undelivered/{row_id}/resolve"
    assert api_client.get("/api/v1/ops/undelivered").status_code == 401
    assert api_client.post(url, json={}).status_code == 401
    for role in ("grid_worker", "citizen"):
        if role == "citizen":
            with api_app.app_context():
                with services().db.session() as s:  # noqa: SIM117 - the token needs the id
                    citizen = CitizenAccount(openid="o-citizen-cora")
                    s.add(citizen)
                    s.flush()
                    citizen_id = citizen.id
                tokens = api_app.extensions["huimin_api"].tokens
                token = tokens.issue("citizen", citizen_id).access_token
        else:
            token = staff_login(api_client, create_staff(api_app, "grid-gina", [role]))
        for resp in (api_client.get("/api/v1/ops/undelivered", headers=bearer(token)),
                     api_client.post(url, json={}, headers=bearer(token))):
            assert (resp.status_code, resp.get_json()["error"]["code"]) == (403, "forbidden")
    with api_app.app_context(), services().db.session() as s:
        assert s.get(UndeliveredMessage, row_id).resolved_at is None
    admin = create_staff(api_app, "admin-ada", ["admin"])
    resp = api_client.get("/api/v1/ops/undelivered", headers=bearer(staff_login(api_client,
                                                                                  admin)))
    assert resp.status_code == 200 and resp.get_json()["total"] == 1


def test_console_has_the_tab(api_client):
    page = api_client.get("/ops/").get_data(as_text=True)
    assert 'href="#/undelivered"' in page and "未送达消息" in page
    script = api_client.get("/ops/static/ops.js").get_data(as_text=True)
    assert "/ops/undelivered" in script and "已处理" in script


def test_metrics_gauge(api_app, api_client, ops_headers):
    ids = seed_app(api_app, 3)
    api_client.post(f"/api/v1/ops/undelivered/{ids[0]}/resolve", json={}, headers=ops_headers)
    body = api_client.get("/metrics").get_data(as_text=True)
    assert "huimin_wechat_undelivered_open 2.0" in body
