"""The employment-code API through the real app (SQLite, Redis, sign-in tokens): issuing
to the holder, QR image URLs, verification by anyone and by consented verifiers, bad input
with its reason, revocation, the offline feed, the scan log, JWKS, keys and the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from jwcrypto import jwk, jwt
from PIL import Image

from huimin.employment_code import (
    EmploymentCodes,
    NoSigningKeyError,
    Status,
    generate_key,
    new_subject_id,
    scan_log,
    store,
)
from huimin.identity import accounts
from huimin.identity.tokens import CITIZEN
from huimin.privacy import audit, consent
from huimin.privacy.pii import NAME
from huimin.residents.models import Resident
from miniapp_api.context import api_services
from tests.api_fixtures import production_overrides
from webapp.extensions import services

ISSUE = "/api/v1/me/employment-code"
VERIFY = "/api/v1/employment-code/verify"
REVOKE = "/api/v1/me/employment-code/revoke"
SCANS = "/api/v1/me/employment-code/scans"
FEED = "/api/v1/employment-code/revoked"
JWKS = "/.well-known/jwks.json"
PASSWORD = "Sturdy-Passw0rd-for-tests!"


@pytest.fixture(autouse=True)
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "ec-keys"
    generate_key("api1", directory, activates_at=datetime.now(UTC) - timedelta(hours=1))
    monkeypatch.setenv("EMPLOYMENT_CODE_KEY_DIR", str(directory))
    return directory


def codes(key_dir: Path) -> EmploymentCodes:
    return EmploymentCodes.from_env({"EMPLOYMENT_CODE_KEY_DIR": str(key_dir)})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_citizen(app, name: str = "张三丰", bound: bool = True, **facts: Any) -> dict[str, Any]:
    """A signed-in citizen account, bound to a resident with these facts unless `bound` is off."""
    with app.app_context():
        cipher = api_services().cipher
        with services().db.session() as s:
            resident_id = None
            if bound:
                resident = Resident(external_id=f"t-{uuid.uuid4().hex}",
                                    name_enc=cipher.encrypt(name, field=NAME).encode(), **facts)
                s.add(resident)
                s.flush()
                resident_id = resident.id
            account = accounts.CitizenAccount(openid=f"o-{uuid.uuid4().hex}",
                                              resident_id=resident_id)
            s.add(account)
            s.flush()
            account_id = account.id
        token = api_services().tokens.issue(CITIZEN, account_id).access_token
    return {"headers": bearer(token), "resident_id": resident_id}


def add_staff(app, username: str, roles: list[str]) -> dict[str, Any]:
    with app.app_context():
        with services().db.session() as s:
            staff = accounts.create_staff(s, username, PASSWORD, roles, api_services().cipher)
            staff_id = staff.account.id
        token = api_services().tokens.issue_staff(staff_id, roles).access_token
    return {"headers": bearer(token), "id": staff_id}


def grant_sharing(app, resident_id: int) -> None:
    with app.app_context(), services().db.session() as s:
        consent.grant(s, resident_id, consent.SHARE_WITH_EMPLOYERS, "miniapp")


def issue(client, citizen) -> dict[str, Any]:
    resp = client.post(ISSUE, headers=citizen["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def verify(client, code: Any, headers: dict | None = None) -> dict[str, Any]:
    resp = client.post(VERIFY, json={"code": code}, headers=headers or {})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# ---- issuing ---------------------------------------------------------------------------------


def test_citizen_gets_a_code_with_status_from_their_facts(client, app, key_dir):
    citizen = add_citizen(app, employment_status="unemployed", registered_unemployed=True)
    body = issue(client, citizen)
    assert body["status"] == "seeking" and body["colour"] == "blue"
    assert body["label"] == "蓝码 · 正在求职"
    assert {"key": "job_fair", "name": "招聘会报名"} in body["services"]
    expires = datetime.fromisoformat(body["expires_at"])
    issued = datetime.fromisoformat(body["issued_at"])
    assert expires - issued == timedelta(seconds=600)
    result = codes(key_dir).verify(body["code"])
    assert result.valid and result.status is Status.JOB_SEEKING


def test_qr_urls_serve_that_code_while_it_lives(client, app):
    citizen = add_citizen(app, employment_status="employed")
    body = issue(client, citizen)
    png = client.get(body["qr_png_url"])  # no token: the mini-program's <image> sends none
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "private" in png.headers["Cache-Control"]
    [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)).convert("L"))
    assert barcode.text == body["code"]
    svg = client.get(body["qr_svg_url"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"#07C160" in svg.data  # green frame
    forged = body["qr_png_url"].replace("t=", "t=x")
    assert client.get(forged).status_code == 404
    other = issue(client, add_citizen(app, employment_status="employed"))
    jti = body["qr_png_url"].split("/qr/")[1].split(".")[0]
    other_jti = other["qr_png_url"].split("/qr/")[1].split(".")[0]
    # One code's capability does not open another code's image.
    assert client.get(body["qr_png_url"].replace(jti, other_jti)).status_code == 404
    client.post(REVOKE, headers=citizen["headers"])
    gone = client.get(body["qr_png_url"])
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "code_expired"


def test_qr_url_stops_working_when_the_code_expires(client, app):
    provider = app.extensions["employment_code"]
    provider.settings = replace(provider.settings, ttl_seconds=1)
    provider.reload_seconds = 0
    body = issue(client, add_citizen(app, employment_status="employed"))
    time.sleep(1.1)
    assert client.get(body["qr_png_url"]).status_code == 410


def test_issuing_needs_sign_in_a_bound_resident_and_enough_facts(client, app):
    assert client.post(ISSUE).status_code == 401
    unbound = client.post(ISSUE, headers=add_citizen(app, bound=False)["headers"])
    assert unbound.status_code == 403
    assert unbound.get_json()["error"]["code"] == "real_name_required"
    empty = client.post(ISSUE, headers=add_citizen(app, local_hukou=True)["headers"])
    assert empty.status_code == 409 and empty.get_json()["error"]["code"] == "facts_incomplete"
    assert "补充" in empty.get_json()["error"]["message"]
    staff = add_staff(app, "ops_only_verifier", ["verifier"])
    assert client.post(ISSUE, headers=staff["headers"]).status_code == 403


def test_development_creates_a_key_on_first_use(client, app, tmp_path):
    fresh = tmp_path / "no-keys-yet"
    provider = app.extensions["employment_code"]
    provider.settings = replace(provider.settings, key_dir=fresh)
    provider.reload_seconds = 0
    assert client.get(JWKS).get_json() == {"keys": []}
    body = issue(client, add_citizen(app, employment_status="retired"))
    assert body["colour"] == "grey"
    assert len(list(fresh.glob("*.jwk"))) == 1
    assert len(client.get(JWKS).get_json()["keys"]) == 1


def test_production_refuses_to_start_without_a_key(tmp_path, sqlite_url, redis_url, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("EMPLOYMENT_CODE_KEY_DIR", str(tmp_path / "empty"))
    production = production_overrides(database_url=sqlite_url, redis_url=redis_url)
    with pytest.raises(NoSigningKeyError, match="keygen"):
        create_app(production)
    assert not (tmp_path / "empty").exists()
    generate_key("prod1", tmp_path / "empty")
    assert create_app(production).test_client().get(JWKS).status_code == 200


# ---- verification ----------------------------------------------------------------------------


def test_anyone_can_verify_and_sees_only_validity(client, app):
    """An anonymous scanner learns valid / revoked / expired, never the holder's status
    (issue 15: 重点帮扶 tells a stranger the holder needs assistance)."""
    citizen = add_citizen(app, employment_status="unemployed", hard_to_employ=True)
    grant_sharing(app, citizen["resident_id"])
    code = issue(client, citizen)["code"]
    body = verify(client, code)
    assert body["valid"] is True and body["reason"] == "ok"
    assert body["status"] is None and body["colour"] is None and body["label"] is None
    assert body["services"] is None and body["holder"] is None
    assert body["status_withheld"] is True
    assert "重点帮扶" not in json.dumps(body, ensure_ascii=False)
    # Nor does a citizen or staff without the verifier role.
    stranger = add_citizen(app, employment_status="employed")
    grid = add_staff(app, "grid_scanner", ["grid_worker"])
    for headers in (stranger["headers"], grid["headers"]):
        assert verify(client, code, headers)["status"] is None
    client.post(REVOKE, headers=citizen["headers"])
    revoked = verify(client, code)
    assert (revoked["valid"], revoked["reason"], revoked["status"]) == (False, "revoked", None)


def test_sensitive_status_needs_a_verifier_and_a_purpose_which_is_logged(client, app):
    citizen = add_citizen(app, employment_status="unemployed", hard_to_employ=True)
    employer = add_staff(app, "hr_purpose", ["verifier"])
    code = issue(client, citizen)["code"]
    body = verify(client, code, employer["headers"])
    assert body["valid"] is True and body["status"] is None and body["status_withheld"] is True
    resp = client.post(VERIFY, json={"code": code, "purpose": "办理公益性岗位招聘"},
                       headers=employer["headers"])
    body = resp.get_json()
    assert body["status"] == "priority" and body["label"] == "橙码 · 重点帮扶"
    assert body["status_withheld"] is False
    with app.app_context(), services().db.session() as s:
        entries = audit.entries_for_target(s, f"resident:{citizen['resident_id']}")
        shown = [e for e in entries if e.action == "employment_code.verify"
                 and e.detail.get("status_shown")]
        assert [e.detail["purpose"] for e in shown] == ["办理公益性岗位招聘"]
    # A status that says nothing sensitive is shown to a verifier without a purpose.
    worker = add_citizen(app, employment_status="employed")
    body = verify(client, issue(client, worker)["code"], employer["headers"])
    assert body["status"] == "employed" and body["status_withheld"] is False


def test_consented_holder_shows_masked_name_and_summary_to_a_verifier(client, app):
    citizen = add_citizen(app, "李小龙", employment_status="unemployed", registered_unemployed=True,
                          certificate_level=4, disabled=True)
    employer = add_staff(app, "hr_acme", ["verifier"])
    code = issue(client, citizen)["code"]
    assert verify(client, code, employer["headers"])["holder"] is None  # no consent yet
    grant_sharing(app, citizen["resident_id"])
    body = verify(client, code, employer["headers"])
    assert body["holder"]["masked_name"] == "李**"
    assert body["holder"]["job_seeking"]["text"] == (
        "正在求职；就业状态：失业；已办理失业登记；职业技能等级证书四级")
    assert "残疾" not in json.dumps(body, ensure_ascii=False)
    # Other staff roles and citizens never get the holder block.
    grid = add_staff(app, "grid_someone", ["grid_worker"])
    assert verify(client, code, grid["headers"])["holder"] is None
    stranger = add_citizen(app, employment_status="employed")
    assert verify(client, code, stranger["headers"])["holder"] is None
    # Withdrawal takes effect at the next scan.
    with app.app_context(), services().db.session() as s:
        consent.withdraw(s, citizen["resident_id"], consent.SHARE_WITH_EMPLOYERS)
    assert verify(client, code, employer["headers"])["holder"] is None


def test_staff_verifications_are_audited(client, app):
    citizen = add_citizen(app, employment_status="employed")
    grant_sharing(app, citizen["resident_id"])
    employer = add_staff(app, "hr_audited", ["verifier"])
    verify(client, issue(client, citizen)["code"], employer["headers"])
    verify(client, "not-a-code", employer["headers"])
    verify(client, issue(client, citizen)["code"])  # public: scan log only
    with app.app_context(), services().db.session() as s:
        [entry] = audit.entries_for_target(s, f"resident:{citizen['resident_id']}")
        assert entry.actor == f"staff:{employer['id']}"
        assert entry.action == "employment_code.verify" and entry.result == audit.OK
        assert entry.detail["disclosed"] is True and entry.ip
        [failed] = audit.entries_for_target(s, "employment_code")
        assert failed.result == audit.FAILED and failed.detail["reason"] == "malformed"
        assert audit.verify_chain(s) == []


def test_holder_sees_who_scanned(client, app):
    citizen = add_citizen(app, employment_status="unemployed")
    grant_sharing(app, citizen["resident_id"])
    employer = add_staff(app, "hr_bigco", ["verifier"])
    code = issue(client, citizen)["code"]
    verify(client, code)
    verify(client, code, employer["headers"])
    other = add_citizen(app, employment_status="employed")
    verify(client, issue(client, other)["code"], employer["headers"])
    page = client.get(SCANS, headers=citizen["headers"]).get_json()
    assert page["total"] == 2 and page["page"] == 1
    assert [(i["who"], i["verifier_kind"], i["result"], i["disclosed"]) for i in page["items"]] == [
        ("hr_bigco", "verifier", "ok", True),
        ("未登录用户扫码", "public", "ok", False),
    ]
    assert client.get(SCANS).status_code == 401
    empty = client.get(SCANS, headers=add_citizen(app, bound=False)["headers"]).get_json()
    assert empty["items"] == [] and empty["total"] == 0


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segments(code: str) -> list[str]:
    return code.split(".")


def resign(ring: EmploymentCodes, header: dict, claims: dict) -> str:
    key = ring.keyring.signing_key()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(key.private_key.sign(signing_input.encode()))}"


def test_bad_input_is_rejected_with_its_reason(client, app, key_dir):
    ring = codes(key_dir)
    good = issue(client, add_citizen(app, employment_status="employed"))["code"]
    header, payload, signature = segments(good)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    jwk_x = ring.jwks()["keys"][0]["x"]
    hs_header = b64(json.dumps({"alg": "HS256", "kid": "api1", "typ": "ec+jwt"}).encode())
    hs_input = f"{hs_header}.{payload}"
    hs_sig = hmac.new(jwk_x.encode(), hs_input.encode(), hashlib.sha256).digest()
    now = int(time.time())
    other_dir = key_dir.parent / "other"
    generate_key("rogue", other_dir, activates_at=datetime.now(UTC) - timedelta(hours=1))
    rogue = codes(other_dir).issue(new_subject_id(), Status.EMPLOYED).code
    none_header = b64(json.dumps({"alg": "none", "kid": "api1", "typ": "ec+jwt"}).encode())
    flipped = signature[:-3] + ("AAA" if signature[-3:] != "AAA" else "BBA")
    good_header = json.loads(base64.urlsafe_b64decode(header + "=="))
    raised = b64(json.dumps({**claims, "st": "priority"}).encode())
    cases = {
        "tampered payload": (f"{header}.{raised}.{signature}", "bad_signature"),
        "tampered signature": (f"{header}.{payload}.{flipped}", "bad_signature"),
        "alg none": (f"{none_header}.{payload}.", "bad_signature"),
        "hmac with the public key": (f"{hs_input}.{b64(hs_sig)}", "bad_signature"),
        "unknown kid": (rogue, "unknown_key"),
        "truncated": (good[: len(good) // 2], "malformed"),
        "oversized": (good + "A" * 2000, "malformed"),
        "bad base64": (f"{header}.{payload[:-2]}*!.{signature}", "malformed"),
        "not text": (12345, None),
        "expired": (resign(ring, good_header, {**claims, "iat": now - 3600, "exp": now - 3000}),
                    "expired"),
        "not yet valid": (resign(ring, good_header,
                                 {**claims, "iat": now + 3600, "exp": now + 3900}), "expired"),
    }
    for name, (code, reason) in cases.items():
        resp = client.post(VERIFY, json={"code": code})
        if reason is None:
            assert resp.status_code == 422, name
            assert resp.get_json()["error"]["fields"] == {"code": "应为文字"}, name
            continue
        body = resp.get_json()
        assert resp.status_code == 200, name
        assert (body["valid"], body["reason"]) == (False, reason), name
        assert body["status"] is None and body["colour"] is None, name
    assert client.post(VERIFY, json={}).get_json()["error"]["fields"] == {"code": "必填"}
    assert verify(client, good)["valid"] is True  # the untouched code still verifies


# ---- revocation ------------------------------------------------------------------------------


def test_holder_revocation_and_the_offline_feed(client, app):
    citizen = add_citizen(app, employment_status="unemployed")
    first, second = issue(client, citizen), issue(client, citizen)
    before = datetime.now(UTC) - timedelta(seconds=1)
    resp = client.post(REVOKE, headers=citizen["headers"])
    assert resp.get_json() == {"revoked": 2}
    for body in (first, second):
        assert verify(client, body["code"])["reason"] == "revoked"
    fresh = issue(client, citizen)
    assert verify(client, fresh["code"])["valid"] is True
    feed = client.get(FEED).get_json()
    jtis = {item["jti"] for item in feed["revoked"]}
    assert jtis == {b["qr_png_url"].split("/qr/")[1].split(".")[0] for b in (first, second)}
    assert datetime.fromisoformat(feed["next_since"]) < datetime.fromisoformat(feed["as_of"])
    later = client.get(FEED, query_string={"since": feed["as_of"]}).get_json()
    assert later["revoked"] == []
    again = client.get(FEED, query_string={"since": before.isoformat()}).get_json()
    assert {item["jti"] for item in again["revoked"]} == jtis
    bad = client.get(FEED, query_string={"since": "yesterday"})
    assert bad.status_code == 422 and "since" in bad.get_json()["error"]["fields"]
    assert client.post(REVOKE).status_code == 401


def test_status_change_revokes_older_codes(client, app):
    citizen = add_citizen(app, employment_status="unemployed")
    old = issue(client, citizen)
    with app.app_context(), services().db.session() as s:
        s.get(Resident, citizen["resident_id"]).employment_status = "employed"
    # Verified before a new code is issued: the holder's current facts decide.
    assert verify(client, old["code"])["reason"] == "revoked"
    new = issue(client, citizen)
    assert new["colour"] == "green" and verify(client, new["code"])["valid"] is True
    feed = client.get(FEED).get_json()
    assert len(feed["revoked"]) == 1


# ---- keys ------------------------------------------------------------------------------------


def test_jwks_is_public_and_a_foreign_jose_library_verifies_an_issued_code(client, app):
    resp = client.get(JWKS)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert "max-age" in resp.headers["Cache-Control"]
    published = resp.get_json()
    assert [k["kid"] for k in published["keys"]] == ["api1"]
    assert all("d" not in k for k in published["keys"])
    body = issue(client, add_citizen(app, employment_status="employed"))
    token = jwt.JWT(jwt=body["code"], key=jwk.JWKSet.from_json(json.dumps(published)),
                    algs=["EdDSA"], check_claims={"iss": "huimin", "exp": None})
    assert json.loads(token.claims)["st"] == "employed"


def test_verify_is_rate_limited_per_address(sqlite_url, redis_url, redis_conn, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("EMPLOYMENT_CODE_VERIFY_RATE_LIMIT", "3/minute")
    app = create_app({"database_url": sqlite_url, "redis_url": redis_url})
    client = app.test_client()
    statuses = [client.post(VERIFY, json={"code": "x"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.post(VERIFY, json={"code": "x"})
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Per address: another one is not affected.
    other = client.post(VERIFY, json={"code": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200
    # Only the answered scans are logged (three, plus the other address's one).
    with app.app_context():
        assert scan_log.pending(redis_conn) == 4


def test_verify_limit_counts_both_windows_and_staff_scans(sqlite_url, redis_url, redis_conn,
                                                          monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("EMPLOYMENT_CODE_VERIFY_RATE_LIMIT", "100/minute,3/hour")
    app = create_app({"database_url": sqlite_url, "redis_url": redis_url})
    client = app.test_client()
    employer = add_staff(app, "hr_limited", ["verifier"])
    assert client.post(VERIFY, json={"code": "x"}).status_code == 200
    assert client.post(VERIFY, json={"code": "x"}, headers=employer["headers"]).status_code == 200
    assert client.post(VERIFY, json={"code": "x"}).status_code == 200
    refused = client.post(VERIFY, json={"code": "x"}, headers=employer["headers"])
    # The hour's window (clock-aligned) is the one breached: retry when that hour ends. (Not
    # "> 60 s": in an hour's last minute its end is under a minute away.)
    until_hour_ends = 3600 - int(time.time()) % 3600
    assert refused.status_code == 429
    assert abs(int(refused.headers["Retry-After"]) - until_hour_ends) <= 2


def test_cli_keygen_writes_a_private_key_and_prints_the_public_one(app, tmp_path):
    target = tmp_path / "cli-keys"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["employment-code", "keygen", "--kid", "k2030", "--dir",
                                 str(target), "--activates-at", "2030-01-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    path = target / "k2030.jwk"
    assert path.stat().st_mode & 0o777 == 0o600
    assert '"d"' not in result.output and '"kid": "k2030"' in result.output
    assert json.loads(path.read_text())["activates_at"] == "2030-01-01T00:00:00Z"
    again = runner.invoke(args=["employment-code", "keygen", "--kid", "k2030", "--dir",
                                str(target)])
    assert again.exit_code != 0 and "exists" in again.output
    bad = runner.invoke(args=["employment-code", "keygen", "--kid", "bad kid!", "--dir",
                              str(target)])
    assert bad.exit_code != 0 and "kid" in bad.output
    naive = runner.invoke(args=["employment-code", "keygen", "--dir", str(target),
                                "--activates-at", "2030-01-01T00:00:00"])
    assert naive.exit_code != 0 and "zone" in naive.output


def test_store_keeps_no_personal_data_in_the_code(client, app):
    body = issue(client, add_citizen(app, "王五", employment_status="employed"))
    payload = json.loads(base64.urlsafe_b64decode(body["code"].split(".")[1] + "=="))
    assert set(payload) == {"iss", "sub", "st", "iat", "exp", "jti"}
    with app.app_context(), services().db.session() as s:
        record = store.find_code(s, payload["jti"])
        assert record.subject == payload["sub"] and record.code == body["code"]
