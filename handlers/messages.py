"""What to answer for each WeChat message type."""

from __future__ import annotations

from huimin import conversation, wechat_users
from webapp.extensions import services

WELCOME = (
    "欢迎关注惠民人社！我是惠民助手，24小时在线。\n"
    "回复 1：查政策\n回复 2：我能领哪些补贴\n回复 3：办事指引\n回复 4：转人工"
)
UNSUPPORTED = "暂时只能看懂文字和语音哦。请用文字或语音告诉我您想办什么事。"


def reply_for(message) -> str | None:
    """Return the passive reply text, or None for 'success' (nothing to say)."""
    svc = services()
    kind = message.type
    if kind == "event":
        return _event(message)
    with svc.db.session() as session:
        user = wechat_users.touch(session, message.source, svc.settings.secret_key)
        sender = user.pseudonym
    if kind == "text":
        text = message.content or ""
    elif kind == "voice" and getattr(message, "recognition", None):
        text = message.recognition
    elif kind == "voice":
        return "没听清您的语音，请再说一遍，或直接打字告诉我。"
    else:
        return UNSUPPORTED
    result = conversation.answer(
        svc.assistant, sender, text, budget=svc.settings.reply_budget_seconds
    )
    return result.text or None


def _event(message) -> str | None:
    svc = services()
    event = getattr(message, "event", "")
    if event in {"subscribe", "subscribe_scan"}:
        with svc.db.session() as session:
            wechat_users.touch(session, message.source, svc.settings.secret_key, subscribed=True)
        return WELCOME
    if event == "unsubscribe":
        with svc.db.session() as session:
            wechat_users.touch(session, message.source, svc.settings.secret_key, subscribed=False)
        return None
    return "收到。您可以直接发文字问我问题。"
