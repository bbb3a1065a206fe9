"""Conversation log: was the reply a menu of policies, or a referral to another department
(issue 14: the dashboard's menu and referral rates, the review inbox's "menu shown" reason).

Revision ID: 0012_i14res_menu
Revises: 0011_undelivered
Create Date: 2026-12-02 14:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_i14res_menu'
down_revision: str | None = '0011_undelivered'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('conversation_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('menu', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('referral', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('conversation_messages', schema=None) as batch_op:
        batch_op.drop_column('referral')
        batch_op.drop_column('menu')
