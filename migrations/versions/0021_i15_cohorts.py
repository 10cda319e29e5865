"""experiment cohorts: the list of cohorts the verdicts judge, kept as exposures are recorded

The verdicts found their cohorts by grouping every exposure ever recorded, once a day (about 100,000
exposures a simulated week at 100,000 members): experiment_cohorts holds one row per cohort (policy,
week, resend version, salt), written with its exposures (mailseg.experiments.exposures.record). The
upgrade fills it from the exposures already recorded.

Revision ID: 0021_i15_cohorts
Revises: 0020_i13_value_nofk
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_i15_cohorts"
down_revision = "0020_i13_value_nofk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("experiment_cohorts",
    sa.Column("audience_id", sa.Integer(), nullable=False),
    sa.Column("policy", sa.String(length=20), nullable=False),
    sa.Column("cohort", sa.Date(), nullable=False),
    sa.Column("variant", sa.Integer(), nullable=False),
    sa.Column("salt", sa.String(length=100), nullable=False),
    sa.Column("share", sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(["audience_id"], ["audiences.id"], name=op.f("fk_experiment_cohorts_audience_id_audiences"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("audience_id", "policy", "cohort", "variant", "salt", name=op.f("pk_experiment_cohorts"))
    )
    op.get_bind().exec_driver_sql(
        "INSERT INTO experiment_cohorts (audience_id, policy, cohort, variant, salt, share) "
        "SELECT audience_id, policy, cohort, variant, salt, max(share) FROM experiment_exposures "
        "GROUP BY audience_id, policy, cohort, variant, salt")


def downgrade() -> None:
    op.drop_table("experiment_cohorts")
