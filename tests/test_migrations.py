"""Migrations build the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from huimin.platform.db import make_engine
from huimin.platform.schema import metadata


def test_migrations_match_models(db_url: str):
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert set(metadata.tables) <= set(inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == [], f"models changed without a migration: {diff}"
