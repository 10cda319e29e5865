"""subscriber_values: half-empty pages and no index on clv, so a value run updates rows in place

Every value run rewrites every customer's row: recency_days and T move with as_of, the predictions
with T and with every refit. An UPDATE of 500,000 rows with an index on (audience_id, clv) wrote a new
entry in every index for each row (5.1 s); with fillfactor 50 and no index on a column the run updates,
PostgreSQL keeps the new version on the same page without index entries (HOT): 0.8 s (issue 13,
docs/BENCHMARKS.md). The Value page's top customers no longer walk the clv index (reports/value.py).
New pages follow the fillfactor; existing ones as they are rewritten.

Revision ID: 0024_value_rows_hot
Revises: 0023_order_totals
"""

from alembic import op

revision = "0024_value_rows_hot"
down_revision = "0023_order_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_subscriber_values_audience_clv", table_name="subscriber_values")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE subscriber_values SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE subscriber_values RESET (fillfactor)")
    op.create_index("ix_subscriber_values_audience_clv", "subscriber_values", ["audience_id", "clv"])
