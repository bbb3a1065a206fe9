"""Sign-in through the WeChat emulator, tokens (refresh rotation, reuse, logout), staff sign-in
with TOTP and lockout, WeChat error mapping, rate limits."""

from __future__ import annotations

import json

import pytest
import redis
import requests

from huimin.identity.models import CitizenAccount, StaffAccount
from tests.api_fixtures import (
    bearer,
    citizen_login,
    create_staff,
    make_api_app,
    staff_login,
    wx_login_code,
)
from webapp.extensions import services


def error_of(resp) -> dict:
    assert resp.is_json, resp.data[:200]
    body = resp.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


# ---- citizens ----------------------------------------------------------------------------------


def test_citizen_signs_in_through_jscode2session(api_app, api_client, emulator, redis_conn):
    issued = wx_login_code(emulator, "o-alice")
    resp = api_client.post("/api/v1/auth/login", json={"code": issued["code"]})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    # session_key never leaves the server: not in the body, not readable in Redis.
    session_key = requests.get(f"{emulator}/_emulator/users/o-alice", timeout=5).json()[
        "session_key"]
    assert session_key and session_key not in resp.get_data(as_text=True)
    with api_app.app_context(), services().db.session() as s:
        account = s.query(CitizenAccount).filter_by(openid="o-alice").one()
    stored = redis_conn.get(f"huimin:auth:wx-session-key:{account.id}")
    assert stored and session_key.encode() not in stored and redis_conn.ttl(
        f"huimin:auth:wx-session-key:{account.id}") > 0
    me = api_client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["account_id"] == account.id
    # Signing in again is the same account.
    again = citizen_login(api_client, emulator, "o-alice")
    me2 = api_client.get("/api/v1/me", headers=again.headers).get_json()
    assert me2["account_id"] == account.id


def test_login_code_is_one_time(api_client, emulator):
    issued = wx_login_code(emulator)
    assert api_client.post("/api/v1/auth/login", json={"code": issued["code"]}).status_code == 200
    resp = api_client.post("/api/v1/auth/login", json={"code": issued["code"]})
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "wechat_code_used"


def test_unknown_code_is_40029(api_client, emulator):
    resp = api_client.post("/api/v1/auth/login", json={"code": "not-a-real-code"})
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] == "wechat_code_invalid"
    assert "重新" in err["message"]


@pytest.mark.parametrize(
    ("flag", "status", "code"),
    [("rate_limited", 429, "wechat_rate_limited"), ("blocked", 403, "wechat_user_blocked")],
)
def test_wechat_refusals_are_mapped(api_client, emulator, flag, status, code):
    issued = wx_login_code(emulator, "o-flagged")
    requests.post(f"{emulator}/_emulator/users/o-flagged", json={flag: True},
                  timeout=5).raise_for_status()
    resp = api_client.post("/api/v1/auth/login", json={"code": issued["code"]})
    assert resp.status_code == status
    assert error_of(resp)["code"] == code
    if status == 429:
        assert resp.headers["Retry-After"]
    # The block lifts: the same (unused) code now works.
    requests.post(f"{emulator}/_emulator/users/o-flagged", json={flag: False},
                  timeout=5).raise_for_status()
    assert api_client.post("/api/v1/auth/login", json={"code": issued["code"]}).status_code == 200


def test_wechat_unreachable_is_502(sqlite_url, redis_url, redis_conn):
    app = make_api_app(sqlite_url, redis_url, "http://127.0.0.1:9")
    resp = app.test_client().post("/api/v1/auth/login", json={"code": "abc"})
    assert resp.status_code == 502
    assert error_of(resp)["code"] == "wechat_unavailable"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "code", "必填"),
        ({"code": ""}, "code", "长度不符合要求"),
        ({"code": 123}, "code", "应为文字"),
        ({"code": None}, "code", "不能为空"),
        ({"code": "x" * 257}, "code", "长度不符合要求"),
        ({"code": "abc", "extra": 1}, "extra", "不支持该字段"),
    ],
)
def test_login_validation_names_the_field(api_client, body, field, message):
    resp = api_client.post("/api/v1/auth/login", json=body)
    assert resp.status_code == 422
    err = error_of(resp)
    assert err["code"] == "invalid_input"
    assert err["fields"] == {field: message}


