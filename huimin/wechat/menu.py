"""The official account's menu, in WeChat's `menu/create` shape.

Its links open the citizens' own pages (/my/...) inside WeChat, which sign the citizen in
through web authorisation; its click keys are the chat's menu intents
(``huimin.wechat.channel.MENU_CLICKS``). The chat simulator draws the same menu.
"""

from __future__ import annotations

from typing import Any

from huimin.platform.settings import Settings

PAGES = (("我的补贴", "/my/benefits"), ("我的就业码", "/my/code"),
         ("网格员帮办", "/my/assist"), ("我的数据", "/my/data"))
CLICKS = (("问政策", "POLICY"), ("转人工", "HUMAN"))


def menu(settings: Settings) -> dict[str, Any]:
    """At most 3 buttons, 5 under each (WeChat's limits)."""
    base = settings.public_base_url.rstrip("/")

    def view(name: str, path: str) -> dict[str, str]:
        return {"type": "view", "name": name, "url": base + path}

    return {"button": [
        view(*PAGES[0]),
        view(*PAGES[1]),
        {"name": "更多", "sub_button": [
            *(view(*p) for p in PAGES[2:]),
            *({"type": "click", "name": n, "key": k} for n, k in CLICKS),
        ]},
    ]}
