"""Pages for citizens and grid workers: the official-account openid a citizen signed in
with through WeChat web authorisation; a visit note's next visit date and the client's
idempotency key (a note made offline is sent once however often the phone retries).

Revision ID: 0013_i17_pages
Revises: 0012_i15_binding
Create Date: 2026-12-02 14:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_i17_pages'
down_revision: str | None = '0012_i15_binding'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('citizen_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oa_openid', sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint('uq_citizen_accounts_oa_openid', ['oa_openid'])
    with op.batch_alter_table('grid_visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_visit_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_grid_visits_staff_client_key',
                                          ['staff_id', 'client_key'])


def downgrade() -> None:
    with op.batch_alter_table('grid_visits', schema=None) as batch_op:
        batch_op.drop_constraint('uq_grid_visits_staff_client_key', type_='unique')
        batch_op.drop_column('client_key')
        batch_op.drop_column('next_visit_on')
    with op.batch_alter_table('citizen_accounts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_citizen_accounts_oa_openid', type_='unique')
        batch_op.drop_column('oa_openid')