def test_malformed_and_oversized_bodies(api_client):
    resp = api_client.post("/api/v1/auth/login", data="{not json",
                           content_type="application/json")
    assert resp.status_code == 400 and error_of(resp)["code"] == "bad_request"
    resp = api_client.post("/api/v1/auth/login", data=json.dumps(["a list"]),
                           content_type="application/json")
    assert resp.status_code in (400, 422) and error_of(resp)
    big = json.dumps({"code": "x" * (2 * 1024 * 1024)})
    resp = api_client.post("/api/v1/auth/login", data=big, content_type="application/json")
    assert resp.status_code == 413 and error_of(resp)["code"] == "payload_too_large"


def test_http_errors_under_the_api_are_json(api_client):
    resp = api_client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"
    resp = api_client.get("/api/v1/auth/login")
    assert resp.status_code == 405 and error_of(resp)["code"] == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]


def test_unexpected_exception_is_json_500_without_trace(tmp_path, redis_url, redis_conn,
                                                       emulator):
    # The database URL points at a directory that does not exist: every query fails.
    app = make_api_app(f"sqlite:///{tmp_path}/missing/dir/x.db", redis_url, emulator)
    app.config["TESTING"] = False  # as in production: the exception is handled, not raised
    with app.app_context():
        token = app.extensions["huimin_api"].tokens.issue("citizen", 1).access_token
    resp = app.test_client().get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 500
    err = error_of(resp)
    assert err["code"] == "internal_error"
    assert "sqlite" not in resp.get_data(as_text=True).lower()
    assert "Traceback" not in resp.get_data(as_text=True)


def test_refresh_rotates_and_reuse_revokes_the_family(api_client, emulator):
    first = citizen_login(api_client, emulator)
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert resp.status_code == 200
    second = resp.get_json()
    assert second["refresh_token"] != first.refresh_token
    assert api_client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 200
    # The old refresh token is spent; presenting it again ends the whole session.
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert resp.status_code == 401 and error_of(resp)["code"] == "refresh_invalid"
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert resp.status_code == 401
    resp = api_client.get("/api/v1/me", headers=bearer(second["access_token"]))
    assert resp.status_code == 401 and error_of(resp)["code"] == "session_ended"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "0" * 32 + ".1.x", ""])
def test_bad_refresh_tokens(api_client, token):
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert resp.status_code in (401, 422)
    assert error_of(resp)["code"] in ("refresh_invalid", "invalid_input")


def test_logout_revokes_access_and_refresh_at_once(api_client, emulator):
    citizen = citizen_login(api_client, emulator)
    other = citizen_login(api_client, emulator, citizen.openid)  # a second device
    assert api_client.post("/api/v1/auth/logout", json={},
                           headers=citizen.headers).status_code == 204
    resp = api_client.get("/api/v1/me", headers=citizen.headers)
    assert resp.status_code == 401 and error_of(resp)["code"] == "session_ended"
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": citizen.refresh_token})
    assert resp.status_code == 401
    # Only that session ended.
    assert api_client.get("/api/v1/me", headers=other.headers).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic abc", "Bearer not.a.jwt", "Bearer eyJhbGciOiJub25lIn0.e30."],
)
def test_bad_access_tokens_are_401(api_client, header):
    resp = api_client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401
    assert error_of(resp)["code"] in ("unauthorized", "token_invalid")
    assert resp.headers.get("WWW-Authenticate") == "Bearer"


