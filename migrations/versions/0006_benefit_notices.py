"""benefit notices (issue 6)

One notice per resident, policy and rule version (the unique constraint makes batch matching
exactly-once), with its lifecycle, push delivery and the resident's answer.

Revision ID: 0006_benefits
Revises: 0003
Create Date: 2026-11-21 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_benefits'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('benefit_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('policy', sa.String(length=64), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=True),
    sa.Column('amount_unit', sa.String(length=16), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('duration_unit', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=False),
    sa.Column('push_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('push_note', sa.String(length=255), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_channel', sa.String(length=32), nullable=True),
    sa.Column('responded_by', sa.Integer(), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expire_reason', sa.String(length=32), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_benefit_notices_consent_id_consents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['granted_by'], ['staff_accounts.id'], name=op.f('fk_benefit_notices_granted_by_staff_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['responded_by'], ['staff_accounts.id'], name=op.f('fk_benefit_notices_responded_by_staff_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_benefit_notices_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benefit_notices')),
    sa.UniqueConstraint('resident_id', 'policy', 'rule_version', name=op.f('uq_benefit_notices_resident_id'))
    )
    with op.batch_alter_table('benefit_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_benefit_notices_delivery'), ['delivery'], unique=False)
        batch_op.create_index('ix_benefit_notices_policy_status', ['policy', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_benefit_notices_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_benefit_notices_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('benefit_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_benefit_notices_status'))
        batch_op.drop_index(batch_op.f('ix_benefit_notices_resident_id'))
        batch_op.drop_index('ix_benefit_notices_policy_status')
        batch_op.drop_index(batch_op.f('ix_benefit_notices_delivery'))

    op.drop_table('benefit_notices')
