"""Real-name binding: appeals by the real resident and suspended bindings; staff lockout
columns dropped (the lockout is per username and address, in Redis) (issue 15).

Revision ID: 0012_i15_binding
Revises: 0011_undelivered
Create Date: 2026-12-02 14:24:34.826012
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_i15_binding'
down_revision: str | None = '0011_undelivered'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('real_name_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('appellant_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('proof', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['appellant_id'], ['citizen_accounts.id'], name=op.f('fk_real_name_appeals_appellant_id_citizen_accounts')),
    sa.ForeignKeyConstraint(['holder_id'], ['citizen_accounts.id'], name=op.f('fk_real_name_appeals_holder_id_citizen_accounts')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_real_name_appeals_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_real_name_appeals'))
    )
    with op.batch_alter_table('real_name_appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_real_name_appeals_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_real_name_appeals_status'), ['status'], unique=False)

    with op.batch_alter_table('citizen_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binding_suspended_at', sa.DateTime(timezone=True), nullable=True))

    # Staff lockout moved to Redis, per (username, address) pair (huimin/identity/staff_lockout.py).
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')



def downgrade() -> None:
    with op.batch_alter_table('staff_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False,
                                      server_default='0'))

    with op.batch_alter_table('citizen_accounts', schema=None) as batch_op:
        batch_op.drop_column('binding_suspended_at')

    with op.batch_alter_table('real_name_appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_real_name_appeals_status'))
        batch_op.drop_index(batch_op.f('ix_real_name_appeals_resident_id'))

    op.drop_table('real_name_appeals')
