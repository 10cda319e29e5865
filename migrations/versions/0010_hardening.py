"""hardening: server-side panel sessions, an atomic login counter, when each secret changed,
campaigns known to the platform, failed policy actions with backoff, run leases

Revision ID: 0010_hardening
Revises: 0009_history
"""

import sqlalchemy as sa
from alembic import op


revision = "0010_hardening"
down_revision = "0009_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id", "ended_at"])
    op.create_table(
        "login_counters",
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", "window_start", name=op.f("pk_login_counters")),
    )
    op.create_table(
        "secret_fingerprints",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("fingerprint", sa.String(length=100), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secret_fingerprints")),
    )


    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_platform", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Existing campaigns the platform is known to have: made by mailseg (not "regular"), or with
    # events that came from the platform (pull, Mailchimp webhooks).
    op.execute("UPDATE campaigns SET on_platform = true WHERE kind <> 'regular' OR EXISTS "
               "(SELECT 1 FROM events WHERE events.campaign_id = campaigns.id AND events.source IN ('pull', 'mailchimp'))")
    with op.batch_alter_table("policy_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
    with op.batch_alter_table("policy_actions", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("failures")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("on_platform")
    op.drop_table("secret_fingerprints")
    op.drop_table("login_counters")
    op.drop_index("ix_user_sessions_user", table_name="user_sessions")
    op.drop_table("user_sessions")
