"""WeChat messages that could not be delivered, kept for staff follow-up (issue 4)

Branches from 0001 like the other issues' migrations; `huimin.platform.migrate` upgrades all heads.

Revision ID: 0004_wechat
Revises: 0001
Create Date: 2026-11-21 05:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_wechat'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('wechat_undelivered',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('sender_id', sa.String(length=64), nullable=False),
    sa.Column('message_key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('errcode', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_undelivered'))
    )
    with op.batch_alter_table('wechat_undelivered', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_undelivered_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_wechat_undelivered_openid'), ['openid'], unique=False)
        batch_op.create_index(batch_op.f('ix_wechat_undelivered_sender_id'), ['sender_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wechat_undelivered', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_undelivered_sender_id'))
        batch_op.drop_index(batch_op.f('ix_wechat_undelivered_openid'))
        batch_op.drop_index(batch_op.f('ix_wechat_undelivered_created_at'))

    op.drop_table('wechat_undelivered')
