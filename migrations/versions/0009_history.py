"""status history: every subscriber status change with its time and source

Revision ID: 0009_history
Revises: 0008_campaign_resend

Existing subscribers whose status is not the one they were created with get one seeded change,
subscribed -> their status, dated at status_changed_at (or subscribed_at when unknown, never before
it) and marked as an estimate (time_known false): the moment it really happened was not recorded.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_history"
down_revision = "0008_campaign_resend"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "status_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("time_known", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"],
                                name=op.f("fk_status_changes_subscriber_id_subscribers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    op.create_index("ix_status_changes_subscriber", "status_changes", ["subscriber_id", "changed_at"])
    op.create_index("ix_status_changes_audience_time", "status_changes", ["audience_id", "changed_at"])
    # Seed: one estimated change for every subscriber no longer in the status it was created with.
    op.execute(
        "INSERT INTO status_changes (audience_id, subscriber_id, from_status, to_status, changed_at, source, time_known) "
        "SELECT audience_id, id, 'subscribed', status, "
        "CASE WHEN status_changed_at IS NULL OR status_changed_at < subscribed_at THEN subscribed_at "
        "ELSE status_changed_at END, 'migration', false "
        "FROM subscribers WHERE status IN ('unsubscribed', 'cleaned', 'complained')")


def downgrade() -> None:
    op.drop_index("ix_status_changes_audience_time", table_name="status_changes")
    op.drop_index("ix_status_changes_subscriber", table_name="status_changes")
    op.drop_table("status_changes")
