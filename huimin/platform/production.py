"""Start-up checks for ``HUIMIN_ENV=production``: refuse weak, shipped or shared secrets.

Every value this repository ships (``.env.example``, defaults in code, test fixtures) is public,
so a production secret equal to one of them is no secret. The list is collected by scanning the
repository's files at start-up (string literals of every Python file, ``NAME=value`` pairs and
long tokens of the configuration files), never kept by hand, so a default added tomorrow is
refused tomorrow. Each secret must also carry at least 32 random bytes in its own format, the
purpose keys (huimin/platform/keys.py) must differ from each other and from ``SECRET_KEY``, the chat
simulator must be off and WeChat's API base must not be the local emulator.
"""

from __future__ import annotations

import ast
import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from huimin.platform.keys import Purpose, configured_secret
from huimin.platform.settings import ROOT, Settings

MIN_BYTES = 32
MIN_BITS = MIN_BYTES * 8
# A random string of this length over its alphabet repeats few characters; fewer distinct
# characters than this means a pattern ("x" * 64, "key-a" * 8), not randomness.
MIN_DISTINCT = 16
MIN_DISTINCT_HEX = 10
WECHAT_TOKEN_LENGTH = 32  # WeChat allows 3-32 letters and digits: use all 32
AES_KEY_LENGTH = 43  # WeChat's EncodingAESKey: 43 base64 characters = 32 bytes

_SKIPPED_DIRS = {".git", ".venv", ".venv-rasa", "node_modules", "var", "models", "reports",
                 "keys", "__pycache__", ".ruff_cache", ".pytest_cache", "nlu_data", "policies",
                 "rules", "guides", "seed_data"}
_CONFIG_SUFFIXES = {".example", ".env", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".sh", ".md",
                    ".json", ".txt"}
_CONFIG_NAMES = {"Makefile", "Procfile"}
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?[A-Z][A-Z0-9_]*\s*[=:]\s*['\"]?([^'\"\s#]+)", re.M)
_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.:]{6,}")


class ProductionConfigError(RuntimeError):
    """The production configuration is unsafe; the message lists every problem (no values)."""


