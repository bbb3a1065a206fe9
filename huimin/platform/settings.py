"""The one settings object, read from environment variables (and a `.env` file, by `load_settings`).

Every process (web, worker, action server, CLI) builds the same Settings, so a value
is defined once here and documented in `.env.example`. Capabilities with many settings have
a typed section (``settings.ops``, ``settings.benefits``,
``settings.employment_code``); variable names are unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parents[2]
_HOURS = re.compile(r"^(\d{1,2})-(\d{1,2})$")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def whole_number(
    env: Mapping[str, str], name: str, default: int, what: str = "a whole number"
) -> int:
    """``name`` from ``env`` as an int (blank: ``default``); a bad value names the variable."""
    raw = env.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}: expected {what}, got {raw!r}") from None


def _worker_ttl(env: Mapping[str, str]) -> int:
    """WORKER_TTL_SECONDS, 60 by default; a value RQ cannot work with names the variable."""
    ttl = whole_number(env, "WORKER_TTL_SECONDS", 60, "a whole number of seconds")
    if ttl < 20:
        raise ValueError(f"WORKER_TTL_SECONDS: expected at least 20 seconds, got {ttl}")
    return ttl


def _optional_float(name: str) -> float | None:
    """A number, or None when the variable is unset or blank; a bad value names the variable."""
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else None
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {raw!r}") from None


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name, "")
    return Path(value) if value else default


@dataclass(frozen=True)
class OpsSettings:
    """Ops section: review threshold, gate file, training directories (trained models live in
    the database: huimin/ops/model_store.py)."""

    # Inbox: user messages whose top intent confidence is below this are "low confidence".
    low_confidence: float = field(
        default_factory=lambda: float(os.environ.get("OPS_LOW_CONFIDENCE", "0.6"))
    )
    # Gate rules (tolerance, required intents and their floors): a data file ops can edit.
    gate_file: Path = field(
        default_factory=lambda: _path("OPS_GATE_FILE", ROOT / "huimin" / "ops" / "gate.yml")
    )
    # Overrides the gate file's macro-F1 tolerance (None: the file's).
    gate_tolerance: float | None = field(
        default_factory=lambda: _optional_float("OPS_GATE_TOLERANCE")
    )
    # One fresh directory per training run (exported data, reports, log).
    training_dir: Path = field(
        default_factory=lambda: _path("OPS_TRAINING_DIR", ROOT / "var" / "training")
    )
    rasa_bin: Path = field(
        default_factory=lambda: _path("RASA_BIN", ROOT / ".venv-rasa" / "bin" / "rasa")
    )
    heldout_file: Path = field(
        default_factory=lambda: _path("OPS_HELDOUT_FILE", ROOT / "tests" / "nlu" / "heldout.yml")
    )
    # The end-to-end answer-evaluation set: the training export skips annotated messages that
    # are near-duplicates of its cases, and the gate judges candidates on it.
    eval_dir: Path = field(
        default_factory=lambda: _path("OPS_EVAL_DIR", ROOT / "tests" / "eval")
    )
    # Where `make train` installs its model: registered as the first live model.
    installed_models: Path = field(
        default_factory=lambda: _path("INSTALLED_MODELS_DIR", ROOT / "models")
    )
    # Rasa's component cache, shared with `make train`: a retraining reuses every component
    # whose inputs did not change (annotations only change the NLU; the dialogue policies are
    # taken from the cache).
    rasa_cache: Path = field(
        default_factory=lambda: _path("RASA_CACHE_DIRECTORY", ROOT / ".rasa" / "cache")
    )
    training_timeout_seconds: int = field(
        default_factory=lambda: int(os.environ.get("OPS_TRAINING_TIMEOUT", "3600"))
    )


@dataclass(frozen=True)
class PortSettings:
    """Ports of the local stack `make run` starts (scripts/run.py), and where its ready notice
    (scripts/announce.py) looks for the web app."""

    web: int = field(default_factory=lambda: _int("WEB_PORT", 8000))
    rasa: int = field(default_factory=lambda: _int("RASA_PORT", 5005))
    actions: int = field(default_factory=lambda: _int("ACTION_PORT", 5055))
    emulator: int = field(default_factory=lambda: _int("EMULATOR_PORT", 8081))

    def by_process(self) -> dict[str, int]:
        """As scripts.stack.stack_env takes them."""
        return {"web": self.web, "rasa": self.rasa, "actions": self.actions,
                "emulator": self.emulator}


@dataclass(frozen=True)
class BenefitSettings:
    """Benefits section: how notices are pushed (template, rate limits, quiet hours, validity,
    schedule). ``from_env`` documents the variables and names a bad one."""

    rules_dir: Path = ROOT / "rules"
    # Mini-program subscribe-message template (registered in the WeChat console); its
    # fields: thing1 policy title, thing2 amount, thing3 hint.
    template_id: str = "benefit-notice"
    notice_page: str = "pages/notices/detail"
    # The citizens' pages (/my/) that official-account messages link to.
    pages_url: str = "http://127.0.0.1:8000"
    pushes_per_minute: int = 600  # across the service (WeChat's API quota is per app)
    pushes_per_resident_per_day: int = 2  # more notices wait for the next day
    quiet_start: int = 21  # no pushes from 21:00 ...
    quiet_end: int = 8  # ... to 08:00, local time
    timezone: str = "Asia/Shanghai"
    notice_valid_days: int = 90  # an unanswered notice expires after this
    # Batch matching, crontab in UTC (RQ's clock): 18:30 UTC is 02:30 in Beijing.
    nightly_cron: str = "30 18 * * *"
    rules_check_seconds: int = 300  # how often rule files are checked for a new version

    def __post_init__(self) -> None:
        if self.pushes_per_minute < 1 or self.pushes_per_resident_per_day < 1:
            raise ValueError("BENEFIT_PUSHES_PER_MINUTE and _PER_RESIDENT_PER_DAY must be >= 1")
        if not (0 <= self.quiet_start <= 23 and 0 <= self.quiet_end <= 23):
            raise ValueError("BENEFIT_QUIET_HOURS must be two hours 0-23, e.g. 21-8")
        if self.notice_valid_days < 1:
            raise ValueError("BENEFIT_NOTICE_VALID_DAYS must be >= 1")

    def quiet(self, hour: int) -> bool:
        """Is this local hour inside the quiet period (which may wrap past midnight)?"""
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= hour < self.quiet_end
        return hour >= self.quiet_start or hour < self.quiet_end

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenefitSettings:
        """RULES_DIR (default rules/), BENEFIT_TEMPLATE_ID, BENEFIT_NOTICE_PAGE,
        BENEFIT_PUSHES_PER_MINUTE (600), BENEFIT_PUSHES_PER_RESIDENT_PER_DAY (2),
        BENEFIT_QUIET_HOURS ("21-8"; "0-0" for none), BENEFIT_TIMEZONE (Asia/Shanghai),
        BENEFIT_NOTICE_VALID_DAYS (90), BENEFIT_NIGHTLY_CRON ("30 18 * * *", UTC),
        BENEFIT_RULES_CHECK_SECONDS (300), PUBLIC_BASE_URL (the pages' address)."""
        env = os.environ if environ is None else environ
        d = cls()

        number = partial(whole_number, env)

        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        quiet = text("BENEFIT_QUIET_HOURS", f"{d.quiet_start}-{d.quiet_end}")
        match = _HOURS.match(quiet)
        if not match:
            raise ValueError(f"BENEFIT_QUIET_HOURS: expected e.g. 21-8, got {quiet!r}")
        return cls(
            rules_dir=Path(text("RULES_DIR", str(d.rules_dir))),
            template_id=text("BENEFIT_TEMPLATE_ID", d.template_id),
            notice_page=text("BENEFIT_NOTICE_PAGE", d.notice_page),
            pages_url=text("PUBLIC_BASE_URL", d.pages_url).rstrip("/"),
            pushes_per_minute=number("BENEFIT_PUSHES_PER_MINUTE", d.pushes_per_minute),
            pushes_per_resident_per_day=number(
                "BENEFIT_PUSHES_PER_RESIDENT_PER_DAY", d.pushes_per_resident_per_day
            ),
            quiet_start=int(match.group(1)),
            quiet_end=int(match.group(2)),
            timezone=text("BENEFIT_TIMEZONE", d.timezone),
            notice_valid_days=number("BENEFIT_NOTICE_VALID_DAYS", d.notice_valid_days),
            nightly_cron=text("BENEFIT_NIGHTLY_CRON", d.nightly_cron),
            rules_check_seconds=number("BENEFIT_RULES_CHECK_SECONDS", d.rules_check_seconds),
        )


@dataclass(frozen=True)
class EmploymentCodeSettings:
    """Employment-code section: issuer, lifetimes, where the signing keys are. Plain data:
    huimin.employment_code builds its key ring from it. ``from_env`` documents the variables."""

    issuer: str = "huimin"
    ttl_seconds: int = 600
    max_ttl_seconds: int = 3600
    leeway_seconds: int = 30
    key_dir: Path = ROOT / "keys" / "employment_code"
    keys_json: str = ""
    # Flask-Limiter string for the public verify endpoint, per client IP.
    verify_rate_limit: str = "120/minute,3000/hour"
    # How long a scan's verdict (code revoked or not, holder's status current) may be served
    # from Redis; writes invalidate it at once, this bounds a lost invalidation. 0: off.
    verify_cache_seconds: int = 60

    def __post_init__(self) -> None:
        if not 0 < self.ttl_seconds <= self.max_ttl_seconds:
            raise ValueError("EMPLOYMENT_CODE_TTL_SECONDS must be > 0 and <= the max TTL")
        if not 0 <= self.verify_cache_seconds <= 3600:
            raise ValueError("EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS must be between 0 and 3600")
        if not 0 <= self.leeway_seconds <= 300:
            raise ValueError("EMPLOYMENT_CODE_LEEWAY_SECONDS must be between 0 and 300")
        if not re.fullmatch(r"[\x21-\x7e]{1,32}", self.issuer) or '"' in self.issuer:
            raise ValueError("EMPLOYMENT_CODE_ISSUER must be 1-32 printable ASCII characters")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmploymentCodeSettings:
        """EMPLOYMENT_CODE_ISSUER (iss, default "huimin"), EMPLOYMENT_CODE_TTL_SECONDS (600),
        EMPLOYMENT_CODE_MAX_TTL_SECONDS (3600: longest lifetime accepted, and how long a
        replaced key stays published), EMPLOYMENT_CODE_LEEWAY_SECONDS (30: clock skew),
        EMPLOYMENT_CODE_KEYS (JSON: JWK Set, list or one private JWK; wins over the
        directory), EMPLOYMENT_CODE_KEY_DIR (*.jwk files, default keys/employment_code),
        EMPLOYMENT_CODE_VERIFY_RATE_LIMIT ("120/minute,3000/hour", per client IP),
        EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS (60: longest a scan verdict is served from Redis
        if an invalidation is lost; 0 turns the cache off).
        """
        env = os.environ if environ is None else environ
        defaults = cls()

        seconds = partial(whole_number, env, what="whole seconds")
        return cls(
            issuer=env.get("EMPLOYMENT_CODE_ISSUER", "").strip() or defaults.issuer,
            ttl_seconds=seconds("EMPLOYMENT_CODE_TTL_SECONDS", defaults.ttl_seconds),
            max_ttl_seconds=seconds("EMPLOYMENT_CODE_MAX_TTL_SECONDS", defaults.max_ttl_seconds),
            leeway_seconds=seconds("EMPLOYMENT_CODE_LEEWAY_SECONDS", defaults.leeway_seconds),
            key_dir=Path(env.get("EMPLOYMENT_CODE_KEY_DIR", "").strip() or defaults.key_dir),
            keys_json=env.get("EMPLOYMENT_CODE_KEYS", "").strip(),
            verify_rate_limit=env.get("EMPLOYMENT_CODE_VERIFY_RATE_LIMIT", "").strip()
            or defaults.verify_rate_limit,
            verify_cache_seconds=seconds(
                "EMPLOYMENT_CODE_VERIFY_CACHE_SECONDS", defaults.verify_cache_seconds),
        )

    @property
    def retire_after_seconds(self) -> int:
        """How long a key stays published after it stops signing."""
        return self.max_ttl_seconds + self.leeway_seconds


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
    # WeChat web authorisation (the /my/ pages): production https://open.weixin.qq.com.
    wechat_oauth_base: str = field(
        default_factory=lambda: _env("WECHAT_OAUTH_BASE", "http://127.0.0.1:8081")
    )
    # Where citizens and grid workers reach the pages: links in pushed messages.
    public_base_url: str = field(
        default_factory=lambda: _env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
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
    referrals_dir: Path = field(
        default_factory=lambda: Path(_env("REFERRALS_DIR", str(ROOT / "referrals")))
    )
    hotline: str = "12333"
    # Mini-program API sign-in (issue 3). Empty API_TOKEN_KEY: derived from SECRET_KEY.
    api_token_key: str = field(default_factory=lambda: _env("API_TOKEN_KEY", ""))
    # Separate secrets for separate purposes (huimin/platform/keys.py); development derives
    # unset ones.
    qr_link_key: str = field(default_factory=lambda: _env("QR_LINK_KEY", ""))
    pseudonym_key: str = field(default_factory=lambda: _env("PSEUDONYM_KEY", ""))
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
    # Reverse proxies in front of the web app (webapp/proxies.py): how many hops of
    # X-Forwarded-* to believe, and from which peers (empty: any peer; 0 hops: never).
    trusted_proxy_count: int = field(default_factory=lambda: _int("TRUSTED_PROXY_COUNT", 0))
    trusted_proxies: str = field(default_factory=lambda: _env("TRUSTED_PROXIES", ""))
    # Real-name binding (huimin/identity/real_name.py): attempts per day per citizen and per
    # ID number, and the mini-program subscribe template that tells both accounts of an appeal.
    real_name_attempts_per_day: int = field(
        default_factory=lambda: _int("REAL_NAME_ATTEMPTS_PER_DAY", 5)
    )
    real_name_template_id: str = field(
        default_factory=lambda: _env("REAL_NAME_TEMPLATE_ID", "real-name-notice")
    )
    audit_retention_days: int = field(default_factory=lambda: _int("AUDIT_RETENTION_DAYS", 183))
    # The RQ worker's heartbeat (jobs/worker.py): it bounds how long a Redis that stops
    # answering holds a worker (its BLPOP waits WORKER_TTL - 15 s) and how long a dead worker
    # stays listed for /readyz. At least 20 s, or RQ's blocking wait would be under 5 s.
    worker_ttl_seconds: int = field(default_factory=lambda: _worker_ttl(os.environ))
    ops: OpsSettings = field(default_factory=OpsSettings)
    ports: PortSettings = field(default_factory=PortSettings)
    benefits: BenefitSettings = field(default_factory=BenefitSettings.from_env)
    employment_code: EmploymentCodeSettings = field(
        default_factory=EmploymentCodeSettings.from_env
    )

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def load_settings() -> Settings:
    """This process's settings. A `.env` file at the repository root (development) is read
    first, here and nowhere else; variables already set in the environment win."""
    load_dotenv(ROOT / ".env")
    return Settings()
