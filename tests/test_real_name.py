"""Real-name binding needs proof that the person is present (issue 15, High 2).

A bureau resident's name and ID number alone no longer bind the record: WeChat's face
verification (through the emulator's getverifyid / wx.requestFacialVerify / queryverifyinfo)
or the WeChat-confirmed phone matching the bureau's record is required; attempts are limited per
citizen and per ID number; every refusal that depends on a record is the same answer; every
attempt is audited; the real resident can appeal against a binding someone else made.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
import requests
from sqlalchemy import select

from huimin.identity import accounts
from huimin.identity.accounts import CitizenAccount
from huimin.identity.idcard import fake_id_number
from huimin.privacy import audit
from huimin.privacy.pii import ID_NUMBER, NAME, PHONE
from huimin.residents.models import Resident
from tests.api_fixtures import (
    bearer,
    bind_real_name,
    citizen_login,
    create_staff,
    face_verify,
    make_api_app,
    phone_code,
    staff_login,
)
from webapp.extensions import services

RESIDENT_ID = fake_id_number(random.Random(15), birth=date(1962, 3, 4), region="340104")
RESIDENT_NAME = "周桂兰"
RESIDENT_PHONE = "13912345678"
BIND = "/api/v1/me/real-name"
APPEAL = "/api/v1/me/real-name/appeal"


def error_of(resp) -> dict:
    body = resp.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def add_bureau_resident(app, name: str = RESIDENT_NAME, id_number: str = RESIDENT_ID,
                        phone: str | None = RESIDENT_PHONE) -> int:
    """A resident as the bureau's import leaves it: name, ID number and phone on record."""
    with app.app_context(), services().db.session() as s:
        cipher = app.extensions["huimin_api"].cipher
        resident = Resident(
            external_id=f"SB-{id_number[-6:]}", grid_id="G1",
            name_enc=cipher.encrypt(name, field=NAME).encode(),
            id_number_enc=cipher.encrypt(id_number, field=ID_NUMBER).encode(),
            id_number_hash=cipher.lookup_hash(id_number, field=ID_NUMBER),
            phone_enc=cipher.encrypt(phone, field=PHONE).encode() if phone else None,
            phone_hash=cipher.lookup_hash(phone, field=PHONE) if phone else None,
        )
        s.add(resident)
        s.flush()
        return resident.id


def plain_bind(client, headers, name=RESIDENT_NAME, id_number=RESIDENT_ID, **extra):
    return client.post(BIND, headers=headers,
                       json={"name": name, "id_number": id_number, "consent": True, **extra})


def entries_for_actor(session, actor: str) -> list[audit.AuditEntry]:
    return list(session.scalars(select(audit.AuditEntry).where(audit.AuditEntry.actor == actor)
                                .order_by(audit.AuditEntry.id)))


def bind_attempts(app, actor: str) -> list[str]:
    with app.app_context(), services().db.session() as s:
        return [e.result for e in entries_for_actor(s, actor)
                if e.action == "citizen.real_name.bind"]


def account_id(app, openid: str) -> int:
    with app.app_context(), services().db.session() as s:
        return s.query(CitizenAccount).filter_by(openid=openid).one().id


# ---- proof of presence ---------------------------------------------------------------------


def test_name_and_id_number_alone_do_not_bind_a_bureau_record(api_app, api_client, emulator):
    add_bureau_resident(api_app)
    mallory = citizen_login(api_client, emulator)
    resp = plain_bind(api_client, mallory.headers)
    assert resp.status_code == 422
    assert error_of(resp)["code"] == "real_name_not_verified"
    me = api_client.get("/api/v1/me", headers=mallory.headers).get_json()
    assert me["real_name_verified"] is False and me["real_name_status"] == "none"
    # With the face of this very identity the real resident binds it.
    resident = citizen_login(api_client, emulator)
    resp = bind_real_name(api_client, resident.headers, RESIDENT_NAME, RESIDENT_ID)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["real_name_status"] == "verified"


def test_someone_elses_face_does_not_bind(api_app, api_client, emulator):
    add_bureau_resident(api_app)
    mallory = citizen_login(api_client, emulator)
    resp = bind_real_name(api_client, mallory.headers, RESIDENT_NAME, RESIDENT_ID,
                          verify_ret=10004)  # WeChat: the face is not the ID's holder
    assert resp.status_code == 422 and error_of(resp)["code"] == "real_name_not_verified"


