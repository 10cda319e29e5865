"""sync state: mirrored segments, their confirmed members, refused addresses, pull watermarks

Revision ID: 0004_sync
Revises: 0003_panel
Create Date: 2026-11-22 18:26:00.388862
"""

from alembic import op
import sqlalchemy as sa


revision = "0004_sync"
down_revision = "0003_panel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pull_cursors',
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('value', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_pull_cursors_audience_id_audiences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('audience_id', 'name', name=op.f('pk_pull_cursors'))
    )
    op.create_table('sync_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('provider_segment_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_synced_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_sync_segments_audience_id_audiences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_segments')),
    sa.UniqueConstraint('audience_id', 'name', name=op.f('uq_sync_segments_audience_id_name'))
    )
    op.create_table('sync_failures',
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['segment_id'], ['sync_segments.id'], name=op.f('fk_sync_failures_segment_id_sync_segments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_sync_failures_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment_id', 'subscriber_id', 'action', name=op.f('pk_sync_failures'))
    )
    op.create_table('sync_members',
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['segment_id'], ['sync_segments.id'], name=op.f('fk_sync_members_segment_id_sync_segments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_sync_members_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment_id', 'subscriber_id', name=op.f('pk_sync_members'))
    )
    op.create_index('ix_sync_members_subscriber', 'sync_members', ['subscriber_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sync_members_subscriber', table_name='sync_members')
    op.drop_table('sync_members')
    op.drop_table('sync_failures')
    op.drop_table('sync_segments')
    op.drop_table('pull_cursors')
