"""The model store moves into the database (ops_model_files, ops_model_blobs), so hosts share
it without a shared disk. Archives already in the old folder store (MODEL_STORE_DIR, default
var/model-store) for a registered model are copied in, chunk by chunk, so no trained model is
lost by the upgrade (a fresh database has none to copy).

Revision ID: 0015_model_store
Revises: 0014_merge
Create Date: 2026-12-02 20:20:00
"""
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = '0015_model_store'
down_revision: str | None = '0014_merge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1 << 20
OLD_STORE = Path(__file__).resolve().parents[2] / 'var' / 'model-store'


def upgrade() -> None:
    files = op.create_table(
        'ops_model_files',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('chunks', sa.Integer(), nullable=False),
        sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_ops_model_files')),
    )
    blobs = op.create_table(
        'ops_model_blobs',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['sha256'], ['ops_model_files.sha256'],
                                name=op.f('fk_ops_model_blobs_sha256_ops_model_files'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('sha256', 'seq', name=op.f('pk_ops_model_blobs')),
    )
    _import_folder_store(files, blobs)


def _import_folder_store(files: sa.Table, blobs: sa.Table) -> None:
    folder = Path(os.environ.get('MODEL_STORE_DIR') or OLD_STORE)
    if not folder.is_dir():
        return
    bind = op.get_bind()
    registered = set(bind.execute(sa.text('SELECT sha256 FROM ops_models')).scalars())
    for sha in sorted(registered):
        path = folder / f'{sha}.tar.gz'
        if not re.fullmatch(r'[0-9a-f]{64}', sha) or not path.is_file():
            continue
        digest, chunks = hashlib.sha256(), 0
        bind.execute(files.insert().values(sha256=sha, size=path.stat().st_size, chunks=-1,
                                           stored_at=sa.func.now()))
        with path.open('rb') as f:
            for data in iter(lambda f=f: f.read(CHUNK), b''):
                digest.update(data)
                bind.execute(blobs.insert().values(sha256=sha, seq=chunks, data=data))
                chunks += 1
        if digest.hexdigest() != sha:  # a damaged file: not stored under a false address
            bind.execute(blobs.delete().where(blobs.c.sha256 == sha))
            bind.execute(files.delete().where(files.c.sha256 == sha))
            continue
        bind.execute(files.update().where(files.c.sha256 == sha).values(chunks=chunks))


def downgrade() -> None:
    op.drop_table('ops_model_blobs')
    op.drop_table('ops_model_files')
