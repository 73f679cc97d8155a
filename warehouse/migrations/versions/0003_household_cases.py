"""household_case (the case lifecycle per run date) and case columns on mart_monitoring_list.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 15:04:16.708456
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "household_case",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("household_no", sa.Text(), nullable=False),
        sa.Column("case_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_since", sa.Date(), nullable=False),
        sa.Column("opened_at", sa.Date(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("decision_due", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.Date(), nullable=True),
        sa.Column("decided_risk_types", sa.Text(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("suggested_measures", sa.Text(), nullable=True),
        sa.Column("working_age_members", sa.Integer(), nullable=False),
        sa.Column("elimination_check", sa.String(length=16), nullable=True),
        sa.Column("elimination_blockers", sa.Text(), nullable=True),
        sa.Column("decision_conflict", sa.Text(), nullable=True),
        sa.Column("on_list", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "household_no", "case_no"),
    )
    with op.batch_alter_table("household_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_case_status"), ["status"], unique=False)

    with op.batch_alter_table("mart_monitoring_list", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_no", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("overdue", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("measures", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suggested_measures", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("elimination_check", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("elimination_blockers", sa.Text(), nullable=True))
        batch_op.create_index("ix_monitoring_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mart_monitoring_list", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_status")
        batch_op.drop_column("elimination_blockers")
        batch_op.drop_column("elimination_check")
        batch_op.drop_column("suggested_measures")
        batch_op.drop_column("measures")
        batch_op.drop_column("overdue")
        batch_op.drop_column("status_since")
        batch_op.drop_column("case_no")

    with op.batch_alter_table("household_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_case_status"))

    op.drop_table("household_case")
