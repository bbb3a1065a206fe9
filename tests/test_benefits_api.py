"""The calculator, /me/benefits, /me/notices and one-tap confirmation, through the real API
(citizens sign in through the WeChat emulator)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from huimin.benefits.matching import run_matching
from huimin.benefits.models import BenefitNotice
from huimin.identity.models import CitizenAccount
from huimin.privacy import audit
from huimin.residents.models import Resident
from huimin.rules import load_rules
from tests.api_fixtures import citizen_login
from webapp.extensions import services

CHECK = "/api/v1/eligibility/check"


def result(body: dict, policy: str) -> dict:
    return next(r for r in body["results"] if r["policy"] == policy)


def test_calculator_answers_every_policy_with_reasons_and_amount(api_client):
    resp = api_client.post(CHECK, json={
        "profile": {"birth_date": "1935-03-01", "local_hukou": True}, "as_of": "2025-06-30"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["as_of"] == "2025-06-30"
    assert len(body["results"]) == len(load_rules().in_force(date(2025, 6, 30))) == 8
    elderly = result(body, "elderly_allowance")
    assert (elderly["title"], elderly["status"], elderly["missing"]) == ("高龄津贴", "eligible", [])
    assert elderly["amount"] == {"value": 300, "unit": "元/月", "text": "300元/月"}  # aged 90
    assert "本市户籍：是" in elderly["reasons"] and "年龄满80周岁：是" in elderly["reasons"]
    pension = result(body, "residents_basic_pension")
    assert pension["status"] == "unknown"
    assert pension["missing"] == ["receiving_pension", "resident_pension_insured",
                                  "pension_contribution_years"]
    assert pension["missing_labels"][0] == "是否正在领取养老金"
    grad = result(body, "graduate_job_search_subsidy")
    assert grad["status"] == "unknown" and grad["amount"] is None

    young = api_client.post(CHECK, json={"profile": {"birth_date": "2000-01-01",
                                                     "local_hukou": True}}).get_json()
    assert result(young, "elderly_allowance")["status"] == "not_eligible"
    assert api_client.post(CHECK, json={}).status_code == 200  # nothing known: all unknown


def test_calculator_names_the_bad_field(api_client):
    cases = [
        ({"profile": {"hukou": True}}, "profile.hukou", "无法识别的信息项：hukou"),
        ({"profile": {"local_hukou": "yes"}}, "profile.local_hukou", "应填写“是”或“否”"),
        ({"profile": {"birth_date": "1940-02-30"}}, "profile.birth_date", "不是有效日期"),
        ({"profile": {"certificate_level": 9}}, "profile.certificate_level", "应在1至5级之间"),
        ({"profile": {"gender": "x"}}, "profile.gender", "应为以下之一：男、女"),
        ({"profile": [1]}, "profile", "应为对象"),
        ({"as_of": "2025-13-01"}, "as_of", "年-月-日"),
        ({"as_of": 20250101}, "as_of", "年-月-日"),
        ({"profil": {}}, "profil", "不支持该字段"),
    ]
    for body, field, words in cases:
        resp = api_client.post(CHECK, json=body)
        assert resp.status_code == 400, (body, resp.get_json())
        error = resp.get_json()["error"]
        assert field in error["fields"] and words in error["fields"][field], (body, error)


def _bind(app, openid: str, **facts) -> int:
    """Link the signed-in citizen's account to a resident with these facts (what real-name
    binding does, without an ID number)."""
    with app.app_context(), services().db.session() as s:
        resident = Resident(external_id=f"T-{openid}", openid=openid, **facts)
        s.add(resident)
        s.flush()
        account = s.scalar(select(CitizenAccount).where(CitizenAccount.openid == openid))
        account.resident_id = resident.id
        return resident.id


def test_my_benefits_and_one_tap_confirmation(api_app, api_client, emulator):
    me = citizen_login(api_client, emulator)
    assert api_client.get("/api/v1/me/benefits", headers=me.headers).status_code == 409
    rid = _bind(api_app, me.openid, birth_date=date(1940, 3, 1), local_hukou=True)

    body = api_client.get("/api/v1/me/benefits", headers=me.headers).get_json()
    assert result(body, "elderly_allowance")["status"] == "eligible"
    assert result(body, "elderly_allowance")["notice_id"] is None
    calculator = api_client.post(CHECK, json={"profile": {
        "birth_date": "1940-03-01", "local_hukou": True}}).get_json()
    for mine, public in zip(body["results"], calculator["results"], strict=True):
        assert {**mine, "notice_id": None} == {**public, "notice_id": None}  # same answers

    with api_app.app_context():
        run_matching(services().db, load_rules(), date.today())
    page = api_client.get("/api/v1/me/notices", headers=me.headers).get_json()
    assert page["total"] == 1
    [notice] = page["items"]
    assert (notice["policy"], notice["title"], notice["status"]) == (
        "elderly_allowance", "高龄津贴", "matched")
    assert notice["amount"]["text"] == "100元/月"
    body = api_client.get("/api/v1/me/benefits", headers=me.headers).get_json()
    assert result(body, "elderly_allowance")["notice_id"] == notice["id"]

    url = f"/api/v1/me/notices/{notice['id']}/confirm"
    first = api_client.post(url, headers=me.headers)
    assert first.status_code == 200, first.get_json()
    confirmed = first.get_json()
    assert confirmed["status"] == "confirmed" and confirmed["response_channel"] == "miniapp"
    assert confirmed["confirmed_at"]
    again = api_client.post(url, headers=me.headers).get_json()
    assert again["confirmed_at"] == confirmed["confirmed_at"]  # idempotent
    declined = api_client.post(f"/api/v1/me/notices/{notice['id']}/decline", headers=me.headers)
    assert declined.status_code == 409
    assert declined.get_json()["error"]["code"] == "notice_confirmed"
    only = api_client.get("/api/v1/me/notices?status=confirmed", headers=me.headers).get_json()
    assert only["total"] == 1
    with api_app.app_context(), services().db.session() as s:
        entries = [e for e in audit.entries_for_target(s, f"resident:{rid}")
                   if e.action == "benefit.confirm"]
        assert len(entries) == 1


def test_notices_of_others_are_not_found(api_app, api_client, emulator):
    alice = citizen_login(api_client, emulator)
    bob = citizen_login(api_client, emulator)
    _bind(api_app, alice.openid, birth_date=date(1940, 3, 1), local_hukou=True)
    _bind(api_app, bob.openid, birth_date=date(1941, 3, 1), local_hukou=True)
    with api_app.app_context():
        run_matching(services().db, load_rules(), date.today())
        with services().db.session() as s:
            alices = s.scalars(select(BenefitNotice).join(
                Resident, Resident.id == BenefitNotice.resident_id).where(
                Resident.openid == alice.openid)).one().id
    for action in ("confirm", "decline"):
        resp = api_client.post(f"/api/v1/me/notices/{alices}/{action}", headers=bob.headers)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert api_client.post("/api/v1/me/notices/999999/confirm",
                           headers=alice.headers).status_code == 404
    assert api_client.get("/api/v1/me/notices", headers=bob.headers).get_json()["total"] == 1
    declined = api_client.post(f"/api/v1/me/notices/{alices}/decline", headers=alice.headers)
    assert declined.get_json()["status"] == "declined"
    refused = api_client.post(f"/api/v1/me/notices/{alices}/confirm", headers=alice.headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "notice_declined"


def test_signed_out_callers_are_refused(api_client):
    assert api_client.get("/api/v1/me/benefits").status_code == 401
    assert api_client.get("/api/v1/me/notices").status_code == 401
    assert api_client.post("/api/v1/me/notices/1/confirm").status_code == 401
