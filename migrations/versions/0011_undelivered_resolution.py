"""Undelivered WeChat messages: who marked one handled and their note (ops console screen).

Revision ID: 0011_undelivered
Revises: 0010_merge
Create Date: 2026-11-21 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_undelivered'
down_revision: str | None = '0010_merge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('wechat_undelivered', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('resolved_by_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('wechat_undelivered', schema=None) as batch_op:
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolved_by_name')
        batch_op.drop_column('resolved_by')
