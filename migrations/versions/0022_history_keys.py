"""history tables: one index per subscriber, the primary key (subscriber_id, changed_at, id)

On PostgreSQL class_changes, value_changes and segment_changes had the primary key (subscriber_id,
id) (0019, for Citus) beside an index (subscriber_id, changed_at) for a subscriber's history in time
order. The key (subscriber_id, changed_at, id) serves both: still unique and led by the distribution
column, and a first classification or value run maintains one index per history row fewer (a
million entries at a million subscribers; docs/BENCHMARKS.md, issue 11). SQLite keeps its rowid key
`id` (0019) and with it the (subscriber_id, changed_at) index: nothing changes there.

Revision ID: 0022_history_keys
Revises: 0021_i15_cohorts
"""

from alembic import op

revision = "0022_history_keys"
down_revision = "0021_i15_cohorts"
branch_labels = None
depends_on = None

TABLES = ("class_changes", "value_changes", "segment_changes")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["subscriber_id", "changed_at", "id"])
        op.drop_index(f"ix_{table}_subscriber", table_name=table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.create_index(f"ix_{table}_subscriber", table, ["subscriber_id", "changed_at"])
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["subscriber_id", "id"])
