"""Chat simulator: a phone-width page that behaves like a citizen's WeChat.

The page asks the WeChat emulator (playing WeChat's servers) to build a real signed, encrypted
message, posts it to the real callback, and asks the emulator to open the reply. Messages sent
later (customer-service and subscribe messages) are read back from the emulator.
"""

from __future__ import annotations

import requests
from apiflask import APIBlueprint
from flask import jsonify, render_template, request

from huimin.wechat.menu import menu
from webapp.extensions import services

bp = APIBlueprint("simulator", __name__, enable_openapi=False)


def _emulator(method: str, path: str, **kwargs):
    base = services().settings.wechat_api_base.rstrip("/")
    try:
        resp = requests.request(method, f"{base}{path}", timeout=5, **kwargs)
        return jsonify(resp.json()), resp.status_code
    except (requests.RequestException, ValueError):
        return jsonify({"error": {"code": "emulator_unavailable",
                                  "message": "微信模拟服务没有启动"}}), 502


@bp.get("/")
def page():
    settings = services().settings
    return render_template("simulator.html", mode=settings.wechat_message_mode,
                           menu=menu(settings)["button"],
                           emulator=settings.wechat_api_base.rstrip("/"))


@bp.post("/simulator/api/envelope")
def envelope():
    data = request.get_json(silent=True) or {}
    payload = {
        "openid": str(data.get("openid", ""))[:64],
        "msg_type": data.get("msg_type", "text"),
        "mode": services().settings.wechat_message_mode,
    }
    for key in ("content", "event", "event_key", "recognition"):
        if key in data:
            payload[key] = str(data[key])[:2000]
    return _emulator("POST", "/_emulator/envelope", json=payload)


@bp.post("/simulator/api/open")
def open_reply():
    data = request.get_json(silent=True) or {}
    return _emulator("POST", "/_emulator/open", json={"body": str(data.get("body", ""))})


@bp.get("/simulator/api/media/<media_id>")
def media(media_id: str):
    base = services().settings.wechat_api_base.rstrip("/")
    try:
        resp = requests.get(f"{base}/_emulator/media/{media_id}", timeout=5)
    except requests.RequestException:
        error = {"code": "emulator_unavailable", "message": "图片暂时打不开"}
        return jsonify({"error": error}), 502
    content_type = resp.headers.get("Content-Type", "image/png")
    return resp.content, resp.status_code, {"Content-Type": content_type}


@bp.get("/simulator/api/messages")
def messages():
    params = {"touser": request.args.get("openid", ""), "since_id": request.args.get("since_id", 0)}
    return _emulator("GET", "/_emulator/messages", params=params)
