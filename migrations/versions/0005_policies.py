"""policies: actions recorded before every platform call, their recipients, re-engagement states, campaign plans

Revision ID: 0005_policies
Revises: 0004_sync
Create Date: 2026-11-22 19:01:50.643134
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0005_policies"
down_revision = "0004_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('template_campaign_id', sa.String(length=100), nullable=False),
    sa.Column('cadence', sa.String(length=100), nullable=False),
    sa.Column('timezone', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_campaign_plans_audience_id_audiences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_plans')),
    sa.UniqueConstraint('audience_id', 'name', name=op.f('uq_campaign_plans_audience_id_name'))
    )
    op.create_table('policy_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('policy', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('source_campaign', sa.String(length=100), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('segment_name', sa.String(length=100), nullable=True),
    sa.Column('campaign_kind', sa.String(length=20), nullable=True),
    sa.Column('parent_campaign_id', sa.Integer(), nullable=True),
    sa.Column('variant', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('provider_segment_id', sa.String(length=100), nullable=True),
    sa.Column('provider_campaign_id', sa.String(length=100), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('send_at', sa.DateTime(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("policy IN ('plan', 'reengagement', 'sunset', 'resend', 'offer')", name=op.f('ck_policy_actions_policy')),
    sa.CheckConstraint("step IN ('planned', 'segment', 'members', 'campaign', 'content', 'done')", name=op.f('ck_policy_actions_step')),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_policy_actions_audience_id_audiences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_policy_actions_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_campaign_id'], ['campaigns.id'], name=op.f('fk_policy_actions_parent_campaign_id_campaigns'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_actions')),
    sa.UniqueConstraint('audience_id', 'policy', 'key', name=op.f('uq_policy_actions_audience_id_policy_key'))
    )
    with op.batch_alter_table('policy_actions', schema=None) as batch_op:
        batch_op.create_index('ix_policy_actions_unfinished', ['audience_id', 'finished_at'], unique=False)

    op.create_table('reengagement_states',
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(), nullable=False),
    sa.Column('sunset_at', sa.DateTime(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('waiting', 'answered', 'sunset')", name=op.f('ck_reengagement_states_state')),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_reengagement_states_audience_id_audiences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_reengagement_states_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', name=op.f('pk_reengagement_states'))
    )
    with op.batch_alter_table('reengagement_states', schema=None) as batch_op:
        batch_op.create_index('ix_reengagement_states_audience_state', ['audience_id', 'state', 'last_sent_at'], unique=False)

    op.create_table('policy_recipients',
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['policy_actions.id'], name=op.f('fk_policy_recipients_action_id_policy_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_policy_recipients_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_id', 'subscriber_id', name=op.f('pk_policy_recipients'))
    )
    with op.batch_alter_table('policy_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_policy_recipients_subscriber', ['subscriber_id', 'action_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('policy_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_recipients_subscriber')

    op.drop_table('policy_recipients')
    with op.batch_alter_table('reengagement_states', schema=None) as batch_op:
        batch_op.drop_index('ix_reengagement_states_audience_state')

    op.drop_table('reengagement_states')
    with op.batch_alter_table('policy_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_policy_actions_unfinished')

    op.drop_table('policy_actions')
    op.drop_table('campaign_plans')
