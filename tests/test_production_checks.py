"""Production start-up refuses weak, shipped and shared secrets, the simulator and the emulator
(issue 15, High 1). The shipped values are found by scanning the repository, as the app does."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from huimin.platform.production import ProductionConfigError, shipped_values
from huimin.platform.runtime import build_runtime
from huimin.platform.settings import ROOT, Settings
from scripts.stack import free_port
from tests.api_fixtures import production_overrides

SECRET_FIELDS = {
    "SECRET_KEY": "secret_key", "API_TOKEN_KEY": "api_token_key", "RASA_TOKEN": "rasa_token",
    "WECHAT_TOKEN": "wechat_token", "WECHAT_ENCODING_AES_KEY": "wechat_aes_key",
    "QR_LINK_KEY": "qr_link_key", "PSEUDONYM_KEY": "pseudonym_key",
}


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z_]+)=(\S*)", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def start(sqlite_url: str, redis_url: str, **changes):
    from webapp import create_app

    return create_app(production_overrides(database_url=sqlite_url, redis_url=redis_url,
                                           **changes))


def test_a_sound_production_configuration_starts(sqlite_url, redis_url, tmp_path, monkeypatch):
    from huimin.employment_code import generate_key

    monkeypatch.setenv("EMPLOYMENT_CODE_KEY_DIR", str(tmp_path / "keys"))
    generate_key("prod1", tmp_path / "keys")
    app = start(sqlite_url, redis_url)
    assert app.test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize("name", sorted(SECRET_FIELDS))
def test_each_value_from_env_example_is_refused(sqlite_url, redis_url, name):
    shipped = env_example()
    # Where .env.example leaves the setting empty, any other shipped secret stands in.
    value = shipped.get(name) or shipped["WECHAT_ENCODING_AES_KEY"]
    with pytest.raises(ProductionConfigError, match=name):
        start(sqlite_url, redis_url, **{SECRET_FIELDS[name]: value})


def test_secret_key_change_me_is_refused(sqlite_url, redis_url):
    with pytest.raises(ProductionConfigError, match="SECRET_KEY equals a value shipped"):
        start(sqlite_url, redis_url, secret_key="change-me")


def test_a_long_random_looking_shipped_value_is_refused_for_being_shipped(sqlite_url, redis_url):
    """The AES key in .env.example is 43 distinct characters: only the scan catches it."""
    value = env_example()["WECHAT_ENCODING_AES_KEY"]
    with pytest.raises(ProductionConfigError) as raised:
        start(sqlite_url, redis_url, secret_key=value)
    assert "SECRET_KEY equals a value shipped" in str(raised.value)
    assert "SECRET_KEY must hold" not in str(raised.value)
    with pytest.raises(ProductionConfigError, match="WECHAT_ENCODING_AES_KEY equals a value"):
        start(sqlite_url, redis_url, wechat_aes_key=value)


@pytest.mark.parametrize("value", ["x" * 64, "key-a" * 8, "short-but-random-Zq81", "0" * 64])
def test_weak_secrets_are_refused(sqlite_url, redis_url, value):
    with pytest.raises(ProductionConfigError, match="SECRET_KEY must hold at least 32"):
        start(sqlite_url, redis_url, secret_key=value)


def test_code_defaults_and_fixture_literals_are_collected():
    values = shipped_values()
    assert "dev-only-change-me" in values  # huimin/config.py default
    assert "demo-token" in values and "dev-rasa-token" in values
    assert "Correct-Horse-42" in values  # tests/api_fixtures.py


def test_a_value_added_to_any_file_is_found_without_a_list(tmp_path: Path):
    (tmp_path / "fixture.py").write_text('KEY = "Zk3p9QvL2mXw8RtY6nBc4HdJ7sFg1AeU0oIi5KqWxyz"\n')
    (tmp_path / ".env.example").write_text("RASA_TOKEN=t0ken-from-an-example-file-9f8e7d\n")
    values = shipped_values(tmp_path)
    assert "Zk3p9QvL2mXw8RtY6nBc4HdJ7sFg1AeU0oIi5KqWxyz" in values
    assert "t0ken-from-an-example-file-9f8e7d" in values


def test_shipped_pii_key_is_refused(sqlite_url, redis_url):
    import base64

    shipped_key = base64.b64encode(bytes(range(32))).decode()
    # A 32-byte key that appears in this very file is shipped.
    assert shipped_key == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    with pytest.raises(ProductionConfigError, match="PII_KEYS entry 1 equals"):
        start(sqlite_url, redis_url, pii_keys=f"p1:{shipped_key}")


def test_one_secret_for_two_purposes_is_refused(sqlite_url, redis_url):
    shared = production_overrides()["secret_key"]
    with pytest.raises(ProductionConfigError, match="API_TOKEN_KEY must differ from SECRET_KEY"):
        start(sqlite_url, redis_url, secret_key=shared, api_token_key=shared)


def test_unset_purpose_key_is_refused(sqlite_url, redis_url):
    with pytest.raises(ProductionConfigError, match="QR_LINK_KEY is not set"):
        start(sqlite_url, redis_url, qr_link_key="")


def test_simulator_and_emulator_are_refused(sqlite_url, redis_url):
    with pytest.raises(ProductionConfigError, match="SIMULATOR_ENABLED"):
        start(sqlite_url, redis_url, simulator_enabled=True)
    for base in ("http://127.0.0.1:8081", "https://localhost:8081", "http://api.weixin.qq.com"):
        with pytest.raises(ProductionConfigError, match="WECHAT_API_BASE"):
            start(sqlite_url, redis_url, wechat_api_base=base)


def test_development_starts_with_the_shipped_defaults(sqlite_url, redis_url):
    from webapp import create_app

    app = create_app({"env": "development", "database_url": sqlite_url, "redis_url": redis_url})
    assert app.test_client().get("/healthz").status_code == 200


def production_with_development_secrets(redis_url: str, sqlite_url: str) -> dict[str, str]:
    """A process environment that says production but keeps the shipped development secrets
    (the secret variables unset, so the code defaults apply, as on a machine set up wrong)."""
    env = {name: value for name, value in os.environ.items()
           if name not in {*SECRET_FIELDS, "PII_KEYS", "PII_HASH_KEY"}}
    env.update(HUIMIN_ENV="production", REDIS_URL=redis_url, DATABASE_URL=sqlite_url,
               PYTHONPATH=str(ROOT))
    return env


@pytest.mark.parametrize("process", [
    ["-m", "jobs.worker", "worker"],
    ["-m", "jobs.worker", "trainer"],
    ["-m", "bot.action_server", "--actions", "bot.actions", "--port", "{port}"],
    ["-m", "jobs.cron_runner"],
], ids=["worker", "trainer", "action-server", "cron"])
def test_every_process_that_builds_a_runtime_refuses_development_secrets(
    process, redis_url, sqlite_url
):
    """Each would serve (or block waiting for jobs) if it started: it must exit at once."""
    argv = [sys.executable, *(arg.format(port=free_port()) for arg in process)]
    done = subprocess.run(argv, env=production_with_development_secrets(redis_url, sqlite_url),
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ProductionConfigError" in done.stderr
    assert "refusing to start with HUIMIN_ENV=production" in done.stderr
    assert "SECRET_KEY" in done.stderr and "dev-only-change-me" not in done.stderr


def test_the_runtime_builder_checks_and_a_sound_configuration_passes(sqlite_url, redis_url):
    sound = Settings(**production_overrides(database_url=sqlite_url, redis_url=redis_url))
    rt = build_runtime(sound)
    try:
        assert rt.redis.ping()
    finally:
        rt.close()
    with pytest.raises(ProductionConfigError, match="RASA_TOKEN"):
        build_runtime(dataclasses.replace(sound, rasa_token="dev-rasa-token"))
