"""job runs: the process holding each run, so runs left by a dead process are marked failed

Revision ID: 0007_run_holder
Revises: 0006_history_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_run_holder"
down_revision = "0006_history_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("holder")
