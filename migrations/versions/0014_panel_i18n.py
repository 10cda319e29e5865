"""users: the panel language each user chose (NULL follows the browser's Accept-Language)

Revision ID: 0014_panel_i18n
Revises: 0012_experiments
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_panel_i18n"
down_revision = "0012_experiments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
