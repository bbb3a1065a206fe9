"""accounts, consent and audit log (issue 3)

Citizen and staff accounts, staff grid assignments, consent records and the hash-chained
audit log with its one-row head. Branches from 0001; `huimin.platform.migrate` upgrades all heads.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 05:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('purged_through_seq', sa.BigInteger(), nullable=False),
    sa.Column('purged_through_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_log_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_log_prev_hash')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_log_seq'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_target'), ['target'], unique=False)

    op.create_table('staff_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.String(length=128), nullable=False),
    sa.Column('totp_secret_enc', sa.String(length=255), nullable=True),
    sa.Column('totp_last_counter', sa.BigInteger(), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_accounts_username'))
    )
    op.create_table('citizen_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=128), nullable=True),
    sa.Column('unionid', sa.String(length=128), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('phone_enc', sa.String(length=255), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_citizen_accounts_resident_id_residents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_accounts')),
    sa.UniqueConstraint('openid', name=op.f('uq_citizen_accounts_openid')),
    sa.UniqueConstraint('resident_id', name=op.f('uq_citizen_accounts_resident_id'))
    )
    with op.batch_alter_table('citizen_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizen_accounts_phone_hash'), ['phone_hash'], unique=False)

    op.create_table('consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('granted_to', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.String(length=255), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['confirmed_by'], ['staff_accounts.id'], name=op.f('fk_consents_confirmed_by_staff_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['granted_to'], ['staff_accounts.id'], name=op.f('fk_consents_granted_to_staff_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_consents_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_granted_to'), ['granted_to'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consents_scope'), ['scope'], unique=False)

    op.create_table('staff_grids',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_staff_grids_staff_id_staff_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', 'grid_id', name=op.f('pk_staff_grids'))
    )
    with op.batch_alter_table('staff_grids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_grids_grid_id'), ['grid_id'], unique=False)

    # The audit chain's head row (seq 0, genesis hash); huimin.privacy.audit.record updates it.
    audit_head = sa.table(
        'audit_head', sa.column('id', sa.Integer()), sa.column('seq', sa.BigInteger()),
        sa.column('last_hash', sa.String()), sa.column('purged_through_seq', sa.BigInteger()),
        sa.column('purged_through_hash', sa.String()),
    )
    op.bulk_insert(audit_head, [{
        'id': 1, 'seq': 0, 'last_hash': '0' * 64, 'purged_through_seq': 0,
        'purged_through_hash': '0' * 64,
    }])


def downgrade() -> None:
    with op.batch_alter_table('staff_grids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_grids_grid_id'))

    op.drop_table('staff_grids')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_scope'))
        batch_op.drop_index(batch_op.f('ix_consents_resident_id'))
        batch_op.drop_index(batch_op.f('ix_consents_granted_to'))

    op.drop_table('consents')
    with op.batch_alter_table('citizen_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_accounts_phone_hash'))

    op.drop_table('citizen_accounts')
    op.drop_table('staff_accounts')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_target'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('audit_head')