def test_token_signed_with_another_key_is_refused(sqlite_url, redis_url, redis_conn, emulator):
    app_a = make_api_app(sqlite_url, redis_url, emulator, api_token_key="key-a" * 8)
    app_b = make_api_app(sqlite_url, redis_url, emulator, api_token_key="key-b" * 8)
    citizen = citizen_login(app_a.test_client(), emulator)
    assert app_a.test_client().get("/api/v1/me", headers=citizen.headers).status_code == 200
    resp = app_b.test_client().get("/api/v1/me", headers=citizen.headers)
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_invalid"


def test_expired_access_token(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_access_token_ttl=-60)
    client = app.test_client()
    citizen = citizen_login(client, emulator)
    resp = client.get("/api/v1/me", headers=citizen.headers)
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_expired"


# ---- staff -------------------------------------------------------------------------------------


def test_grid_worker_signs_in_with_password_only(api_app, api_client):
    worker = create_staff(api_app, "wang.grid", ["grid_worker"], grids=["G0001"])
    assert worker.totp_secret is None
    token = staff_login(api_client, worker)
    me = api_client.get("/api/v1/staff/me", headers=bearer(token)).get_json()
    assert me["username"] == "wang.grid" and me["roles"] == ["grid_worker"]
    assert me["grid_ids"] == ["G0001"]


def test_ops_needs_totp_and_codes_cannot_be_replayed(api_app, api_client):
    ops = create_staff(api_app, "li.ops", ["ops"])
    assert ops.totp_secret
    resp = api_client.post("/api/v1/staff/login",
                           json={"username": ops.username, "password": ops.password})
    assert resp.status_code == 401
    err = error_of(resp)
    assert err["code"] == "totp_required" and err["fields"] == {"totp": "必填"}
    code = ops.totp_now()
    body = {"username": ops.username, "password": ops.password, "totp": code}
    assert api_client.post("/api/v1/staff/login", json=body).status_code == 200
    resp = api_client.post("/api/v1/staff/login", json=body)
    assert resp.status_code == 401 and error_of(resp)["code"] == "totp_replayed"
    resp = api_client.post("/api/v1/staff/login", json={**body, "totp": "000000"})
    assert resp.status_code == 401 and error_of(resp)["code"] in ("totp_invalid", "totp_replayed")


