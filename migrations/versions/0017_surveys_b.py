"""segment membership and history: no foreign keys (see SegmentChange)

An evaluation inserts up to one row per subscriber into segment_members and segment_changes; the
row-by-row foreign key checks were most of the first evaluation's extra time (issue 14 benchmark).
remove_segment now deletes a segment's rows itself.

Revision ID: 0017_surveys_b
Revises: 0013_segments
"""

from alembic import op

revision = "0017_surveys_b"
down_revision = "0013_segments"
branch_labels = None
depends_on = None

TABLES = ("segment_changes", "segment_members")
KEYS = (("segment_id", "segments"), ("subscriber_id", "subscribers"))


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, target in KEYS:
                batch_op.drop_constraint(f"fk_{table}_{column}_{target}", type_="foreignkey")


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        # rows of segments or subscribers that no longer exist would refuse the keys
        bind.exec_driver_sql(f"DELETE FROM {table} WHERE segment_id NOT IN (SELECT id FROM segments) "
                             f"OR subscriber_id NOT IN (SELECT id FROM subscribers)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, target in KEYS:
                batch_op.create_foreign_key(f"fk_{table}_{column}_{target}", target, [column], ["id"],
                                            ondelete="CASCADE")
