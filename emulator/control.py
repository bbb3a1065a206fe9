"""`/_emulator/...`: what tests and the chat simulator use to drive the fake WeChat.

These endpoints stand for things that happen on users' phones (wx.login, the phone
button, tapping "allow" on a subscription, sending a message) and for inspecting what
the project sent. Errors are HTTP 400 `{"error": "..."}`; they are not recorded as calls.

    GET  health                      ids and default message mode
    POST reset                       forget all tokens, users, codes, media, calls, messages
    POST login {openid?, unionid?}   one-time wx.login code (random openid if none)
    POST oauth-code {openid?}        web-authorisation code for an official-account user
    GET  as?openid=&next=            open a link in "WeChat" as this user (emulator/web_auth.py)
    POST phone-code {phone, country_code?, openid?}   code for getuserphonenumber
    POST face {verify_id, verify_ret?}   the user's wx.requestFacialVerify (10000: holder)
    POST users/<openid> {appid?, unionid?, subscribed?, blocked?, rate_limited?,
         last_interaction?, accept?: [template_id], subscriptions?: {template_id: n}}
    GET  users/<openid>              what the emulator knows about a user
    GET  calls?path=&since=          inbound API calls (credentials masked), by sequence id
    GET  messages?touser=&since_id=  delivered customer-service and subscribe messages
    GET  media/<media_id>            uploaded bytes (Content-Type as uploaded)
    POST faults {path, errcode, count?, errmsg?, status?, delay?}   next `count` calls to path
         fail; with `delay` (seconds) the answer comes that late, and with errcode 0 the call
         succeeds (a message is delivered) but its answer is late: WeChat accepted it and the
         caller cannot know yet
    POST tokens/expire {appid?}      expire issued tokens now (42001 on next use)
    POST risky-words {words: {word: label}}   replace msg_sec_check's risky words
    POST envelope {openid, msg_type, content?, recognition?, event?, event_key?, msg_id?,
         media_id?, location?, link?, ticket?, mode?}   signed XML for our callback
    POST open {body, query?, mode?}  read the callback's passive reply as WeChat would
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.api import current_state
from emulator.envelope import build_envelope, message_fields, open_reply
from emulator.errors import ControlError
from emulator.state import Envelope, Fault

bp = Blueprint("emulator_control", __name__, url_prefix="/_emulator")


@bp.errorhandler(ControlError)
def _bad_request(exc: ControlError) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 400


def _body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError("body must be JSON") from exc
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ControlError(f"{key} must be a non-empty string")
    return value


def _int_arg(name: str) -> int:
    value = request.args.get(name, "0")
    try:
        return int(value)
    except ValueError as exc:
        raise ControlError(f"{name} must be an integer") from exc


@bp.get("/health")
def health() -> Response:
    config = current_state().config
    return jsonify(ok=True, wechat_appid=config.wechat_appid, miniapp_appid=config.miniapp_appid,
                   original_id=config.original_id, message_mode=config.message_mode)


@bp.post("/reset")
def reset() -> Response:
    current_state().reset()
    return jsonify(ok=True)


@bp.post("/login")
def login() -> Response:
    data = _body()
    return jsonify(current_state().login_code(
        _optional_str(data, "openid"), _optional_str(data, "appid"), _optional_str(data, "unionid")
    ))


@bp.post("/oauth-code")
def oauth_code() -> Response:
    return jsonify(current_state().oauth_code(_optional_str(_body(), "openid")))


@bp.post("/phone-code")
def phone_code() -> Response:
    data = _body()
    return jsonify(current_state().phone_code(
        data.get("phone"), data.get("country_code", "86"), _optional_str(data, "appid"),
        data.get("openid"),
    ))


@bp.post("/face")
def face() -> Response:
    data = _body()
    return jsonify(current_state().face_performed(data.get("verify_id"),
                                                  data.get("verify_ret", 10000)))


@bp.post("/users/<openid>")
def update_user(openid: str) -> Response:
    return jsonify(current_state().update_user(openid, _body()))


@bp.get("/users/<openid>")
def get_user(openid: str) -> tuple[Response, int]:
    user = current_state().user(openid)
    if user is None:
        return jsonify(error=f"no user {openid}"), 404
    return jsonify(user), 200


@bp.get("/calls")
def calls() -> Response:
    # An empty filter means "no filter" (the simulator sends touser= before a user exists).
    return jsonify(calls=current_state().calls(request.args.get("path") or None,
                                               _int_arg("since")))


@bp.get("/messages")
def messages() -> Response:
    return jsonify(messages=current_state().messages(request.args.get("touser") or None,
                                                     _int_arg("since_id")))


@bp.get("/media/<media_id>")
def media(media_id: str) -> Response | tuple[Response, int]:
    item = current_state().media(media_id)
    if item is None:
        return jsonify(error=f"no media {media_id}"), 404
    return Response(item.data, mimetype=item.content_type,
                    headers={"X-Media-Type": item.type, "X-Media-Appid": item.appid})


@bp.post("/faults")
def set_fault() -> Response:
    data = _body()
    path, errcode = data.get("path"), data.get("errcode")
    count, status = data.get("count", 1), data.get("status", 200)
    delay = data.get("delay", 0)
    if not isinstance(path, str) or not path.startswith("/"):
        raise ControlError("path must start with /, e.g. /cgi-bin/message/custom/send")
    for name, value in (("errcode", errcode), ("count", count), ("status", status)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ControlError(f"{name} must be an integer")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 600:
        raise ControlError("delay must be a number of seconds, 0-600")
    if (errcode == 0 and not delay) or count < 0 or not 200 <= status <= 599:
        raise ControlError("errcode must be non-zero (or 0 with a delay), count >= 0, "
                           "status 200-599")
    state = current_state()
    state.set_fault(path, Fault(errcode=errcode, remaining=count,
                                errmsg=_optional_str(data, "errmsg"), status=status,
                                delay=float(delay)))
    return jsonify(faults=state.faults())


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify(faults=current_state().faults())


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    """Make every (or one app's) issued token expired now, to exercise 42001 handling."""
    return jsonify(expired=current_state().expire_tokens(_optional_str(_body(), "appid")))


@bp.post("/risky-words")
def risky_words() -> Response:
    words = _body().get("words")
    if not isinstance(words, dict) or not all(
        isinstance(w, str) and w and isinstance(label, int) and not isinstance(label, bool)
        for w, label in words.items()
    ):
        raise ControlError('words must map words to labels, e.g. {"赌博": 20006}')
    state = current_state()
    state.risky_words = dict(words)
    return jsonify(words=state.risky_words)


@bp.post("/envelope")
def envelope() -> Response:
    """Build the signed (and maybe encrypted) POST WeChat would send to our callback."""
    state = current_state()
    data = _body()
    openid = _optional_str(data, "openid")
    if openid is None:
        raise ControlError("openid is required")
    mode = data.get("mode") or state.config.message_mode
    fields = message_fields(data)
    built = build_envelope(state.config, openid, mode, int(state.now()), data["msg_type"], fields)
    interaction = state.record_inbound(openid, data["msg_type"], data.get("event"))
    state.remember_envelope(built.nonce, Envelope(mode=mode, openid=openid))
    return jsonify(query=built.query, body=built.body, mode=mode, interaction=interaction)


@bp.post("/open")
def open_() -> Response:
    """Decrypt and read the passive reply our callback returned, as WeChat would."""
    state = current_state()
    data = _body()
    body, query = data.get("body", ""), data.get("query") or {}
    if not isinstance(body, str) or not isinstance(query, dict):
        raise ControlError("body must be a string and query an object")
    known = state.envelope(query.get("nonce"))
    mode = data.get("mode") or (known.mode if known else state.config.message_mode)
    reply = open_reply(state.config, body, mode, known.openid if known else None,
                       lambda media_id: state.media_usable(state.config.wechat_appid, media_id))
    return jsonify(reply)


@bp.route("/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str) -> tuple[Response, int]:
    return jsonify(error=f"no control endpoint /_emulator/{rest}"), 404
