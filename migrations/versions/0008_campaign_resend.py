"""campaigns: resend switched on or off per campaign, with its own subject variants

Revision ID: 0008_campaign_resend
Revises: 0007_run_holder
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_campaign_resend"
down_revision = "0007_run_holder"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resend_enabled", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("resend_subjects", sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("resend_subjects")
        batch_op.drop_column("resend_enabled")
