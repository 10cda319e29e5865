"""experiments: holdout exposures and frozen verdicts; the sandbox platform's tables

Revision ID: 0012_experiments
Revises: 0011_value
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_experiments"
down_revision = "0011_value"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("sandbox_lists",
    sa.Column("id", sa.String(length=100), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("clock", sa.DateTime(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_lists"))
    )
    op.create_table("experiment_verdicts",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("audience_id", sa.Integer(), nullable=False),
    sa.Column("policy", sa.String(length=20), nullable=False),
    sa.Column("cohort", sa.Date(), nullable=False),
    sa.Column("variant", sa.Integer(), nullable=False),
    sa.Column("salt", sa.String(length=100), nullable=False),
    sa.Column("share", sa.Double(), nullable=False),
    sa.Column("horizon_days", sa.Integer(), nullable=False),
    sa.Column("metric", sa.String(length=40), nullable=False),
    sa.Column("groups", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
    sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
    sa.Column("closed_at", sa.DateTime(), nullable=False),
    sa.Column("computed_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["audience_id"], ["audiences.id"], name=op.f("fk_experiment_verdicts_audience_id_audiences"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_verdicts")),
    sa.UniqueConstraint("audience_id", "policy", "cohort", "variant", "salt", "metric", name=op.f("uq_experiment_verdicts_audience_id_policy_cohort_variant_salt_metric"))
    )
    op.create_table("sandbox_campaigns",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("list_id", sa.String(length=100), nullable=False),
    sa.Column("segment_id", sa.Integer(), nullable=True),
    sa.Column("status", sa.String(length=20), nullable=False),
    sa.Column("title", sa.String(length=300), nullable=False),
    sa.Column("subject", sa.String(length=500), nullable=False),
    sa.Column("from_name", sa.String(length=200), nullable=False),
    sa.Column("reply_to", sa.String(length=320), nullable=False),
    sa.Column("html", sa.Text(), nullable=False),
    sa.Column("nature", sa.String(length=20), nullable=False),
    sa.Column("content_key", sa.String(length=40), nullable=True),
    sa.Column("send_time", sa.DateTime(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["list_id"], ["sandbox_lists.id"], name=op.f("fk_sandbox_campaigns_list_id_sandbox_lists"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_campaigns"))
    )
    with op.batch_alter_table("sandbox_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_campaigns_list_status", ["list_id", "status", "send_time"], unique=False)

    op.create_table("sandbox_members",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("list_id", sa.String(length=100), nullable=False),
    sa.Column("email", sa.String(length=320), nullable=False),
    sa.Column("status", sa.String(length=20), nullable=False),
    sa.Column("merge_fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
    sa.Column("subscribed_at", sa.DateTime(), nullable=False),
    sa.Column("last_changed", sa.DateTime(), nullable=False),
    sa.Column("state", sa.String(length=20), nullable=False),
    sa.Column("propensity", sa.Double(), nullable=False),
    sa.Column("apple", sa.Boolean(), nullable=False),
    sa.Column("scanner", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(["list_id"], ["sandbox_lists.id"], name=op.f("fk_sandbox_members_list_id_sandbox_lists"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_members")),
    sa.UniqueConstraint("list_id", "email", name=op.f("uq_sandbox_members_list_id_email"))
    )
    with op.batch_alter_table("sandbox_members", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_members_list_changed", ["list_id", "last_changed"], unique=False)

    op.create_table("sandbox_segments",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("list_id", sa.String(length=100), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["list_id"], ["sandbox_lists.id"], name=op.f("fk_sandbox_segments_list_id_sandbox_lists"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_segments")),
    sa.UniqueConstraint("list_id", "name", name=op.f("uq_sandbox_segments_list_id_name"))
    )
    op.create_table("experiment_exposures",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("audience_id", sa.Integer(), nullable=False),
    sa.Column("policy", sa.String(length=20), nullable=False),
    sa.Column("key", sa.String(length=120), nullable=False),
    sa.Column("subscriber_id", sa.Integer(), nullable=False),
    sa.Column("held_out", sa.Boolean(), nullable=False),
    sa.Column("exposed_at", sa.DateTime(), nullable=False),
    sa.Column("cohort", sa.Date(), nullable=False),
    sa.Column("salt", sa.String(length=100), nullable=False),
    sa.Column("share", sa.Double(), nullable=False),
    sa.Column("variant", sa.Integer(), nullable=False),
    sa.Column("campaign_id", sa.Integer(), nullable=True),
    sa.CheckConstraint("policy IN ('cap', 'reengagement', 'resend', 'offer', 'plan')", name=op.f("ck_experiment_exposures_policy")),
    sa.ForeignKeyConstraint(["audience_id"], ["audiences.id"], name=op.f("fk_experiment_exposures_audience_id_audiences"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_experiment_exposures_campaign_id_campaigns"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], name=op.f("fk_experiment_exposures_subscriber_id_subscribers"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_exposures")),
    sa.UniqueConstraint("audience_id", "policy", "key", "subscriber_id", name=op.f("uq_experiment_exposures_audience_id_policy_key_subscriber_id"))
    )
    with op.batch_alter_table("experiment_exposures", schema=None) as batch_op:
        batch_op.create_index("ix_experiment_exposures_cohort", ["audience_id", "policy", "cohort", "variant"], unique=False)
        batch_op.create_index("ix_experiment_exposures_subscriber", ["subscriber_id", "policy", "exposed_at"], unique=False)

    op.create_table("sandbox_activity",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("campaign_id", sa.String(length=40), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("action", sa.String(length=20), nullable=False),
    sa.Column("occurred_at", sa.DateTime(), nullable=False),
    sa.Column("url", sa.Text(), nullable=True),
    sa.Column("ip", sa.String(length=45), nullable=True),
    sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
    sa.ForeignKeyConstraint(["campaign_id"], ["sandbox_campaigns.id"], name=op.f("fk_sandbox_activity_campaign_id_sandbox_campaigns"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["member_id"], ["sandbox_members.id"], name=op.f("fk_sandbox_activity_member_id_sandbox_members"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_activity"))
    )
    with op.batch_alter_table("sandbox_activity", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_activity_campaign_time", ["campaign_id", "occurred_at"], unique=False)

    op.create_table("sandbox_recipients",
    sa.Column("campaign_id", sa.String(length=40), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.Column("delivered_at", sa.DateTime(), nullable=False),
    sa.Column("content_key", sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(["campaign_id"], ["sandbox_campaigns.id"], name=op.f("fk_sandbox_recipients_campaign_id_sandbox_campaigns"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["member_id"], ["sandbox_members.id"], name=op.f("fk_sandbox_recipients_member_id_sandbox_members"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("campaign_id", "member_id", name=op.f("pk_sandbox_recipients"))
    )
    with op.batch_alter_table("sandbox_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_sandbox_recipients_member", ["member_id", "delivered_at"], unique=False)

    op.create_table("sandbox_segment_members",
    sa.Column("segment_id", sa.Integer(), nullable=False),
    sa.Column("member_id", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["member_id"], ["sandbox_members.id"], name=op.f("fk_sandbox_segment_members_member_id_sandbox_members"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["segment_id"], ["sandbox_segments.id"], name=op.f("fk_sandbox_segment_members_segment_id_sandbox_segments"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("segment_id", "member_id", name=op.f("pk_sandbox_segment_members"))
    )


def downgrade() -> None:
    op.drop_table("sandbox_segment_members")
    with op.batch_alter_table("sandbox_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_recipients_member")

    op.drop_table("sandbox_recipients")
    with op.batch_alter_table("sandbox_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_activity_campaign_time")

    op.drop_table("sandbox_activity")
    with op.batch_alter_table("experiment_exposures", schema=None) as batch_op:
        batch_op.drop_index("ix_experiment_exposures_subscriber")
        batch_op.drop_index("ix_experiment_exposures_cohort")

    op.drop_table("experiment_exposures")
    op.drop_table("sandbox_segments")
    with op.batch_alter_table("sandbox_members", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_members_list_changed")

    op.drop_table("sandbox_members")
    with op.batch_alter_table("sandbox_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_sandbox_campaigns_list_status")

    op.drop_table("sandbox_campaigns")
    op.drop_table("experiment_verdicts")
    op.drop_table("sandbox_lists")
