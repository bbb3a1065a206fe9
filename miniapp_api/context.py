"""Per-app objects of the API (token service, PII cipher, rate limiter) and request helpers."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_limiter import Limiter

from huimin.identity.tokens import TokenService
from huimin.privacy.pii import PiiCipher
from huimin.wechat.api import WeChatApi
from webapp.extensions import services


@dataclass
class ApiServices:
    tokens: TokenService
    cipher: PiiCipher
    limiter: Limiter


def api_services() -> ApiServices:
    return current_app.extensions["huimin_api"]


def miniapp_client() -> WeChatApi:
    """The mini-program's WeChat client (jscode2session, phone numbers, subscribe messages)."""
    svc = services()
    return WeChatApi(svc.settings, svc.redis, miniapp=True)


def client_ip() -> str:
    """The caller's address (set up ProxyFix in front of a reverse proxy)."""
    return request.remote_addr or "unknown"
