"""decision_conflict on mart_monitoring_list and its history: county decisions to re-check.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 15:43:35.407853
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mart_monitoring_list", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_conflict", sa.Text(), nullable=True))

    with op.batch_alter_table("mart_monitoring_list_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision_conflict", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mart_monitoring_list_history", schema=None) as batch_op:
        batch_op.drop_column("decision_conflict")

    with op.batch_alter_table("mart_monitoring_list", schema=None) as batch_op:
        batch_op.drop_column("decision_conflict")
