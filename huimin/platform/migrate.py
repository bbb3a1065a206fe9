"""Run Alembic migrations from code (CLI, `make run`, tests) against any database URL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from huimin.platform.settings import ROOT


def upgrade(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "heads")