def test_a_face_check_for_another_identity_or_account_does_not_count(api_app, api_client,
                                                                    emulator):
    add_bureau_resident(api_app)
    mallory = citizen_login(api_client, emulator)
    own_id = fake_id_number(random.Random(99), birth=date(1990, 5, 5), region="340104")
    own_check = face_verify(api_client, mallory.headers, "马洛丽", own_id)
    resp = plain_bind(api_client, mallory.headers, verify_id=own_check)
    assert resp.status_code == 422 and error_of(resp)["code"] == "real_name_not_verified"
    # The resident's own verification, replayed from another account, is no proof either.
    resident = citizen_login(api_client, emulator)
    theirs = face_verify(api_client, resident.headers, RESIDENT_NAME, RESIDENT_ID)
    resp = plain_bind(api_client, mallory.headers, verify_id=theirs)
    assert resp.status_code == 422
    # A verification is spent by one binding.
    assert plain_bind(api_client, resident.headers, verify_id=theirs).status_code == 200
    other = citizen_login(api_client, emulator)
    assert plain_bind(api_client, other.headers, verify_id=theirs).status_code == 422


def test_wechat_confirmed_phone_matching_the_record_is_proof(api_app, api_client, emulator):
    add_bureau_resident(api_app)
    stranger = citizen_login(api_client, emulator)
    code = phone_code(emulator, "13800000000", stranger.openid)
    assert api_client.post("/api/v1/me/phone", headers=stranger.headers,
                           json={"code": code}).status_code == 200
    assert plain_bind(api_client, stranger.headers).status_code == 422
    resident = citizen_login(api_client, emulator)
    code = phone_code(emulator, RESIDENT_PHONE, resident.openid)
    assert api_client.post("/api/v1/me/phone", headers=resident.headers,
                           json={"code": code}).status_code == 200
    resp = plain_bind(api_client, resident.headers)
    assert resp.status_code == 200, resp.get_json()


# ---- one answer, limits, audit -----------------------------------------------------------------


def test_every_refusal_is_the_same_answer(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, real_name_attempts_per_day=3)
    client = app.test_client()
    add_bureau_resident(app)
    holder = citizen_login(client, emulator)
    assert bind_real_name(client, holder.headers, RESIDENT_NAME, RESIDENT_ID).status_code == 200
    other_id = fake_id_number(random.Random(7), birth=date(1970, 1, 1), region="340104")
    add_bureau_resident(app, "钱多多", other_id, phone=None)
    answers = []
    # Already bound to another account (even with a face check that passed).
    answers.append(bind_real_name(client, citizen_login(client, emulator).headers,
                                  RESIDENT_NAME, RESIDENT_ID))
    # The name is not the record's.
    answers.append(bind_real_name(client, citizen_login(client, emulator).headers,
                                  "钱少少", other_id))
    # No proof of presence at all.
    answers.append(plain_bind(client, citizen_login(client, emulator).headers, "钱多多",
                              other_id))
    # The face is not the holder's.
    answers.append(bind_real_name(client, citizen_login(client, emulator).headers, "钱多多",
                                  other_id, verify_ret=10004))
    # Over the per-ID-number limit (3 attempts on other_id today), with a genuine face check.
    answers.append(bind_real_name(client, citizen_login(client, emulator).headers, "钱多多",
                                  other_id))
    assert {(r.status_code, repr(error_of(r))) for r in answers} == {
        (422, repr(error_of(answers[0])))}
    assert error_of(answers[0])["code"] == "real_name_not_verified"
    assert "12333" in error_of(answers[0])["message"]


def test_attempts_are_limited_per_citizen(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, real_name_attempts_per_day=2)
    client = app.test_client()
    add_bureau_resident(app)
    guesser = citizen_login(client, emulator)
    for n in range(2):
        guess = fake_id_number(random.Random(100 + n), birth=date(1960, 1, 1), region="340104")
        assert plain_bind(client, guesser.headers, id_number=guess).status_code == 422
    # The third attempt is refused even with real proof (and a fresh ID number).
    resp = bind_real_name(client, guesser.headers, RESIDENT_NAME, RESIDENT_ID)
    assert resp.status_code == 422
    actor = f"citizen:{account_id(app, guesser.openid)}"
    assert bind_attempts(app, actor) == ["denied", "denied", "denied"]
    with app.app_context(), services().db.session() as s:
        reasons = [e.detail["reason"] for e in entries_for_actor(s, actor)
                   if e.action == "citizen.real_name.bind"]
    assert reasons[-1] == "rate_limited"


