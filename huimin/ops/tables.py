"""Every ops table, for huimin.models (Alembic and the mappers see them through this import)."""

from huimin import conversation_log  # noqa: F401 - conversation_messages, ingest cursor
from huimin.ops import registry, review, tickets, training  # noqa: F401
