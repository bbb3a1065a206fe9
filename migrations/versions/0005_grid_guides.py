"""grid workers and guides (issue 8): visit notes, consent requests, care-mode choices

Tables of issue 8 only. Guide sessions live in Redis, not here.

Revision ID: 0005_grid
Revises: 0003
Create Date: 2026-11-21 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_grid'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('grid_consent_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('only_requester', sa.Boolean(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evidence', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_accounts.id'], name=op.f('fk_grid_consent_requests_decided_by_staff_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by'], ['staff_accounts.id'], name=op.f('fk_grid_consent_requests_requested_by_staff_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_grid_consent_requests_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_consent_requests'))
    )
    with op.batch_alter_table('grid_consent_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_consent_requests_requested_by'), ['requested_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_consent_requests_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_consent_requests_status'), ['status'], unique=False)

    op.create_table('care_mode_choices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('citizen_account_id', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_account_id'], ['citizen_accounts.id'], name=op.f('fk_care_mode_choices_citizen_account_id_citizen_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_care_mode_choices_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_mode_choices')),
    sa.UniqueConstraint('citizen_account_id', name=op.f('uq_care_mode_choices_citizen_account_id')),
    sa.UniqueConstraint('resident_id', name=op.f('uq_care_mode_choices_resident_id'))
    )
    op.create_table('grid_visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_grid_visits_consent_id_consents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_grid_visits_resident_id_residents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_grid_visits_staff_id_staff_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_visits'))
    )
    with op.batch_alter_table('grid_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_visits_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_visits_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('grid_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_visits_staff_id'))
        batch_op.drop_index(batch_op.f('ix_grid_visits_resident_id'))
    op.drop_table('grid_visits')
    op.drop_table('care_mode_choices')
    with op.batch_alter_table('grid_consent_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_consent_requests_status'))
        batch_op.drop_index(batch_op.f('ix_grid_consent_requests_resident_id'))
        batch_op.drop_index(batch_op.f('ix_grid_consent_requests_requested_by'))
    op.drop_table('grid_consent_requests')