def _python_literals(path: Path) -> Iterable[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return ()
    return (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and len(n.value) >= 6)


def _config_values(path: Path) -> Iterable[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return ()
    return [*_ASSIGNMENT.findall(text), *_TOKEN.findall(text)]


@lru_cache(maxsize=4)
def shipped_values(root: Path = ROOT) -> frozenset[str]:
    """Every string the repository ships that could be pasted into a secret setting."""
    values: set[str] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        for path in folder.iterdir():
            if path.is_dir():
                if path.name not in _SKIPPED_DIRS and not path.is_symlink():
                    stack.append(path)
            elif path.suffix == ".py":
                values.update(_python_literals(path))
            elif path.suffix in _CONFIG_SUFFIXES or path.name in _CONFIG_NAMES:
                values.update(_config_values(path))
    return frozenset(v.strip() for v in values if v.strip())


def random_bits(value: str) -> float:
    """A generous estimate of the randomness in ``value``: length × bits per character of the
    smallest usual alphabet (hex, base64, printable ASCII) it fits; 0 for evident patterns."""
    distinct = len(set(value))
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        if distinct < MIN_DISTINCT_HEX:
            return 0.0
        per_char = 4.0
    elif distinct < MIN_DISTINCT:
        return 0.0
    elif re.fullmatch(r"[A-Za-z0-9+/_=-]+", value):
        per_char = 6.0
    else:
        per_char = math.log2(95)
    return len(value) * per_char


def _secret_problems(name: str, value: str, shipped: frozenset[str]) -> list[str]:
    if not value:
        return [f"{name} is not set"]
    problems = []
    if value in shipped:
        problems.append(f"{name} equals a value shipped in the repository")
    if random_bits(value) < MIN_BITS:
        problems.append(f"{name} must hold at least {MIN_BYTES} random bytes "
                        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    return problems


def _wechat_token_problems(value: str, shipped: frozenset[str]) -> list[str]:
    problems = []
    if value in shipped:
        problems.append("WECHAT_TOKEN equals a value shipped in the repository")
    well_formed = re.fullmatch(f"[A-Za-z0-9]{{{WECHAT_TOKEN_LENGTH}}}", value) is not None
    if not well_formed or random_bits(value) == 0:
        problems.append(f"WECHAT_TOKEN must be {WECHAT_TOKEN_LENGTH} random letters and digits "
                        "(WeChat's maximum)")
    return problems


def _key_bytes_problems(name: str, raw: bytes) -> list[str]:
    if len(raw) != MIN_BYTES:
        return [f"{name} must decode to {MIN_BYTES} bytes"]
    if len(set(raw)) < MIN_DISTINCT:
        return [f"{name} is not random (too few distinct bytes)"]
    return []


def _aes_key_problems(value: str, shipped: frozenset[str]) -> list[str]:
    problems = []
    if value in shipped:
        problems.append("WECHAT_ENCODING_AES_KEY equals a value shipped in the repository")
    if len(value) != AES_KEY_LENGTH:
        return [*problems, f"WECHAT_ENCODING_AES_KEY must be {AES_KEY_LENGTH} characters"]
    try:
        raw = base64.b64decode(value + "=", validate=True)
    except binascii.Error:
        return [*problems, "WECHAT_ENCODING_AES_KEY is not base64"]
    return [*problems, *_key_bytes_problems("WECHAT_ENCODING_AES_KEY", raw)]


def _pii_keys_problems(spec: str, shipped: frozenset[str]) -> list[str]:
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        return ["PII_KEYS is not set"]
    problems = []
    for position, entry in enumerate(entries, start=1):
        name = f"PII_KEYS entry {position}"
        b64 = entry.partition(":")[2].strip()
        if entry in shipped or b64 in shipped:
            problems.append(f"{name} equals a value shipped in the repository")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            problems.append(f"{name} is not base64")
            continue
        problems.extend(_key_bytes_problems(name, raw))
    return problems


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in {"localhost", ""} or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


def production_problems(settings: Settings, root: Path = ROOT) -> list[str]:
    """Every reason not to start in production (plain English, never a secret's value)."""
    shipped = shipped_values(root)
    problems = []
    for name, value in (("SECRET_KEY", settings.secret_key), ("RASA_TOKEN", settings.rasa_token),
                        *((p.value, configured_secret(settings, p)) for p in Purpose)):
        problems.extend(_secret_problems(name, value.strip(), shipped))
    problems.extend(_wechat_token_problems(settings.wechat_token.strip(), shipped))
    problems.extend(_aes_key_problems(settings.wechat_aes_key.strip(), shipped))
    problems.extend(_pii_keys_problems(settings.pii_keys, shipped))
    separate = {"SECRET_KEY": settings.secret_key.strip(),
                **{p.value: configured_secret(settings, p) for p in Purpose}}
    seen: dict[str, str] = {}
    for name, value in separate.items():
        if value and value in seen:
            problems.append(f"{name} must differ from {seen[value]} (one secret per purpose)")
        seen.setdefault(value, name)
    if settings.simulator_enabled:
        problems.append("SIMULATOR_ENABLED must be 0 (the chat simulator is for development)")
    base = urlsplit(settings.wechat_api_base)
    if base.scheme != "https" or _is_local(settings.wechat_api_base):
        problems.append("WECHAT_API_BASE points at the local emulator or is not https; "
                        "use https://api.weixin.qq.com")
    return problems


def check_production(settings: Settings, root: Path = ROOT) -> None:
    """Raise ``ProductionConfigError`` listing every problem; a no-op outside production."""
    if not settings.is_production:
        return
    problems = production_problems(settings, root)
    if problems:
        raise ProductionConfigError(
            "refusing to start with HUIMIN_ENV=production: " + "; ".join(problems)
        )
