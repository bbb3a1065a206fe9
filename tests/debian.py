"""Debian packages the end-to-end tests need (Chromium, a CJK font, HAProxy). CI machines
start without them; the tests run as root there, so they install what is missing, and fail
(never skip) with the command to run when they cannot."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest


@functools.cache
def _apt_updated() -> bool:
    """`apt-get update` once per test session, before the first install."""
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=_apt_env())
    return True


def _apt_env() -> dict[str, str]:
    return {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def ensure_installed(thing: str, package: str) -> None:
    """Make `thing` (a command on PATH, or an absolute file path) present by installing the
    Debian `package` as root."""

    def present() -> bool:
        return Path(thing).exists() if thing.startswith("/") else shutil.which(thing) is not None

    if present():
        return
    if os.geteuid() != 0:
        pytest.fail(f"{thing} is missing: run `apt-get install -y {package}` as root")
    _apt_updated()
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=_apt_env())
    assert present(), f"{package} installed but {thing} is still missing"
