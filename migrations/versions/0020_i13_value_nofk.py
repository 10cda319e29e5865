"""value tables: no foreign key on subscriber_id (see ValueChange)

A first value run inserts a row per subscriber into subscriber_values and up to three history rows per
customer into value_changes; the per-row foreign key checks were a large part of that run (issue 13
benchmark). The same reason and the same guarantee as for the class tables (0015) and the segment
tables (0017): mailseg never deletes subscribers, and the rows are only written from a SELECT over
them.

Revision ID: 0020_i13_value_nofk
Revises: 0019_distribution
"""

from alembic import op

revision = "0020_i13_value_nofk"
down_revision = "0019_distribution"
branch_labels = None
depends_on = None

TABLES = ("subscriber_values", "value_changes")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_subscriber_id_subscribers", type_="foreignkey")


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        # rows of subscribers that no longer exist would refuse the key
        bind.exec_driver_sql(f"DELETE FROM {table} WHERE subscriber_id NOT IN (SELECT id FROM subscribers)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(f"fk_{table}_subscriber_id_subscribers", "subscribers", ["subscriber_id"],
                                        ["id"], ondelete="CASCADE")