def test_wrong_password_and_unknown_user_look_the_same(api_app, api_client):
    create_staff(api_app, "zhao", ["verifier"])
    wrong = api_client.post("/api/v1/staff/login", json={"username": "zhao", "password": "nope"})
    unknown = api_client.post("/api/v1/staff/login",
                              json={"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)


def test_lockout_after_five_failures(api_app, api_client):
    staff = create_staff(api_app, "chen", ["verifier"])
    bad = {"username": "chen", "password": "wrong-password-1"}
    for _ in range(4):
        assert api_client.post("/api/v1/staff/login", json=bad).status_code == 401
    resp = api_client.post("/api/v1/staff/login", json=bad)
    assert resp.status_code == 423 and error_of(resp)["code"] == "account_locked"
    # Locked: even the right password is refused, with Retry-After about 15 minutes.
    resp = api_client.post("/api/v1/staff/login",
                           json={"username": "chen", "password": staff.password})
    assert resp.status_code == 423
    assert 800 < int(resp.headers["Retry-After"]) <= 901
    # An admin (CLI) unlocks.
    result = api_app.test_cli_runner().invoke(args=["staff", "unlock", "--username", "chen"])
    assert result.exit_code == 0, result.output
    assert staff_login(api_client, staff)


def test_deactivated_staff_lose_access_at_once(api_app, api_client):
    admin = create_staff(api_app, "admin1", ["admin"])
    worker = create_staff(api_app, "w1", ["grid_worker"], grids=["G1"])
    admin_token = staff_login(api_client, admin)
    worker_token = staff_login(api_client, worker)
    resp = api_client.post(f"/api/v1/admin/staff/{worker.id}/deactivate",
                           headers=bearer(admin_token))
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    resp = api_client.get("/api/v1/staff/me", headers=bearer(worker_token))
    assert resp.status_code == 401
    resp = api_client.post("/api/v1/staff/login",
                           json={"username": "w1", "password": worker.password})
    assert resp.status_code == 403 and error_of(resp)["code"] == "account_inactive"


def test_admin_creates_staff_over_the_api(api_app, api_client):
    admin = create_staff(api_app, "root", ["admin"])
    headers = bearer(staff_login(api_client, admin))
    resp = api_client.post("/api/v1/admin/staff", headers=headers, json={
        "username": "ops2", "password": "Another-Pass-77", "roles": ["ops"]})
    assert resp.status_code == 201
    created = resp.get_json()
    assert created["roles"] == ["ops"] and created["totp_uri"].startswith("otpauth://totp/")
    resp = api_client.post("/api/v1/admin/staff", headers=headers, json={
        "username": "ops2", "password": "Another-Pass-77", "roles": ["ops"]})
    assert resp.status_code == 409 and error_of(resp)["code"] == "username_taken"
    resp = api_client.post("/api/v1/admin/staff", headers=headers, json={
        "username": "weak", "password": "short", "roles": ["verifier"]})
    assert resp.status_code == 422 and "password" in error_of(resp)["fields"]
    resp = api_client.post("/api/v1/admin/staff", headers=headers, json={
        "username": "x", "password": "Another-Pass-77", "roles": ["citizen"]})
    assert resp.status_code == 422 and "roles.0" in error_of(resp)["fields"]
    resp = api_client.post("/api/v1/admin/staff", headers=headers, json={
        "username": "v", "password": "Another-Pass-77", "roles": ["verifier"], "grids": ["G1"]})
    assert resp.status_code == 422 and "grids" in error_of(resp)["fields"]
    listing = api_client.get("/api/v1/admin/staff?per_page=1&page=2", headers=headers).get_json()
    assert listing["total"] == 2 and listing["page"] == 2 and len(listing["items"]) == 1


def test_cli_creates_staff_and_prints_totp_uri(api_app):
    runner = api_app.test_cli_runner()
    result = runner.invoke(args=["staff", "create", "--username", "cli.admin", "--role", "admin",
                                 "--password-stdin"], input="Cli-Password-99\n")
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.output
    result = runner.invoke(
        args=["staff", "create", "--username", "zhou", "--role", "grid_worker", "--grid", "G7",
              "--grid", "G8"],
        input="Grid-Pass-123\nGrid-Pass-123\n",  # typed twice at the hidden prompt
    )
    assert result.exit_code == 0, result.output
    assert "otpauth" not in result.output
    with api_app.app_context(), services().db.session() as s:
        g = s.query(StaffAccount).filter_by(username="zhou").one()
        assert g.grid_ids == {"G7", "G8"}
        assert "Grid-Pass-123" not in g.password_hash
    result = runner.invoke(args=["staff", "create", "--username", "bad", "--role", "ops",
                                 "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "password" in result.output


# ---- rate limits -------------------------------------------------------------------------------


def test_sign_in_is_rate_limited_per_ip(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_rate_limit_login="2/minute")
    client = app.test_client()
    for _ in range(2):
        client.post("/api/v1/auth/login", json={"code": "x"})
    resp = client.post("/api/v1/auth/login", json={"code": "x"})
    assert resp.status_code == 429
    assert error_of(resp)["code"] == "rate_limited"
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    # Another IP is not affected.
    other = client.post("/api/v1/auth/login", json={"code": "x"},
                        environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 400


def test_staff_sign_in_is_rate_limited_per_username(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_rate_limit_login="3/minute")
    client = app.test_client()
    body = {"username": "victim", "password": "guess"}
    statuses = [
        client.post("/api/v1/staff/login", json=body,
                    environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_export_is_rate_limited_per_user(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_rate_limit_expensive="1/minute")
    client = app.test_client()
    alice = citizen_login(client, emulator)
    assert client.get("/api/v1/me/export", headers=alice.headers).status_code == 200
    resp = client.get("/api/v1/me/export", headers=alice.headers,
                      environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    bob = citizen_login(client, emulator)
    assert client.get("/api/v1/me/export", headers=bob.headers,
                      environ_base={"REMOTE_ADDR": "10.2.2.2"}).status_code == 200


def test_redis_key_of_refresh_family_expires(api_client, emulator, redis_conn: redis.Redis):
    citizen = citizen_login(api_client, emulator)
    session_id = citizen.refresh_token.split(".")[0]
    ttl = redis_conn.ttl(f"huimin:auth:family:{session_id}")
    assert 0 < ttl <= 30 * 86400


def test_citizen_sign_in_is_rate_limited_per_user(sqlite_url, redis_url, redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_rate_limit_login="2/minute")
    client = app.test_client()
    statuses = []
    for i in range(3):  # a new IP each time: only the per-user limit can trigger
        code = wx_login_code(emulator, "o-busy")["code"]
        statuses.append(client.post("/api/v1/auth/login", json={"code": code},
                                    environ_base={"REMOTE_ADDR": f"10.9.0.{i}"}))
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert error_of(statuses[2])["code"] == "rate_limited"
    assert 0 < int(statuses[2].headers["Retry-After"]) <= 60
    # Someone else is not affected.
    code = wx_login_code(emulator, "o-calm")["code"]
    assert client.post("/api/v1/auth/login", json={"code": code},
                       environ_base={"REMOTE_ADDR": "10.9.1.1"}).status_code == 200


def test_redis_outage_is_503_json(sqlite_url, redis_url, redis_conn, emulator):
    up = make_api_app(sqlite_url, redis_url, emulator, api_token_key="shared-key" * 4)
    citizen = citizen_login(up.test_client(), emulator)
    down = make_api_app(sqlite_url, "redis://127.0.0.1:9/0", emulator,
                        api_token_key="shared-key" * 4)
    client = down.test_client()
    resp = client.get("/api/v1/me", headers=citizen.headers)
    assert resp.status_code == 503 and error_of(resp)["code"] == "unavailable"
    resp = client.post("/api/v1/auth/login", json={"code": wx_login_code(emulator)["code"]})
    assert resp.status_code == 503 and error_of(resp)["code"] == "unavailable"


# ---- forged tokens (issue 15, High 1) -----------------------------------------------------------


def forge(app, real_token: str, **changes) -> str:
    """What someone who learned the signing key can mint: a real token of their own session
    with other claims (another subject, more roles)."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    from huimin.identity.tokens import signing_key

    with app.app_context():
        key = OctKey.import_key(signing_key(services().settings))
    claims = {**jwt.decode(real_token, key, algorithms=["HS256"]).claims, **changes}
    return jwt.encode({"alg": "HS256"}, claims, key, algorithms=["HS256"])


def test_forged_token_for_another_citizen_on_own_session_is_refused(api_client, api_app,
                                                                   emulator):
    mallory = citizen_login(api_client, emulator)
    alice = citizen_login(api_client, emulator)
    alice_id = api_client.get("/api/v1/me", headers=alice.headers).get_json()["account_id"]
    forged = forge(api_app, mallory.access_token, sub=f"citizen:{alice_id}")
    resp = api_client.get("/api/v1/me", headers=bearer(forged))
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_invalid"
    # Re-signing Mallory's own claims is what a real token looks like: still accepted.
    assert api_client.get("/api/v1/me",
                          headers=bearer(forge(api_app, mallory.access_token))).status_code == 200


@pytest.mark.parametrize("aud", [None, "huimin-api:staff"])
def test_forged_staff_token_on_a_citizen_session_is_refused(api_app, api_client, emulator, aud):
    admin = create_staff(api_app, "root.forged", ["admin"])
    mallory = citizen_login(api_client, emulator)
    changes = {"sub": f"staff:{admin.id}", "roles": ["admin"]}
    forged = forge(api_app, mallory.access_token, **changes, **({"aud": aud} if aud else {}))
    resp = api_client.get("/api/v1/admin/staff", headers=bearer(forged))
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_invalid"


def test_forged_roles_on_a_staff_session_are_refused(api_app, api_client):
    worker = create_staff(api_app, "w.forged", ["grid_worker"], grids=["G1"])
    token = staff_login(api_client, worker)
    forged = forge(api_app, token, roles=["admin", "grid_worker"])
    resp = api_client.get("/api/v1/admin/staff", headers=bearer(forged))
    assert resp.status_code == 401 and error_of(resp)["code"] == "token_invalid"
    assert api_client.get("/api/v1/staff/me", headers=bearer(token)).status_code == 200


def test_staff_sessions_only_come_from_the_staff_sign_in(api_app):
    with api_app.app_context():
        tokens = api_app.extensions["huimin_api"].tokens
        with pytest.raises(ValueError, match="staff sign-in"):
            tokens.issue("staff", 1)
        with pytest.raises(ValueError, match="staff roles"):
            tokens.issue_staff(1, ["citizen"])


def test_roles_removed_after_sign_in_are_gone_at_once(api_app, api_client):
    staff = create_staff(api_app, "two.roles", ["grid_worker", "ops"], grids=["G1"])
    token = staff_login(api_client, staff)
    assert api_client.get("/api/v1/ops/undelivered", headers=bearer(token)).status_code == 200
    with api_app.app_context(), services().db.session() as s:
        s.get(StaffAccount, staff.id).roles = "grid_worker"
    resp = api_client.get("/api/v1/ops/undelivered", headers=bearer(token))
    assert resp.status_code == 403 and error_of(resp)["code"] == "forbidden"


def test_wrong_secret_for_a_known_session_does_not_end_it(api_client, emulator):
    """Session ids can be seen (logs, a shoulder): a guessed secret must not log anyone out."""
    citizen = citizen_login(api_client, emulator)
    session_id, generation, _ = citizen.refresh_token.split(".")
    for forged in (f"{session_id}.{generation}.guessed", f"{session_id}.0.guessed",
                   f"{session_id}.{int(generation) + 1}.guessed"):
        resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": forged})
        assert resp.status_code == 401 and error_of(resp)["code"] == "refresh_invalid"
    assert api_client.get("/api/v1/me", headers=citizen.headers).status_code == 200
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": citizen.refresh_token})
    assert resp.status_code == 200
    # A wrong secret for the now older generation is still just refused...
    resp = api_client.post("/api/v1/auth/refresh",
                           json={"refresh_token": f"{session_id}.{generation}.guessed"})
    assert resp.status_code == 401
    assert api_client.get("/api/v1/me", headers=citizen.headers).status_code == 200
    # ...while the genuine spent token (a copy) ends the session.
    resp = api_client.post("/api/v1/auth/refresh", json={"refresh_token": citizen.refresh_token})
    assert resp.status_code == 401
    assert api_client.get("/api/v1/me", headers=citizen.headers).status_code == 401


# ---- forwarded headers (issue 15, Medium 4) ------------------------------------------------------


def refresh_from(client, peer: str, forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/api/v1/auth/refresh", json={"refresh_token": "0" * 32 + ".1.x"},
                       headers=headers, environ_base={"REMOTE_ADDR": peer})


def test_behind_a_trusted_proxy_each_citizen_has_their_own_bucket(sqlite_url, redis_url,
                                                                  redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_rate_limit_login="2/minute",
                       trusted_proxy_count=1, trusted_proxies="127.0.0.1")
    client = app.test_client()
    for _ in range(2):
        assert refresh_from(client, "127.0.0.1", "203.0.113.7").status_code == 401
    assert refresh_from(client, "127.0.0.1", "203.0.113.7").status_code == 429
    # Another citizen behind the same proxy is not locked out.
    assert refresh_from(client, "127.0.0.1", "203.0.113.8").status_code == 401
    # A client that is not our proxy cannot pick its address by sending the header.
    for _ in range(2):
        assert refresh_from(client, "198.51.100.1", f"192.0.2.{_}").status_code == 401
    assert refresh_from(client, "198.51.100.1", "192.0.2.99").status_code == 429


def test_without_configured_proxies_forwarded_headers_are_ignored(sqlite_url, redis_url,
                                                                  redis_conn, emulator):
    app = make_api_app(sqlite_url, redis_url, emulator, api_rate_limit_login="2/minute")
    client = app.test_client()
    for n in range(2):
        assert refresh_from(client, "198.51.100.2", f"192.0.2.{n}").status_code == 401
    assert refresh_from(client, "198.51.100.2", "192.0.2.50").status_code == 429


def test_bad_trusted_proxies_setting_names_itself(sqlite_url, redis_url, emulator):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'not-an-ip'"):
        make_api_app(sqlite_url, redis_url, emulator, trusted_proxy_count=1,
                     trusted_proxies="not-an-ip")


# ---- staff lockout per (username, address) (issue 15, Low 8) ------------------------------------


def test_lockout_is_per_username_and_address(api_app, api_client):
    """Anyone who knows a username could lock that person out; now only their own address."""
    staff = create_staff(api_app, "lock.pair", ["grid_worker"], grids=["G1"])
    bad = {"username": "lock.pair", "password": "wrong-password-1"}
    attacker = {"REMOTE_ADDR": "198.51.100.66"}
    for _ in range(5):
        api_client.post("/api/v1/staff/login", json=bad, environ_base=attacker)
    resp = api_client.post("/api/v1/staff/login", json={**bad, "password": staff.password},
                           environ_base=attacker)
    assert resp.status_code == 423
    # The staff member, from their own address, is not locked out.
    assert staff_login(api_client, staff)
    # An unknown username locks the same way (a lockout says nothing about existence).
    for _ in range(5):
        last = api_client.post("/api/v1/staff/login", environ_base=attacker,
                               json={"username": "nobody.here", "password": "x"})
    assert last.status_code == 423
    # The admin sees the lockout and lifts it over the API, audited.
    admin = create_staff(api_app, "lock.admin", ["admin"])
    headers = bearer(staff_login(api_client, admin))
    listed = {s["username"]: s["locked"] for s in api_client.get(
        "/api/v1/admin/staff", headers=headers).get_json()["items"]}
    assert listed["lock.pair"] is True and listed["lock.admin"] is False
    resp = api_client.post(f"/api/v1/admin/staff/{staff.id}/unlock", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["locked"] is False
    resp = api_client.post("/api/v1/staff/login", environ_base=attacker,
                           json={"username": "lock.pair", "password": staff.password})
    assert resp.status_code == 200
    from huimin.privacy import audit

    with api_app.app_context(), services().db.session() as s:
        [entry] = [e for e in audit.entries_for_target(s, f"staff:{staff.id}")
                   if e.action == "admin.staff.unlock"]
        assert entry.actor == f"staff:{admin.id}" and entry.detail == {"addresses_unlocked": 1}


def test_cli_unlock_lifts_every_address_and_is_audited(api_app, api_client):
    staff = create_staff(api_app, "lock.cli", ["grid_worker"], grids=["G1"])
    bad = {"username": "lock.cli", "password": "wrong-password-1"}
    for address in ("198.51.100.7", "198.51.100.8"):
        for _ in range(5):
            api_client.post("/api/v1/staff/login", json=bad, environ_base={"REMOTE_ADDR": address})
    result = api_app.test_cli_runner().invoke(args=["staff", "unlock", "--username", "lock.cli"])
    assert result.exit_code == 0 and "2 locked" in result.output
    for address in ("198.51.100.7", "198.51.100.8"):
        resp = api_client.post("/api/v1/staff/login", environ_base={"REMOTE_ADDR": address},
                               json={**bad, "password": staff.password})
        assert resp.status_code == 200
    from huimin.privacy import audit

    with api_app.app_context(), services().db.session() as s:
        assert [e.action for e in audit.entries_for_target(s, f"staff:{staff.id}")
                if e.action.endswith("unlock")] == ["cli.staff.unlock"]
