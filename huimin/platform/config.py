"""Settings read from environment variables (a `.env` file is loaded by the edges).

Every process (web, worker, action server, CLI) builds the same Settings, so a value
is defined once here and documented in `.env.example`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    env: str = field(default_factory=lambda: _env("HUIMIN_ENV", "development"))
    secret_key: str = field(default_factory=lambda: _env("SECRET_KEY", "dev-only-change-me"))
    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'huimin.db'}")
    )
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    # Rasa is reached over HTTP only (narrow boundary: the NLU engine is replaceable).
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    rasa_token: str = field(default_factory=lambda: _env("RASA_TOKEN", "dev-rasa-token"))
    action_server_url: str = field(
        default_factory=lambda: _env("ACTION_SERVER_URL", "http://127.0.0.1:5055")
    )
    # WeChat: production points WECHAT_API_BASE at https://api.weixin.qq.com.
    wechat_api_base: str = field(
        default_factory=lambda: _env("WECHAT_API_BASE", "http://127.0.0.1:8081")
    )
    wechat_appid: str = field(default_factory=lambda: _env("WECHAT_APPID", "wx0000000000demo"))
    wechat_secret: str = field(default_factory=lambda: _env("WECHAT_SECRET", "demo-secret"))
    wechat_token: str = field(default_factory=lambda: _env("WECHAT_TOKEN", "demo-token"))
    wechat_aes_key: str = field(
        default_factory=lambda: _env(
            "WECHAT_ENCODING_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        )
    )
    wechat_aes_key_previous: str = field(
        default_factory=lambda: _env("WECHAT_ENCODING_AES_KEY_PREVIOUS", "")
    )
    # plain | compatible | safe
    wechat_message_mode: str = field(default_factory=lambda: _env("WECHAT_MESSAGE_MODE", "safe"))
    miniapp_appid: str = field(default_factory=lambda: _env("MINIAPP_APPID", "wx0000000000mini"))
    miniapp_secret: str = field(default_factory=lambda: _env("MINIAPP_SECRET", "mini-secret"))
    reply_budget_seconds: float = field(default_factory=lambda: _float("REPLY_BUDGET_SECONDS", 4.0))
    user_rate_limit_per_minute: int = field(
        default_factory=lambda: _int("USER_RATE_LIMIT_PER_MINUTE", 20)
    )
    simulator_enabled: bool = field(default_factory=lambda: _bool("SIMULATOR_ENABLED", True))
    # Personal-data protection: base64 32-byte keys, newest first; the first encrypts.
    pii_keys: str = field(default_factory=lambda: _env("PII_KEYS", ""))
    pii_hash_key: str = field(default_factory=lambda: _env("PII_HASH_KEY", ""))
    policies_dir: Path = field(
        default_factory=lambda: Path(_env("POLICIES_DIR", str(ROOT / "policies")))
    )
    guides_dir: Path = field(default_factory=lambda: Path(_env("GUIDES_DIR", str(ROOT / "guides"))))
    hotline: str = "12333"
    # Mini-program API sign-in (issue 3). Empty API_TOKEN_KEY: derived from SECRET_KEY.
    api_token_key: str = field(default_factory=lambda: _env("API_TOKEN_KEY", ""))
    api_access_token_ttl: int = field(default_factory=lambda: _int("API_ACCESS_TOKEN_TTL", 900))
    api_refresh_token_ttl: int = field(
        default_factory=lambda: _int("API_REFRESH_TOKEN_TTL", 30 * 86400)
    )
    api_staff_refresh_token_ttl: int = field(
        default_factory=lambda: _int("API_STAFF_REFRESH_TOKEN_TTL", 8 * 3600)
    )
    # Flask-Limiter strings, applied per client IP and per user/username.
    api_rate_limit_login: str = field(
        default_factory=lambda: _env("API_RATE_LIMIT_LOGIN", "10/minute,100/hour")
    )
    api_rate_limit_expensive: str = field(
        default_factory=lambda: _env("API_RATE_LIMIT_EXPENSIVE", "5/minute,30/hour")
    )
    audit_retention_days: int = field(default_factory=lambda: _int("AUDIT_RETENTION_DAYS", 183))

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def load_settings() -> Settings:
    return Settings()