def test_attempts_are_limited_per_id_number_across_accounts(sqlite_url, redis_url, redis_conn,
                                                            emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, real_name_attempts_per_day=2)
    client = app.test_client()
    add_bureau_resident(app)
    for name in ("赵一", "赵二"):
        assert plain_bind(client, citizen_login(client, emulator).headers,
                          name=name).status_code == 422
    third = citizen_login(client, emulator)
    assert plain_bind(client, third.headers, name="赵三").status_code == 422
    actor = f"citizen:{account_id(app, third.openid)}"
    with app.app_context(), services().db.session() as s:
        (entry,) = [e for e in entries_for_actor(s, actor)
                    if e.action == "citizen.real_name.bind"]
        assert entry.detail == {"reason": "rate_limited"}


def test_every_attempt_is_audited_with_its_reason(api_app, api_client, emulator):
    add_bureau_resident(api_app)
    citizen = citizen_login(api_client, emulator)
    plain_bind(api_client, citizen.headers)
    bind_real_name(api_client, citizen.headers, RESIDENT_NAME, RESIDENT_ID, verify_ret=10004)
    bind_real_name(api_client, citizen.headers, RESIDENT_NAME, RESIDENT_ID)
    actor = f"citizen:{account_id(api_app, citizen.openid)}"
    with api_app.app_context(), services().db.session() as s:
        entries = [e for e in entries_for_actor(s, actor)
                   if e.action == "citizen.real_name.bind"]
        assert [(e.result, e.detail) for e in entries] == [
            ("denied", {"reason": "no_proof_of_presence"}),
            ("denied", {"reason": "face_not_matched"}),
            ("ok", {"proof": "face"}),
        ]
        assert audit.verify_chain(s) == []


# ---- appeals -----------------------------------------------------------------------------------


def squat(app, resident_id: int, openid: str) -> None:
    """A binding made before proof of presence was required (the old way)."""
    with app.app_context(), services().db.session() as s:
        account = s.query(CitizenAccount).filter_by(openid=openid).one()
        account.resident_id = resident_id


def accept_notices(emulator: str, openid: str) -> None:
    requests.post(f"{emulator}/_emulator/users/{openid}",
                  json={"accept": ["real-name-notice"]}, timeout=5).raise_for_status()


def notices_to(emulator: str, openid: str) -> list[str]:
    resp = requests.get(f"{emulator}/_emulator/messages", params={"touser": openid}, timeout=5)
    return [m["body"]["data"]["thing1"]["value"] for m in resp.json()["messages"]
            if m["kind"] == "subscribe"]


