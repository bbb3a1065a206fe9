"""Ops console (issue 9): conversation log, annotations, model registry and deployments,
training runs, hand-off ticket events.

Revision ID: 0009_ops
Revises: 0003
Create Date: 2026-11-21 05:17:25.926635
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_ops'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conversation_ingest_cursor',
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('last_id', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('stream', name=op.f('pk_conversation_ingest_cursor'))
    )
    op.create_table('conversation_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=64), nullable=False),
    sa.Column('sender_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('alternatives', sa.JSON(), nullable=False),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('handoff_after', sa.Boolean(), nullable=False),
    sa.Column('repeated_after', sa.Boolean(), nullable=False),
    sa.Column('unhelpful', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_messages')),
    sa.UniqueConstraint('source_key', name=op.f('uq_conversation_messages_source_key'))
    )
    with op.batch_alter_table('conversation_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_messages_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_messages_confidence'), ['confidence'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_messages_intent'), ['intent'], unique=False)
        batch_op.create_index('ix_conversation_messages_sender_at', ['sender_id', 'at'], unique=False)

    op.create_table('ops_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('rasa_model_id', sa.String(length=64), nullable=True),
    sa.Column('data_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=128), nullable=False),
    sa.Column('started_by_name', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('training_run_id', sa.Integer(), nullable=True),
    sa.Column('annotation_count', sa.Integer(), nullable=False),
    sa.Column('evaluation', sa.JSON(), nullable=True),
    sa.Column('baseline', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_models')),
    sa.UniqueConstraint('sha256', name=op.f('uq_ops_models_sha256'))
    )
    with op.batch_alter_table('ops_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ops_models_rasa_model_id'), ['rasa_model_id'], unique=False)

    op.create_table('ops_annotations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('annotated_by', sa.String(length=128), nullable=False),
    sa.Column('annotator_name', sa.String(length=64), nullable=True),
    sa.Column('annotated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_model_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['conversation_messages.id'], name=op.f('fk_ops_annotations_message_id_conversation_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_annotations')),
    sa.UniqueConstraint('message_id', name=op.f('uq_ops_annotations_message_id'))
    )
    with op.batch_alter_table('ops_annotations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ops_annotations_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_ops_annotations_annotated_at'), ['annotated_at'], unique=False)

    op.create_table('ops_deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('previous_model_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('actor_name', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['ops_models.id'], name=op.f('fk_ops_deployments_model_id_ops_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_deployments'))
    )
    with op.batch_alter_table('ops_deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ops_deployments_model_id'), ['model_id'], unique=False)

    op.create_table('ops_ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('actor_name', sa.String(length=64), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('delivered', sa.Boolean(), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['handoff_tickets.id'], name=op.f('fk_ops_ticket_events_ticket_id_handoff_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_ticket_events'))
    )
    with op.batch_alter_table('ops_ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ops_ticket_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ops_training_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('started_by', sa.String(length=128), nullable=False),
    sa.Column('started_by_name', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('data_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('annotation_count', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('log_lines', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['ops_models.id'], name=op.f('fk_ops_training_runs_model_id_ops_models')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ops_training_runs'))
    )
    with op.batch_alter_table('ops_training_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ops_training_runs_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ops_training_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ops_training_runs_status'))

    op.drop_table('ops_training_runs')
    with op.batch_alter_table('ops_ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ops_ticket_events_ticket_id'))

    op.drop_table('ops_ticket_events')
    with op.batch_alter_table('ops_deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ops_deployments_model_id'))

    op.drop_table('ops_deployments')
    with op.batch_alter_table('ops_annotations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ops_annotations_annotated_at'))
        batch_op.drop_index(batch_op.f('ix_ops_annotations_action'))

    op.drop_table('ops_annotations')
    with op.batch_alter_table('ops_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ops_models_rasa_model_id'))

    op.drop_table('ops_models')
    with op.batch_alter_table('conversation_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_messages_sender_at')
        batch_op.drop_index(batch_op.f('ix_conversation_messages_intent'))
        batch_op.drop_index(batch_op.f('ix_conversation_messages_confidence'))
        batch_op.drop_index(batch_op.f('ix_conversation_messages_at'))

    op.drop_table('conversation_messages')
    op.drop_table('conversation_ingest_cursor')
