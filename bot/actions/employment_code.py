"""`show_employment_code`: issue the citizen's employment code and send its QR image in
WeChat (customer-service image message), then its colour, label and services as text."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import redis
import requests
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import database, runtime, settings
from huimin.employment_code import InsufficientFactsError, NoSigningKeyError, qr_png, store
from huimin.employment_code.runtime import CodesProvider
from huimin.platform.runtime import Runtime
from huimin.wechat import users as wechat_users
from huimin.wechat.api import WeChatApi, WeChatError

log = logging.getLogger(__name__)

NOT_BOUND = (
    "您还没有绑定身份，暂时无法出示就业码。请打开“惠民助手”小程序，"
    "在“我的”里完成实名绑定后，再发“就业码”给我。"
)
MISSING_FACTS = (
    "您的就业状态信息还不全，暂时生成不了就业码。请在小程序“我的资料”中补充，"
    "或拨打 12333 咨询。"
)
SEND_FAILED = "就业码图片暂时发不出来，请稍后再发“就业码”，或在小程序里打开就业码。"
UNAVAILABLE = "就业码服务暂时不可用，请稍后再试，或拨打 12333。"


@lru_cache(maxsize=1)
def _codes_provider(rt: Runtime) -> CodesProvider:
    return CodesProvider(rt.settings.employment_code, production=rt.settings.is_production)


def codes_provider() -> CodesProvider:
    """One key provider per runtime (it reloads the keys now and then by itself)."""
    return _codes_provider(runtime())


def redis_conn() -> redis.Redis:
    return runtime().redis


class ActionShowEmploymentCode(Action):
    def name(self) -> str:
        return "action_show_employment_code"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            with database().session() as session:
                user = wechat_users.by_pseudonym(session, tracker.sender_id)
                if user is None or user.resident_id is None:
                    dispatcher.utter_message(text=NOT_BOUND)
                    return []
                openid = user.openid
                issued = store.issue_code(session, codes_provider().signer(), user.resident_id)
        except InsufficientFactsError:
            dispatcher.utter_message(text=MISSING_FACTS)
            return []
        except (store.HolderNotFoundError, NoSigningKeyError) as exc:
            log.error("employment code not issued: %s", type(exc).__name__)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []

        png = qr_png(issued.code, frame=issued.colour)
        try:
            api = WeChatApi(settings(), redis_conn())
            media_id = api.upload_image("employment-code.png", png)
            api.send_image(openid, media_id)
        except (WeChatError, requests.RequestException) as exc:
            log.warning("employment code image not sent: %s", exc)
            dispatcher.utter_message(text=SEND_FAILED)
            return []

        minutes = max(1, round((issued.expires_at - issued.issued_at).total_seconds() / 60))
        services = "、".join(s.name for s in issued.definition.services)
        dispatcher.utter_message(
            text=f"这是您的就业码：{issued.label}。\n可办理：{services}。\n"
            f"{minutes}分钟内有效，过期请再发“就业码”。"
        )
        return []
