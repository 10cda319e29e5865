"""order totals keep the lookback figures too, slid from run to run

A value run aggregated the orders of its 12-month lookback every time (2.3 s of a 7.5 s run at
500,000 customers, issue 13). order_totals now keeps each customer's counted orders and cents in the
window (audiences.lookback_from, lookback_to]; the next run subtracts the orders that left the window,
found through a partial index on purchases by time, and sums the marked subscribers again
(mailseg/value/totals.py). NULL bounds: the next run sums the window afresh.

Revision ID: 0025_lookback_kept
Revises: 0024_value_rows_hot
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_lookback_kept"
down_revision = "0024_value_rows_hot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_totals", sa.Column("lookback_orders", sa.Integer(), nullable=True))
    op.add_column("order_totals", sa.Column("lookback_cents", sa.BigInteger(), nullable=True))
    # plain ADD COLUMN (no batch copy of audiences on SQLite: see 0023)
    op.add_column("audiences", sa.Column("lookback_from", sa.DateTime(), nullable=True))
    op.add_column("audiences", sa.Column("lookback_to", sa.DateTime(), nullable=True))
    op.create_index("ix_events_purchase_time", "events", ["occurred_at"],
                    postgresql_where=sa.text("type = 'purchase'"), sqlite_where=sa.text("type = 'purchase'"))


def downgrade() -> None:
    op.drop_index("ix_events_purchase_time", table_name="events")
    bind = op.get_bind()
    for table, column in (("audiences", "lookback_to"), ("audiences", "lookback_from"),
                          ("order_totals", "lookback_cents"), ("order_totals", "lookback_orders")):
        # SQLite >= 3.35 drops a column in place (no batch copy, as in 0023)
        bind.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
