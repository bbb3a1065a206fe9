"""Merge the branches written in parallel (employment codes, channel, grid, benefits, ops)
into one head, so later migrations have a single parent.

Revision ID: 0010_merge
Revises: 0002, 0004_wechat, 0005_grid, 0006_benefits, 0009_ops
"""
from collections.abc import Sequence

revision: str = "0010_merge"
down_revision: tuple[str, ...] = ("0002", "0004_wechat", "0005_grid", "0006_benefits", "0009_ops")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
