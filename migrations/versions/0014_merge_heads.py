"""Merge the branches written in parallel (answer flags on the conversation log; real-name
binding and the citizens' pages) into one head, so later migrations have a single parent.

Revision ID: 0014_merge
Revises: 0012_i14res_menu, 0013_i17_pages
"""
from collections.abc import Sequence

revision: str = "0014_merge"
down_revision: tuple[str, ...] = ("0012_i14res_menu", "0013_i17_pages")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
