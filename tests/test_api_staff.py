"""Staff tools: hand-off tickets for ops (masked, paginated, audited), the masked resident view,
the docs page, and the key commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from huimin.ops.handoff import open_ticket
from huimin.ops.models import HandoffTicket
from huimin.privacy import audit, consent
from huimin.privacy.pii import KeyRing, cipher_from_settings
from huimin.residents.models import Resident
from tests.api_fixtures import bearer, create_staff, make_api_app, staff_login
from webapp.extensions import services

ID_NUMBER = "340104199001011234"


@pytest.fixture
def app(sqlite_url, redis_url, redis_conn):
    return make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9")


def test_ops_list_handoff_tickets_masked_and_paginated(app):
    client = app.test_client()
    with app.app_context(), services().db.session() as s:
        for i in range(3):
            open_ticket(s, f"u{i}", "asked_for_human", [
                {"who": "user", "text": f"我的手机13812345678，身份证{ID_NUMBER}，第{i}个"}])
        # A row written before masking existed (or edited by hand) is masked on the way out.
        s.add(HandoffTicket(sender_id="legacy", reason="fallback", status="closed",
                            last_message="电话13912345678",
                            transcript=[{"who": "user", "text": "电话13912345678"}]))
    ops = create_staff(app, "ops1", ["ops"])
    headers = bearer(staff_login(client, ops))
    page = client.get("/api/v1/ops/handoff-tickets?per_page=2", headers=headers).get_json()
    assert page["total"] == 4 and page["per_page"] == 2 and len(page["items"]) == 2
    second = client.get("/api/v1/ops/handoff-tickets?per_page=2&page=2",
                        headers=headers).get_json()
    assert {t["id"] for t in page["items"]}.isdisjoint({t["id"] for t in second["items"]})
    everything = client.get("/api/v1/ops/handoff-tickets?per_page=100", headers=headers)
    body = everything.get_data(as_text=True)
    assert "13812345678" not in body and ID_NUMBER not in body and "13912345678" not in body
    assert "138****5678" in body and "3401**********1234" in body and "139****5678" in body
    closed = client.get("/api/v1/ops/handoff-tickets?status=closed", headers=headers).get_json()
    assert [t["sender_id"] for t in closed["items"]] == ["legacy"]
    resp = client.get("/api/v1/ops/handoff-tickets?status=lost", headers=headers)
    assert resp.status_code == 422 and "status" in resp.get_json()["error"]["fields"]
    resp = client.get("/api/v1/ops/handoff-tickets?per_page=1000", headers=headers)
    assert resp.status_code == 422 and "per_page" in resp.get_json()["error"]["fields"]
    with app.app_context(), services().db.session() as s:
        entries = audit.entries_for_target(s, "handoff_tickets")
        assert len(entries) == 4 and {e.actor for e in entries} == {f"staff:{ops.id}"}


def test_masked_resident_view(app):
    client = app.test_client()
    with app.app_context(), services().db.session() as s:
        cipher = cipher_from_settings(services().settings)
        resident = Resident(
            external_id="SYN1", grid_id="G9",
            name_enc=cipher.encrypt("欧阳娜娜", field="name").encode(),
            id_number_enc=cipher.encrypt(ID_NUMBER, field="id_number").encode(),
            phone_enc=cipher.encrypt("13812345678", field="phone").encode(),
        )
        s.add(resident)
        s.flush()
        consent.grant(s, resident.id, consent.VIEW_BENEFITS, "grid_worker",
                      expires_at=datetime(2031, 5, 6, 7, 8, tzinfo=UTC))
        consent.grant(s, resident.id, consent.GUIDE, "grid_worker")  # no end
        resident_id = resident.id
    worker = create_staff(app, "grid9", ["grid_worker"], grids=["G9"])
    resp = client.get(f"/api/v1/staff/residents/{resident_id}",
                      headers=bearer(staff_login(client, worker)))
    assert resp.status_code == 200
    assert resp.get_json() == {
        "resident_id": resident_id, "name": "欧***", "id_number": "3401**********1234",
        "phone": "138****5678", "grid_id": "G9", "consents": ["guide", "view_benefits"],
        "consents_in_force": [
            {"scope": "guide", "expires_at": None},
            {"scope": "view_benefits", "expires_at": "2031-05-06T07:08:00+00:00"}]}


def test_docs_page_and_openapi_document(app):
    client = app.test_client()
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"openapi.json" in docs.data
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("CodeIn")
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    me = spec["paths"]["/api/v1/me"]["get"]
    assert me["x-roles"] == ["citizen"] and me["security"] == [{"BearerAuth": []}]
    assert me["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ApiError")


def test_keys_commands_rotate_stored_personal_data(sqlite_url, redis_url, redis_conn):
    app = make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9")
    result = app.test_cli_runner().invoke(args=["keys", "pii"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    new_entry, hash_key = lines[1], lines[3]
    KeyRing.parse(new_entry)
    old_entry = "old1:" + "A" * 43 + "="
    # Data written under the old key ...
    old_app = make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9", pii_keys=old_entry,
                           pii_hash_key=hash_key)
    worker = create_staff(old_app, "ops.rot", ["ops"])
    with old_app.app_context(), services().db.session() as s:
        cipher = cipher_from_settings(services().settings)
        s.add(Resident(external_id="ROT1",
                       id_number_enc=cipher.encrypt(ID_NUMBER, field="id_number").encode()))
    # ... is re-encrypted once the new key is put first.
    new_app = make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9",
                           pii_keys=f"{new_entry},{old_entry}", pii_hash_key=hash_key)
    result = new_app.test_cli_runner().invoke(args=["keys", "rotate-pii"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 values" in result.output
    with new_app.app_context(), services().db.engine.connect() as conn:
        (blob,) = conn.execute(text("SELECT id_number_enc FROM residents")).one()
        (totp,) = conn.execute(text("SELECT totp_secret_enc FROM staff_accounts")).one()
    kid = new_entry.split(":")[0]
    assert bytes(blob).decode().startswith(f"pii1.{kid}.") and totp.startswith(f"pii1.{kid}.")
    # The old key is no longer needed: sign-in (TOTP secret) works with the new key alone.
    only_new = make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9", pii_keys=new_entry,
                            pii_hash_key=hash_key)
    assert staff_login(only_new.test_client(), worker)
