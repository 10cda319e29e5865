"""value segmentation: orders on purchase events (order id, margin, state), subscriber values, their
history, the fitted purchase models, and the JSON API's bearer tokens

Revision ID: 0011_value
Revises: 0008_campaign_resend
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_value"
down_revision = "0008_campaign_resend"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('name', name=op.f('uq_api_tokens_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('value_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('fitted_at', sa.DateTime(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('repeat_customers', sa.Integer(), nullable=False),
    sa.Column('bgnbd_r', sa.Float(), nullable=False),
    sa.Column('bgnbd_alpha', sa.Float(), nullable=False),
    sa.Column('bgnbd_a', sa.Float(), nullable=False),
    sa.Column('bgnbd_b', sa.Float(), nullable=False),
    sa.Column('bgnbd_log_likelihood', sa.Float(), nullable=False),
    sa.Column('gg_p', sa.Float(), nullable=False),
    sa.Column('gg_q', sa.Float(), nullable=False),
    sa.Column('gg_gamma', sa.Float(), nullable=False),
    sa.Column('gg_log_likelihood', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['audience_id'], ['audiences.id'], name=op.f('fk_value_models_audience_id_audiences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_value_models'))
    )
    with op.batch_alter_table('value_models', schema=None) as batch_op:
        batch_op.create_index('ix_value_models_audience_as_of', ['audience_id', 'as_of'], unique=False)

    op.create_table('subscriber_values',
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('r_score', sa.Integer(), nullable=True),
    sa.Column('f_score', sa.Integer(), nullable=True),
    sa.Column('m_score', sa.Integer(), nullable=True),
    sa.Column('rfm_segment', sa.String(length=40), nullable=False),
    sa.Column('abc_class', sa.String(length=1), nullable=True),
    sa.Column('abc_share_before', sa.Float(), nullable=True),
    sa.Column('repeat_days', sa.Integer(), nullable=True),
    sa.Column('t_x_weeks', sa.Float(), nullable=True),
    sa.Column('t_weeks', sa.Float(), nullable=True),
    sa.Column('margin_rate', sa.Float(), nullable=True),
    sa.Column('p_alive', sa.Float(), nullable=True),
    sa.Column('expected_orders', sa.Float(), nullable=True),
    sa.Column('expected_order_value', sa.Float(), nullable=True),
    sa.Column('clv', sa.Float(), nullable=True),
    sa.Column('quadrant', sa.String(length=40), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriber_values_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', name=op.f('pk_subscriber_values'))
    )
    with op.batch_alter_table('subscriber_values', schema=None) as batch_op:
        batch_op.create_index('ix_subscriber_values_audience_clv', ['audience_id', 'clv'], unique=False)
        batch_op.create_index('ix_subscriber_values_audience_segment', ['audience_id', 'rfm_segment'], unique=False)

    op.create_table('value_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('audience_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(length=10), nullable=False),
    sa.Column('from_value', sa.String(length=40), nullable=True),
    sa.Column('to_value', sa.String(length=40), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_value_changes_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_value_changes'))
    )
    with op.batch_alter_table('value_changes', schema=None) as batch_op:
        batch_op.create_index('ix_value_changes_audience_family_time', ['audience_id', 'family', 'changed_at'], unique=False)
        batch_op.create_index('ix_value_changes_subscriber', ['subscriber_id', 'changed_at'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('margin', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('order_status', sa.String(length=20), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('order_status')
        batch_op.drop_column('margin')
        batch_op.drop_column('order_id')

    with op.batch_alter_table('value_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_value_changes_subscriber')
        batch_op.drop_index('ix_value_changes_audience_family_time')

    op.drop_table('value_changes')
    with op.batch_alter_table('subscriber_values', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_values_audience_segment')
        batch_op.drop_index('ix_subscriber_values_audience_clv')

    op.drop_table('subscriber_values')
    with op.batch_alter_table('value_models', schema=None) as batch_op:
        batch_op.drop_index('ix_value_models_audience_as_of')

    op.drop_table('value_models')
    op.drop_table('api_tokens')
