"""class history: no foreign keys on audience_id and run_id (see ClassChange)

Revision ID: 0006_history_keys
Revises: 0005_policies
"""

from alembic import op

revision = "0006_history_keys"
down_revision = "0005_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("class_changes", schema=None) as batch_op:
        batch_op.drop_constraint("fk_class_changes_audience_id_audiences", type_="foreignkey")
        batch_op.drop_constraint("fk_class_changes_run_id_job_runs", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("class_changes", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_class_changes_audience_id_audiences", "audiences", ["audience_id"], ["id"],
                                    ondelete="CASCADE")
        batch_op.create_foreign_key("fk_class_changes_run_id_job_runs", "job_runs", ["run_id"], ["id"],
                                    ondelete="SET NULL")
