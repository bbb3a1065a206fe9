"""Alembic environment: the URL comes from DATABASE_URL (or the caller's config)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from huimin.platform.db import make_engine
from huimin.platform.schema import metadata
from huimin.platform.settings import load_settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = config.attributes.get("url") or load_settings().database_url


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=url.startswith("sqlite"), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