def test_the_real_resident_appeals_and_staff_uphold(api_app, api_client, emulator):
    resident_id = add_bureau_resident(api_app, phone=None)
    squatter = citizen_login(api_client, emulator)
    squat(api_app, resident_id, squatter.openid)
    assert api_client.post("/api/v1/me/employment-code",
                           headers=squatter.headers).status_code != 403
    real = citizen_login(api_client, emulator)
    for openid in (squatter.openid, real.openid):
        accept_notices(emulator, openid)
    # Binding is refused (the record is taken); an appeal without proof is refused the same.
    assert bind_real_name(api_client, real.headers, RESIDENT_NAME,
                          RESIDENT_ID).status_code == 422
    resp = api_client.post(APPEAL, headers=real.headers,
                           json={"name": RESIDENT_NAME, "id_number": RESIDENT_ID})
    assert resp.status_code == 422 and error_of(resp)["code"] == "real_name_not_verified"
    verify_id = face_verify(api_client, real.headers, RESIDENT_NAME, RESIDENT_ID)
    resp = api_client.post(APPEAL, headers=real.headers, json={
        "name": RESIDENT_NAME, "id_number": RESIDENT_ID, "verify_id": verify_id})
    assert resp.status_code == 202, resp.get_json()
    appeal_id = resp.get_json()["id"]
    # The other binding is suspended at once: no data, no code, no consents.
    me = api_client.get("/api/v1/me", headers=squatter.headers).get_json()
    assert me["real_name_status"] == "suspended" and me["real_name_verified"] is False
    assert me["name"] is None and me["real_name_notice"]
    resp = api_client.post("/api/v1/me/employment-code", headers=squatter.headers)
    assert resp.status_code == 403 and error_of(resp)["code"] == "real_name_required"
    export = api_client.get("/api/v1/me/export", headers=squatter.headers).get_json()
    assert RESIDENT_ID not in str(export)
    assert api_client.get("/api/v1/me", headers=real.headers).get_json()[
        "real_name_status"] == "appeal_pending"
    # Both accounts were told.
    assert notices_to(emulator, squatter.openid) and notices_to(emulator, real.openid)
    # Staff (ops) see and uphold it; the squatter's link is cut, the resident binds.
    for openid in (squatter.openid, real.openid):
        accept_notices(emulator, openid)  # each accepted subscription allows one message
    ops = create_staff(api_app, "ops.appeals", ["ops"])
    headers = bearer(staff_login(api_client, ops))
    listed = api_client.get("/api/v1/staff/real-name-appeals", headers=headers).get_json()
    assert [a["id"] for a in listed["items"]] == [appeal_id]
    resp = api_client.post(f"/api/v1/staff/real-name-appeals/{appeal_id}/resolve",
                           headers=headers, json={"decision": "upheld", "note": "刷脸一致"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "upheld"
    again = api_client.post(f"/api/v1/staff/real-name-appeals/{appeal_id}/resolve",
                            headers=headers, json={"decision": "rejected"})
    assert again.status_code == 409
    me = api_client.get("/api/v1/me", headers=squatter.headers).get_json()
    assert me["real_name_status"] == "none" and "解除" in me["real_name_notice"]
    assert len(notices_to(emulator, squatter.openid)) == 2
    assert len(notices_to(emulator, real.openid)) == 2
    resp = bind_real_name(api_client, real.headers, RESIDENT_NAME, RESIDENT_ID)
    assert resp.status_code == 200, resp.get_json()
    with api_app.app_context(), services().db.session() as s:
        actions = [e.action for e in reversed(audit.entries_for_target(
            s, f"resident:{resident_id}"))]
    assert "citizen.real_name.appeal" in actions
    assert "staff.real_name.appeal_resolve" in actions


def test_a_rejected_appeal_restores_the_binding(api_app, api_client, emulator):
    resident_id = add_bureau_resident(api_app)
    holder = citizen_login(api_client, emulator)
    code = phone_code(emulator, RESIDENT_PHONE, holder.openid)
    api_client.post("/api/v1/me/phone", headers=holder.headers, json={"code": code})
    assert plain_bind(api_client, holder.headers).status_code == 200
    claimant = citizen_login(api_client, emulator)
    verify_id = face_verify(api_client, claimant.headers, RESIDENT_NAME, RESIDENT_ID)
    resp = api_client.post(APPEAL, headers=claimant.headers, json={
        "name": RESIDENT_NAME, "id_number": RESIDENT_ID, "verify_id": verify_id})
    assert resp.status_code == 202
    # A second appeal on the same record waits for the first.
    second = citizen_login(api_client, emulator)
    verify_id = face_verify(api_client, second.headers, RESIDENT_NAME, RESIDENT_ID)
    resp2 = api_client.post(APPEAL, headers=second.headers, json={
        "name": RESIDENT_NAME, "id_number": RESIDENT_ID, "verify_id": verify_id})
    assert resp2.status_code == 409
    admin = create_staff(api_app, "admin.appeals", ["admin"])
    headers = bearer(staff_login(api_client, admin))
    resp = api_client.post(f"/api/v1/staff/real-name-appeals/{resp.get_json()['id']}/resolve",
                           headers=headers, json={"decision": "rejected"})
    assert resp.status_code == 200
    me = api_client.get("/api/v1/me", headers=holder.headers).get_json()
    assert me["real_name_status"] == "verified" and me["real_name_verified"] is True
    assert "恢复" in me["real_name_notice"]
    with api_app.app_context(), services().db.session() as s:
        assert s.get(Resident, resident_id) is not None
        assert accounts.holder_of(s, resident_id).openid == holder.openid


@pytest.mark.parametrize("role", ["grid_worker", "verifier"])
def test_only_ops_and_admin_resolve_appeals(api_app, api_client, role):
    staff = create_staff(api_app, f"{role}.appeals", [role], grids=["G1"] if role ==
                         "grid_worker" else None)
    resp = api_client.get("/api/v1/staff/real-name-appeals",
                          headers=bearer(staff_login(api_client, staff)))
    assert resp.status_code == 403
