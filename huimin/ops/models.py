"""Every ops table, for huimin.platform.schema (Alembic and the mappers see them here)."""

from huimin.ops import (  # noqa: F401
    conversation_log,  # noqa: F401 - conversation_messages, ingest cursor
    registry,
    review,
    tickets,
    training,
)
