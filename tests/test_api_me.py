"""The citizen's own data: phone and real-name binding, masking, encryption at rest, consents,
export and account deletion (persistence on SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import text

from huimin.identity.idcard import fake_id_number
from huimin.identity.models import CitizenAccount
from huimin.privacy import audit, consent
from huimin.residents.models import Resident
from tests.api_fixtures import bind_real_name as face_bind
from tests.api_fixtures import citizen_login, create_staff, make_api_app, phone_code
from webapp.extensions import services

ID_NUMBER = fake_id_number(random.Random(3), birth=date(1985, 6, 15), region="340104")
OTHER_ID = fake_id_number(random.Random(4), birth=date(1990, 1, 2), region="310104")
PHONE = "13812345678"


def error_of(resp) -> dict:
    body = resp.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def bind_real_name(client, citizen, name="张三丰", number=ID_NUMBER, agree=True):
    return face_bind(client, citizen.headers, name, number, agree)


def raw_rows(app, sql: str) -> list:
    with app.app_context(), services().db.engine.connect() as conn:
        return list(conn.execute(text(sql)))


# ---- phone ---------------------------------------------------------------------------------


def test_phone_binding_through_getuserphonenumber(api_app, api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    code = phone_code(emulator, PHONE, citizen.openid)
    resp = api_client.post("/api/v1/me/phone", headers=citizen.headers, json={"code": code})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["phone"] == "138****5678"
    assert api_client.get("/api/v1/me", headers=citizen.headers).get_json()["phone"] == \
        "138****5678"
    # Encrypted at rest with a keyed hash for look-ups; the digits are nowhere in the row.
    (row,) = raw_rows(api_app, "SELECT phone_enc, phone_hash FROM citizen_accounts")
    assert row[0].startswith("pii1.") and PHONE not in row[0] and PHONE not in row[1]
    # The code is one-time.
    resp = api_client.post("/api/v1/me/phone", headers=citizen.headers, json={"code": code})
    assert resp.status_code == 400 and error_of(resp)["code"] == "phone_code_invalid"
    assert error_of(resp)["fields"] == {"code": "已失效或已使用"}


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": ["x"]}])
def test_phone_binding_bad_input(api_client, emulator, body):
    citizen = citizen_login(api_client, emulator)
    resp = api_client.post("/api/v1/me/phone", headers=citizen.headers, json=body)
    assert resp.status_code == 422 and "code" in error_of(resp)["fields"]


def test_phone_before_real_name_is_copied_to_the_resident(api_app, api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    code = phone_code(emulator, PHONE, citizen.openid)
    api_client.post("/api/v1/me/phone", headers=citizen.headers, json={"code": code})
    assert bind_real_name(api_client, citizen).status_code == 200
    with api_app.app_context(), services().db.session() as s:
        resident = s.query(Resident).one()
        assert resident.phone_hash == s.query(CitizenAccount).one().phone_hash
        assert PHONE.encode() not in resident.phone_enc


# ---- real name -----------------------------------------------------------------------------


def test_real_name_binding_masks_encrypts_and_records_consent(api_app, api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    resp = bind_real_name(api_client, citizen)
    assert resp.status_code == 200, resp.get_json()
    profile = resp.get_json()
    assert profile["real_name_verified"] is True
    assert profile["name"] == "张**"
    assert profile["id_number"] == ID_NUMBER[:4] + "*" * 10 + ID_NUMBER[-4:]
    assert profile["consents"] == ["real_name"]
    rows = raw_rows(api_app, "SELECT name_enc, id_number_enc, id_number_hash, birth_date, gender,"
                             " openid FROM residents")
    (name_enc, id_enc, id_hash, birth, gender, openid), = rows
    for blob in (name_enc, id_enc):
        assert bytes(blob).startswith(b"pii1.")
    assert ID_NUMBER.encode() not in bytes(id_enc) and ID_NUMBER not in id_hash
    assert "张三丰".encode() not in bytes(name_enc)
    assert str(birth).startswith("1985-06-15") and gender in ("male", "female")
    assert openid == citizen.openid
    with api_app.app_context(), services().db.session() as s:
        resident = s.query(Resident).one()
        assert consent.has_consent(s, resident.id, consent.REAL_NAME)
        entries = audit.entries_for_target(s, f"resident:{resident.id}")
        assert [e.action for e in entries] == ["citizen.real_name.bind"]
        assert ID_NUMBER not in str(entries[0].detail)


@pytest.mark.parametrize(
    ("body", "field", "message_part"),
    [
        ({"name": "张三", "id_number": ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1"),
          "consent": True}, "id_number", "校验码"),
        ({"name": "张三", "id_number": "340104850615123", "consent": True}, "id_number", "15位"),
        ({"name": "张三", "id_number": "991234198506151234", "consent": True}, "id_number",
         "地区"),
        ({"name": "张三", "id_number": "340104209901011234", "consent": True}, "id_number",
         "出生日期"),
        ({"name": "张三", "id_number": "34010419850230123X", "consent": True}, "id_number",
         "出生日期"),
        ({"name": "张三", "id_number": "3401041985061512AB", "consent": True}, "id_number",
         "数字"),
        ({"name": "张三", "id_number": "12345", "consent": True}, "id_number", "18位"),
        ({"name": "张3", "id_number": ID_NUMBER, "consent": True}, "name", "数字"),
        ({"name": "张三", "id_number": ID_NUMBER, "consent": False}, "consent", "同意"),
        ({"name": "张三", "id_number": ID_NUMBER}, "consent", "必填"),
        ({"id_number": ID_NUMBER, "consent": True}, "name", "必填"),
        ({"name": "张三", "consent": True}, "id_number", "必填"),
        ({"name": "", "id_number": ID_NUMBER, "consent": True}, "name", ""),
        ({"name": "张三", "id_number": ID_NUMBER, "consent": "yes please"}, "consent", ""),
    ],
)
def test_real_name_bad_input_names_the_field(api_app, api_client, emulator, body, field,
                                             message_part):
    citizen = citizen_login(api_client, emulator)
    resp = api_client.post("/api/v1/me/real-name", headers=citizen.headers, json=body)
    assert resp.status_code == 422, resp.get_json()
    fields = error_of(resp)["fields"]
    assert field in fields and message_part in fields[field]
    # The ID number is never echoed back, and nothing was stored.
    assert ID_NUMBER not in resp.get_data(as_text=True)
    assert raw_rows(api_app, "SELECT count(*) FROM residents")[0][0] == 0


def test_id_number_bound_to_another_account_is_refused(api_app, api_client, emulator):
    alice = citizen_login(api_client, emulator)
    mallory = citizen_login(api_client, emulator)
    assert bind_real_name(api_client, alice).status_code == 200
    resp = bind_real_name(api_client, mallory)
    # The same answer as any other refusal (no oracle); the audit log says why.
    assert resp.status_code == 422 and error_of(resp)["code"] == "real_name_not_verified"
    with api_app.app_context(), services().db.session() as s:
        denied = [e for e in audit.entries_for_target(s, "citizen:2")
                  if e.result == audit.DENIED]
        assert denied and denied[0].detail == {"reason": "id_number_bound"}


def test_existing_resident_must_match_the_name(api_app, api_client, emulator):
    with api_app.app_context(), services().db.session() as s:
        cipher = api_app.extensions["huimin_api"].cipher
        s.add(Resident(external_id="SYN0000001", grid_id="G0001",
                       name_enc=cipher.encrypt("李四", field="name").encode(),
                       id_number_enc=cipher.encrypt(OTHER_ID, field="id_number").encode(),
                       id_number_hash=cipher.lookup_hash(OTHER_ID, field="id_number")))
    citizen = citizen_login(api_client, emulator)
    resp = bind_real_name(api_client, citizen, name="王五", number=OTHER_ID)
    assert resp.status_code == 422 and error_of(resp)["code"] == "real_name_not_verified"
    resp = bind_real_name(api_client, citizen, name="李四", number=OTHER_ID.lower())
    assert resp.status_code == 200
    assert resp.get_json()["grid_id"] == "G0001"  # linked to the bureau's record


# ---- consents ------------------------------------------------------------------------------


def test_consent_grant_list_and_immediate_withdrawal(api_app, api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    resp = api_client.post("/api/v1/me/consents", headers=citizen.headers,
                           json={"scope": "benefit_push"})
    assert resp.status_code == 409 and error_of(resp)["code"] == "real_name_required"
    bind_real_name(api_client, citizen)
    resp = api_client.post("/api/v1/me/consents", headers=citizen.headers,
                           json={"scope": "benefit_push", "expires_in_days": 30})
    assert resp.status_code == 201
    granted = resp.get_json()
    assert granted["active"] and granted["channel"] == "miniapp" and granted["expires_at"]
    listing = api_client.get("/api/v1/me/consents", headers=citizen.headers).get_json()
    assert {c["scope"] for c in listing["items"]} == {"real_name", "benefit_push"}
    assert listing["total"] == 2 and listing["page"] == 1

    with api_app.app_context(), services().db.session() as s:
        resident_id = s.query(Resident).one().id
        assert consent.has_consent(s, resident_id, "benefit_push")
    resp = api_client.delete("/api/v1/me/consents/benefit_push", headers=citizen.headers)
    assert resp.status_code == 200 and resp.get_json() == {"scope": "benefit_push",
                                                             "withdrawn": 1}
    # Effective at once: the very next check (a push job, a staff tool) sees no consent.
    with api_app.app_context(), services().db.session() as s:
        assert not consent.has_consent(s, resident_id, "benefit_push")
    listing = api_client.get("/api/v1/me/consents", headers=citizen.headers).get_json()
    assert [c["scope"] for c in listing["items"]] == ["real_name"]
    history = api_client.get("/api/v1/me/consents?include_history=true",
                             headers=citizen.headers).get_json()
    assert {(c["scope"], c["active"]) for c in history["items"]} == {
        ("real_name", True), ("benefit_push", False)}


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "scope"), ({"scope": "everything"}, "scope"), ({"scope": "real_name"}, "scope"),
     ({"scope": "benefit_push", "expires_in_days": 0}, "expires_in_days"),
     ({"scope": "benefit_push", "expires_in_days": "soon"}, "expires_in_days"),
     ({"scope": "guide", "granted_to": 999}, "granted_to")],
)
def test_consent_bad_input(api_client, emulator, body, field):
    citizen = citizen_login(api_client, emulator)
    bind_real_name(api_client, citizen)
    resp = api_client.post("/api/v1/me/consents", headers=citizen.headers, json=body)
    assert resp.status_code == 422 and field in error_of(resp)["fields"]


def test_unknown_scope_cannot_be_withdrawn(api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    resp = api_client.delete("/api/v1/me/consents/everything", headers=citizen.headers)
    assert resp.status_code == 404 and error_of(resp)["code"] == "unknown_scope"


def test_withdrawing_real_name_unbinds_and_erases(api_app, api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    bind_real_name(api_client, citizen)
    resp = api_client.delete("/api/v1/me/consents/real_name", headers=citizen.headers)
    assert resp.status_code == 200 and resp.get_json()["withdrawn"] == 1
    profile = api_client.get("/api/v1/me", headers=citizen.headers).get_json()
    assert profile["real_name_verified"] is False and profile["id_number"] is None
    (row,) = raw_rows(api_app, "SELECT name_enc, id_number_enc, id_number_hash FROM residents")
    assert row == (None, None, None)
    # The same person can bind again later.
    assert bind_real_name(api_client, citizen).status_code == 200


def test_grant_to_a_grid_worker_of_my_grid(api_app, api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    bind_real_name(api_client, citizen)
    with api_app.app_context(), services().db.session() as s:
        s.query(Resident).one().grid_id = "G0005"
    mine = create_staff(api_app, "grid5", ["grid_worker"], grids=["G0005"])
    other = create_staff(api_app, "grid6", ["grid_worker"], grids=["G0006"])
    resp = api_client.post("/api/v1/me/consents", headers=citizen.headers,
                           json={"scope": "apply_on_behalf", "granted_to": other.id})
    assert resp.status_code == 422
    resp = api_client.post("/api/v1/me/consents", headers=citizen.headers,
                           json={"scope": "apply_on_behalf", "granted_to": mine.id})
    assert resp.status_code == 201 and resp.get_json()["granted_to"] == mine.id


# ---- export and deletion (both databases) --------------------------------------------------


@pytest.fixture
def any_db_client(db_url, redis_url, redis_conn, emulator):
    app = make_api_app(db_url, redis_url, emulator)
    return app, app.test_client()


def test_export_and_delete(any_db_client, emulator):
    app, client = any_db_client
    citizen = citizen_login(client, emulator)
    code = phone_code(emulator, PHONE, citizen.openid)
    client.post("/api/v1/me/phone", headers=citizen.headers, json={"code": code})
    assert bind_real_name(client, citizen).status_code == 200
    client.post("/api/v1/me/consents", headers=citizen.headers, json={"scope": "benefit_push"})
    client.delete("/api/v1/me/consents/benefit_push", headers=citizen.headers)

    resp = client.get("/api/v1/me/export", headers=citizen.headers)
    assert resp.status_code == 200
    doc = resp.get_json()
    # Their own data, complete and unmasked.
    assert doc["account"]["openid"] == citizen.openid and doc["account"]["phone"] == PHONE
    assert doc["resident"]["name"] == "张三丰" and doc["resident"]["id_number"] == ID_NUMBER
    assert doc["resident"]["facts"]["birth_date"] == "1985-06-15"
    assert [(c["scope"], c["active"]) for c in doc["consents"]] == [
        ("real_name", True), ("benefit_push", False)]
    assert {e["action"] for e in doc["access_log"]} >= {"citizen.real_name.bind",
                                                        "consent.withdraw"}
    assert all(e["who"] == "本人" for e in doc["access_log"])

    assert client.delete("/api/v1/me", headers=citizen.headers).status_code == 204
    # Signed out everywhere.
    assert client.get("/api/v1/me", headers=citizen.headers).status_code == 401
    assert client.post("/api/v1/auth/refresh",
                       json={"refresh_token": citizen.refresh_token}).status_code == 401
    with app.app_context(), services().db.session() as s:
        account = s.query(CitizenAccount).one()
        assert account.deleted_at is not None
        assert (account.openid, account.phone_enc, account.resident_id) == (None, None, None)
        resident = s.query(Resident).one()
        assert (resident.name_enc, resident.id_number_enc, resident.id_number_hash,
                resident.phone_enc, resident.openid) == (None, None, None, None, None)
        assert not consent.active_consents(s, resident.id)
        # The audit trail stays, and still verifies.
        actions = [e.action for e in audit.entries_for_target(s, f"resident:{resident.id}")]
        assert actions[0] == "citizen.delete" and "citizen.real_name.bind" in actions
        assert audit.verify_chain(s) == []
    # Signing in again starts a fresh account with nothing from before.
    again = citizen_login(client, emulator, citizen.openid)
    profile = client.get("/api/v1/me", headers=again.headers).get_json()
    assert profile["account_id"] != account.id and profile["real_name_verified"] is False
    # ... and the ID number is free to bind again.
    assert bind_real_name(client, again).status_code == 200


def test_citizens_only_ever_see_their_own_data(api_client, emulator):
    alice = citizen_login(api_client, emulator)
    bob = citizen_login(api_client, emulator)
    bind_real_name(api_client, alice)
    api_client.post("/api/v1/me/consents", headers=alice.headers, json={"scope": "guide"})
    bob_view = api_client.get("/api/v1/me", headers=bob.headers).get_json()
    assert bob_view["real_name_verified"] is False and bob_view["consents"] == []
    assert api_client.get("/api/v1/me/consents", headers=bob.headers).get_json()["total"] == 0
    export = api_client.get("/api/v1/me/export", headers=bob.headers).get_json()
    assert export["resident"] is None and export["consents"] == []
    # Bob withdrawing "guide" does not touch Alice's consent.
    api_client.delete("/api/v1/me/consents/guide", headers=bob.headers)
    alice_view = api_client.get("/api/v1/me", headers=alice.headers).get_json()
    assert "guide" in alice_view["consents"]
    # Bob deleting his account leaves Alice signed in with her data.
    api_client.delete("/api/v1/me", headers=bob.headers)
    assert api_client.get("/api/v1/me", headers=alice.headers).get_json()["real_name_verified"]


def test_account_deletion_runs_registered_erasers(api_app, api_client, emulator, monkeypatch):
    from huimin.identity import accounts

    monkeypatch.setattr(accounts, "_ERASERS", [])
    erased: list[int] = []
    accounts.register_eraser(lambda session, resident_id: erased.append(resident_id))
    citizen = citizen_login(api_client, emulator)
    bind_real_name(api_client, citizen)
    assert api_client.delete("/api/v1/me", headers=citizen.headers).status_code == 204
    with api_app.app_context(), services().db.session() as s:
        assert erased == [s.query(Resident).one().id]
