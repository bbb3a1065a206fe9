"""Emulator settings: the same env vars and defaults as `huimin/platform/settings.py`.

The emulator deliberately does not import the domain package (it stands in for an
external system); a test keeps the defaults in step with `huimin.platform.settings.Settings`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace

MODES = ("plain", "compatible", "safe")

# Word -> msg_sec_check label (20002 porn, 20006 illegal, 20008 fraud ...).
DEFAULT_RISKY_WORDS: dict[str, int] = {"赌博": 20006, "色情": 20002, "刷单返利": 20008}


def parse_risky_words(spec: str) -> dict[str, int]:
    """Parse `word:label,word:label` (label defaults to 21000, "other risk")."""
    words: dict[str, int] = {}
    for item in spec.split(","):
        word, _, label = item.strip().partition(":")
        if word:
            words[word] = int(label) if label.strip() else 21000
    return words


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class EmulatorConfig:
    wechat_appid: str = field(default_factory=lambda: _env("WECHAT_APPID", "wx0000000000demo"))
    wechat_secret: str = field(default_factory=lambda: _env("WECHAT_SECRET", "demo-secret"))
    miniapp_appid: str = field(default_factory=lambda: _env("MINIAPP_APPID", "wx0000000000mini"))
    miniapp_secret: str = field(default_factory=lambda: _env("MINIAPP_SECRET", "mini-secret"))
    wechat_token: str = field(default_factory=lambda: _env("WECHAT_TOKEN", "demo-token"))
    wechat_aes_key: str = field(
        default_factory=lambda: _env(
            "WECHAT_ENCODING_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        )
    )
    # Default envelope mode, as configured on the official-account console.
    message_mode: str = field(default_factory=lambda: _env("WECHAT_MESSAGE_MODE", "safe"))
    # The official account's original id (gh_...), sent as ToUserName in callbacks.
    original_id: str = field(default_factory=lambda: _env("WECHAT_ORIGINAL_ID", "gh_0123456789ab"))
    token_ttl: int = field(default_factory=lambda: int(_env("EMULATOR_TOKEN_TTL", "7200")))
    # wx.login and phone codes live 5 minutes on WeChat.
    code_ttl: int = 300
    risky_words: dict[str, int] = field(
        default_factory=lambda: parse_risky_words(os.environ["EMULATOR_RISKY_WORDS"])
        if "EMULATOR_RISKY_WORDS" in os.environ
        else dict(DEFAULT_RISKY_WORDS)
    )
    # Injectable so tests can move time (48-hour window, token expiry) without sleeping.
    clock: Callable[[], float] = time.time

    @property
    def apps(self) -> dict[str, str]:
        """appid -> secret for every account the emulator knows."""
        return {self.wechat_appid: self.wechat_secret, self.miniapp_appid: self.miniapp_secret}

    @classmethod
    def load(cls, overrides: Mapping[str, object] | None = None) -> EmulatorConfig:
        """Env vars first, then explicit overrides (e.g. from `create_app(config)`)."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown emulator config keys: {', '.join(unknown)}")
        config = replace(cls(), **overrides)
        if config.message_mode not in MODES:
            raise ValueError(f"message_mode must be one of {MODES}, not {config.message_mode!r}")
        return config
