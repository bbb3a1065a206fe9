"""The process's `EmploymentCodes`, loaded from its settings section (the one settings object)
and reloaded now and then so a rotated key (a new file in the key directory) is picked up
without a restart.

Development and test: when no signing key exists, one is generated in the key directory
on first use, with a warning, so `make run` works on a fresh machine. Production refuses:
keys are made by an operator with `flask employment-code keygen`.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from huimin.platform.settings import EmploymentCodeSettings

from .codes import EmploymentCodes, load_keyring
from .keys import NoSigningKeyError, generate_key

log = logging.getLogger(__name__)

RELOAD_SECONDS = 60.0


class CodesProvider:
    """Thread-safe holder of the current `EmploymentCodes` for one process."""

    def __init__(
        self,
        settings: EmploymentCodeSettings,
        *,
        production: bool,
        reload_seconds: float = RELOAD_SECONDS,
    ) -> None:
        self.settings = settings
        self.production = production
        self.reload_seconds = reload_seconds
        self._lock = threading.Lock()
        self._codes: EmploymentCodes | None = None
        self._loaded_at = 0.0

    def get(self) -> EmploymentCodes:
        """For verifying and publishing keys: never creates a key."""
        with self._lock:
            if self._codes is None or time.monotonic() - self._loaded_at > self.reload_seconds:
                self._codes = self._load()
                self._loaded_at = time.monotonic()
            return self._codes

    def signer(self) -> EmploymentCodes:
        """For issuing: makes sure a key can sign now (creating one outside production)."""
        codes = self.get()
        if _can_sign(codes):
            return codes
        with self._lock:
            codes = self._load()  # a key may have been added
            if not _can_sign(codes):
                if self.production or codes.settings.keys_json:
                    raise NoSigningKeyError(
                        "no active employment-code signing key: run `flask employment-code "
                        "keygen` and set EMPLOYMENT_CODE_KEY_DIR (or EMPLOYMENT_CODE_KEYS)"
                    )
                _create_development_key(codes.settings)
                codes = self._load()
            self._codes, self._loaded_at = codes, time.monotonic()
            return codes

    def check(self) -> None:
        """Fail fast at start-up in production when nothing can sign."""
        codes = self.get()
        if not _can_sign(codes):
            raise NoSigningKeyError(
                "HUIMIN_ENV=production and no active employment-code signing key: run "
                "`flask employment-code keygen` and set EMPLOYMENT_CODE_KEY_DIR"
            )

    def _load(self) -> EmploymentCodes:
        return EmploymentCodes(load_keyring(self.settings), self.settings)


def _can_sign(codes: EmploymentCodes) -> bool:
    try:
        codes.keyring.signing_key()
    except NoSigningKeyError:
        return False
    return True


def _create_development_key(settings: EmploymentCodeSettings) -> None:
    kid = "dev-" + datetime.now(UTC).strftime("%Y%m%d")
    try:
        path = generate_key(kid, settings.key_dir)
    except FileExistsError:
        return  # another process created it a moment ago; the reload picks it up
    log.warning(
        "no employment-code signing key: generated a DEVELOPMENT key %s. Production "
        "refuses to start without a key made by `flask employment-code keygen`.",
        path,
    )
