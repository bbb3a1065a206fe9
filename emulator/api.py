"""The WeChat server API paths, with WeChat's HTTP conventions.

Every inbound call is recorded (for `/_emulator/calls`) before anything else, so tests
can assert on exactly what the project sent, including calls that failed. Errors are
HTTP 200 with an errcode body, as on WeChat; only unknown paths get HTTP 404.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from emulator.errors import WeChatError, error_body
from emulator.state import EmulatorState

# WeChat's own (non-standard) content type; clients must cope with it.
JSON_TYPE = "application/json; encoding=utf-8"

bp = Blueprint("wechat_api", __name__)


def current_state() -> EmulatorState:
    return current_app.extensions["wechat_emulator"]


def wechat_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=JSON_TYPE)


def json_body() -> dict[str, Any]:
    """Parse the body whatever its Content-Type: wechatpy posts JSON bytes without one."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise WeChatError(44002)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise WeChatError(47001) from exc
    if not isinstance(data, dict):
        raise WeChatError(47001)
    return data


def _token(state: EmulatorState, appid: str | None) -> dict:
    args = request.args
    return state.issue_token(args.get("appid"), args.get("secret"), args.get("grant_type"))


def _stable_token(state: EmulatorState, appid: str | None) -> dict:
    body = json_body()
    if any(not isinstance(body.get(k, ""), str) for k in ("appid", "secret", "grant_type")):
        raise WeChatError(47001)
    return state.stable_token(body)


def _upload(state: EmulatorState, appid: str | None) -> dict:
    media = request.files.get("media")
    if media is None:
        return state.upload_media(appid or "", request.args.get("type"), None, None)
    return state.upload_media(appid or "", request.args.get("type"), media.mimetype,
                              media.read())


@dataclass(frozen=True)
class Endpoint:
    method: str
    handler: Callable[[EmulatorState, str | None], dict]
    # "none": no access_token; "any": either account's token; "mini": mini-program only
    auth: str


ENDPOINTS: dict[str, Endpoint] = {
    "/cgi-bin/token": Endpoint("GET", _token, "none"),
    "/cgi-bin/stable_token": Endpoint("POST", _stable_token, "none"),
    "/sns/jscode2session": Endpoint(
        "GET", lambda state, appid: state.code_to_session(request.args), "none"
    ),
    "/sns/oauth2/access_token": Endpoint(
        "GET", lambda state, appid: state.oauth_access_token(request.args), "none"
    ),
    "/cgi-bin/message/custom/send": Endpoint(
        "POST", lambda state, appid: state.send_custom(appid or "", json_body()), "any"
    ),
    "/cgi-bin/message/subscribe/send": Endpoint(
        "POST", lambda state, appid: state.send_subscribe(appid or "", json_body()), "mini"
    ),
    "/wxa/business/getuserphonenumber": Endpoint(
        "POST", lambda state, appid: state.phone_number(appid or "", json_body()), "mini"
    ),
    "/cityservice/face/identify/getverifyid": Endpoint(
        "POST", lambda state, appid: state.face_verify_id(appid or "", json_body()), "mini"
    ),
    "/cityservice/face/identify/queryverifyinfo": Endpoint(
        "POST", lambda state, appid: state.face_verify_info(appid or "", json_body()), "mini"
    ),
    "/wxa/msg_sec_check": Endpoint(
        "POST", lambda state, appid: state.msg_sec_check(appid or "", json_body()), "mini"
    ),
    "/cgi-bin/media/upload": Endpoint("POST", _upload, "any"),
}


def _masked_query() -> dict[str, str]:
    """Query for the call log; credentials are never stored whole."""
    query = {}
    for key, value in request.args.items():
        if key == "access_token":
            value = value[:6] + "…"
        elif key == "secret":
            value = "***"
        query[key] = value
    return query


def _body_summary() -> object:
    if request.mimetype == "multipart/form-data":
        files = {}
        for name, storage in request.files.items():
            size = len(storage.read())
            storage.stream.seek(0)
            files[name] = {"filename": storage.filename, "content_type": storage.mimetype,
                           "size": size}
        return {"form": request.form.to_dict(), "files": files}
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return {"raw": raw[:1000].decode("utf-8", "replace")}
    if isinstance(data, dict) and "secret" in data:
        data["secret"] = "***"
    if isinstance(data, dict) and isinstance(data.get("cert_info"), dict):
        data["cert_info"] = {**data["cert_info"], "cert_name": "***", "cert_no": "***"}
    return data


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> Response:
    """Bodies over MAX_CONTENT_LENGTH: WeChat answers a size error, not an HTTP 413."""
    return wechat_response(error_body(40006))


@bp.route("/<path:subpath>", methods=["GET", "POST"])
def handle(subpath: str) -> Response:
    state = current_state()
    path = request.path
    call = state.record_call(request.method, path, _masked_query(), _body_summary())
    status, fault = 200, None
    try:
        fault = state.take_fault(path)
        endpoint = ENDPOINTS.get(path)
        if fault is not None and fault.errcode:
            body, status = error_body(fault.errcode, fault.errmsg), fault.status
        elif endpoint is None:
            body, status = {"error": f"{path} is not emulated"}, 404
        else:
            if request.method != endpoint.method:
                raise WeChatError(43001 if endpoint.method == "GET" else 43002)
            appid = None
            if endpoint.auth != "none":
                mini_only = endpoint.auth == "mini"
                allowed = frozenset({state.config.miniapp_appid}) if mini_only else None
                appid = state.authenticate(request.args.get("access_token"), allowed)
            body = endpoint.handler(state, appid)
    except WeChatError as exc:
        body = exc.body()
    if fault is not None and fault.delay:
        time.sleep(fault.delay)  # done (or refused) already; only the answer is late
    errcode = body.get("errcode", 0 if status == 200 else None)
    state.finish_call(call, errcode if isinstance(errcode, int) else None, status)
    return wechat_response(body, status)
