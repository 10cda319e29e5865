"""order totals: every counted order of a subscriber summed, kept between value runs

A value run aggregated every order of the audience each time to get the lifetime-value models'
inputs (purchase days, first and last order, the first day's amount, amounts and contributions),
sorting every order by subscriber and day: 2.6 x the bare scan of the benchmark, more than the whole
run may take (issue 13). order_totals keeps those sums per subscriber; ingest marks the subscribers
whose orders changed in order_changes, and the value run refreshes only theirs
(mailseg/value/totals.py). audiences.order_totals_built_at stays NULL until the first value run
after this upgrade builds the totals from the orders already stored.

Revision ID: 0023_order_totals
Revises: 0022_history_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_order_totals"
down_revision = "0022_history_keys"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_totals",
        sa.Column("subscriber_id", KEY, nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("first_order_at", sa.DateTime(), nullable=False),
        sa.Column("last_order_at", sa.DateTime(), nullable=False),
        sa.Column("first_day_amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("margin", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("amount_without_margin", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_order_totals")),
    )
    op.create_table(
        "order_changes",
        sa.Column("subscriber_id", KEY, nullable=False),
        sa.Column("mark", sa.String(length=32), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", "mark", name=op.f("pk_order_changes")),
    )
    # a plain ADD COLUMN on both databases (a batch copy of audiences on SQLite would drop the table
    # the subscribers' cascading keys point at)
    op.add_column("audiences", sa.Column("order_totals_built_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place (no batch copy of audiences, as above)
    op.get_bind().exec_driver_sql("ALTER TABLE audiences DROP COLUMN order_totals_built_at")
    op.drop_table("order_changes")
    op.drop_table("order_totals")
