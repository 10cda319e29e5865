"""the current engagement class in a narrow table of its own (subscriber_classes), out of subscribers;
class_changes without the per-row subscriber key check

A classification then writes the changed subscribers' classes with set-based INSERT / UPDATE /
DELETE of narrow rows instead of rewriting the wide subscribers rows (a first classification used
to update every one of them). The stored classes are copied; the subscribers' columns and their two
indexes go.

Revision ID: 0015_current_class
Revises: 0013_segments
"""

from alembic import op
import sqlalchemy as sa

revision = "0015_current_class"
down_revision = "0017_surveys_b"  # chained after issue 14's follow-up (merged first)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_classes",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("engagement_class", sa.String(length=20), nullable=True),
        sa.Column("class_since", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscriber_classes")),
    )
    op.execute("INSERT INTO subscriber_classes (subscriber_id, audience_id, engagement_class, class_since) "
               "SELECT id, audience_id, engagement_class, class_since FROM subscribers "
               "WHERE engagement_class IS NOT NULL OR class_since IS NOT NULL")
    op.create_index("ix_subscriber_classes_audience_class", "subscriber_classes",
                    ["audience_id", "engagement_class", "subscriber_id"])
    op.create_index("ix_subscriber_classes_audience_since", "subscriber_classes",
                    ["audience_id", "class_since", "subscriber_id"])
    # No per-row foreign key check on the rows a first classification writes for every subscriber
    # (the key check was half the cost of each INSERT ... SELECT; see models.history.ClassChange).
    # SQLite copies class_changes (nothing refers to it).
    with op.batch_alter_table("class_changes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_class_changes_subscriber_id_subscribers", type_="foreignkey")
    op.drop_index("ix_subscribers_audience_class", table_name="subscribers")
    op.drop_index("ix_subscribers_audience_class_since", table_name="subscribers")
    # Plain ALTER TABLE on both databases (SQLite >= 3.35): a batch copy of subscribers would drop the
    # old table, and with it, through ON DELETE CASCADE, every row that refers to a subscriber.
    op.execute("ALTER TABLE subscribers DROP COLUMN class_since")
    op.execute("ALTER TABLE subscribers DROP COLUMN engagement_class")


def downgrade() -> None:
    op.add_column("subscribers", sa.Column("engagement_class", sa.String(length=20), nullable=True))
    op.add_column("subscribers", sa.Column("class_since", sa.DateTime(), nullable=True))
    op.execute("UPDATE subscribers SET "
               "engagement_class = (SELECT c.engagement_class FROM subscriber_classes c WHERE c.subscriber_id = subscribers.id), "
               "class_since = (SELECT c.class_since FROM subscriber_classes c WHERE c.subscriber_id = subscribers.id)")
    op.create_index("ix_subscribers_audience_class", "subscribers", ["audience_id", "engagement_class", "id"])
    op.create_index("ix_subscribers_audience_class_since", "subscribers", ["audience_id", "class_since", "id"])
    op.drop_index("ix_subscriber_classes_audience_since", table_name="subscriber_classes")
    op.drop_index("ix_subscriber_classes_audience_class", table_name="subscriber_classes")
    op.drop_table("subscriber_classes")
    with op.batch_alter_table("class_changes", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_class_changes_subscriber_id_subscribers", "subscribers", ["subscriber_id"], ["id"],
                                    ondelete="CASCADE")
