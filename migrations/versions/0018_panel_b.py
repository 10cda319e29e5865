"""subscriber_activity: each subscriber's last human open and click and the later of the two, for the
audience list's sort by last activity (a keyset walk of ix_subscriber_activity_audience_last), filled
from the events already stored (the same statement as mailseg.subscribers.activity.refresh_activity,
which rebuilds it after each classification)

Revision ID: 0018_panel_b
Revises: 0015_current_class
"""

from alembic import op
import sqlalchemy as sa

revision = "0018_panel_b"
down_revision = "0015_current_class"  # chained after issue 11's class table (merged first)
branch_labels = None
depends_on = None

# Human opens and clicks (not flagged as a machine's), grouped per subscriber.
FILL = """
INSERT INTO subscriber_activity (subscriber_id, audience_id, last_human_open, last_human_click, last_activity_at,
                                 engagement_class)
SELECT e.subscriber_id, s.audience_id,
       max(CASE WHEN e.type = 'open' THEN e.occurred_at END),
       max(CASE WHEN e.type = 'click' THEN e.occurred_at END),
       max(e.occurred_at), c.engagement_class
FROM events e JOIN subscribers s ON s.id = e.subscriber_id
LEFT JOIN subscriber_classes c ON c.subscriber_id = e.subscriber_id
WHERE e.type IN ('open', 'click') AND e.is_machine = false
GROUP BY e.subscriber_id, s.audience_id, c.engagement_class
"""


def upgrade() -> None:
    op.create_table(
        "subscriber_activity",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("last_human_open", sa.DateTime(), nullable=True),
        sa.Column("last_human_click", sa.DateTime(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(), nullable=False),
        sa.Column("engagement_class", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"],
                                name=op.f("fk_subscriber_activity_subscriber_id_subscribers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscriber_activity")),
    )
    op.create_index("ix_subscriber_activity_audience_last", "subscriber_activity",
                    ["audience_id", "last_activity_at", "subscriber_id"])
    op.create_index("ix_subscriber_activity_audience_class_last", "subscriber_activity",
                    ["audience_id", "engagement_class", "last_activity_at", "subscriber_id"])
    op.execute(FILL)


def downgrade() -> None:
    op.drop_index("ix_subscriber_activity_audience_class_last", table_name="subscriber_activity")
    op.drop_index("ix_subscriber_activity_audience_last", table_name="subscriber_activity")
    op.drop_table("subscriber_activity")
