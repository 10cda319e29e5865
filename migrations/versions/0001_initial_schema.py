"""initial schema: audiences, subscribers, campaigns, events

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 18:17:33.627206
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audiences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('provider_list_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audiences')),
    sa.UniqueConstraint('name', name=op.f('uq_audiences_name'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.String(length=100), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('variant', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('regular', 'resend', 'reengagement', 'offer', 'transactional')", name=op.f('ck_campaigns_kind')),
    sa.CheckConstraint('variant >= 1', name=op.f('ck_campaigns_variant_positive')),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_campaigns_audience_id_audiences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['campaigns.id'], name=op.f('fk_campaigns_parent_id_campaigns'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('audience_id', 'provider_id', name=op.f('uq_campaigns_audience_id_provider_id'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_audience_sent_at', ['audience_id', 'sent_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_parent_id'), ['parent_id'], unique=False)

    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('subscribed_at', sa.DateTime(), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(), nullable=True),
    sa.Column('first_name', sa.String(length=200), nullable=True),
    sa.Column('last_name', sa.String(length=200), nullable=True),
    sa.Column('merge_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('engagement_class', sa.String(length=20), nullable=True),
    sa.Column('class_since', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('subscribed', 'unsubscribed', 'cleaned', 'complained', 'pending')", name=op.f('ck_subscribers_status')),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_subscribers_audience_id_audiences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('audience_id', 'email', name=op.f('uq_subscribers_audience_id_email'))
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index('ix_subscribers_audience_status', ['audience_id', 'status'], unique=False)
        batch_op.create_index('ix_subscribers_audience_class', ['audience_id', 'engagement_class', 'id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('is_machine', sa.Boolean(), nullable=False),
    sa.Column('machine_reason', sa.String(length=100), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('dedupe_key', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("type IN ('send', 'open', 'click', 'bounce', 'unsubscribe', 'complaint', 'purchase', 'reject')", name=op.f('ck_events_type')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_events_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_events_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_events_dedupe_key'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_campaign_type', ['campaign_id', 'type', 'subscriber_id'], unique=False)
        batch_op.create_index('ix_events_subscriber_type_time', ['subscriber_id', 'type', 'occurred_at'], unique=False)



    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('as_of', sa.DateTime(), nullable=True),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_job_runs_audience_id_audiences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job', 'started_at'], unique=False)

    op.create_table('class_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('from_class', sa.String(length=20), nullable=True),
    sa.Column('to_class', sa.String(length=20), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_class_changes_audience_id_audiences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['job_runs.id'], name=op.f('fk_class_changes_run_id_job_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_class_changes_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_changes'))
    )
    with op.batch_alter_table('class_changes', schema=None) as batch_op:
        batch_op.create_index('ix_class_changes_audience_time', ['audience_id', 'changed_at'], unique=False)
        batch_op.create_index('ix_class_changes_subscriber', ['subscriber_id', 'changed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('class_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_class_changes_subscriber')
        batch_op.drop_index('ix_class_changes_audience_time')

    op.drop_table('class_changes')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_subscriber_type_time')
        batch_op.drop_index('ix_events_campaign_type')

    op.drop_table('events')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index('ix_subscribers_audience_class')
        batch_op.drop_index('ix_subscribers_audience_status')

    op.drop_table('subscribers')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_parent_id'))
        batch_op.drop_index('ix_campaigns_audience_sent_at')

    op.drop_table('campaigns')
    op.drop_table('audiences')

