"""History: validity intervals (dim_person_history, dim_household_history,
household_flag_history) and mart_monitoring_list_history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 15:22:11.767018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dim_household_history",
        sa.Column("household_no", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("county", sa.String(length=32), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("head_person_key", sa.String(length=32), nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("household_no", "valid_from"),
    )
    with op.batch_alter_table("dim_household_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dim_household_history_valid_to"), ["valid_to"], unique=False
        )

    op.create_table(
        "dim_person_history",
        sa.Column("person_key", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("household_no", sa.Text(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=True),
        sa.Column("county", sa.String(length=32), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=True),
        sa.Column("cancel_date", sa.Date(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("person_key", "valid_from"),
    )
    with op.batch_alter_table("dim_person_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dim_person_history_household_no"), ["household_no"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dim_person_history_valid_to"), ["valid_to"], unique=False
        )

    op.create_table(
        "household_flag_history",
        sa.Column("household_no", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("risk_types", sa.Text(), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("asset_check", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("household_no", "valid_from"),
    )
    with op.batch_alter_table("household_flag_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_flag_history_valid_to"), ["valid_to"], unique=False
        )

    op.create_table(
        "mart_monitoring_list_history",
        sa.Column("household_no", sa.Text(), nullable=False),
        sa.Column("county", sa.String(length=32), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("head_name", sa.Text(), nullable=True),
        sa.Column("head_id_masked", sa.String(length=32), nullable=True),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("risk_types", sa.Text(), nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("asset_check", sa.Text(), nullable=True),
        sa.Column("first_flagged_at", sa.Date(), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision_due", sa.Date(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("case_no", sa.Integer(), nullable=True),
        sa.Column("status_since", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("suggested_measures", sa.Text(), nullable=True),
        sa.Column("elimination_check", sa.String(length=16), nullable=True),
        sa.Column("elimination_blockers", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("as_of", "household_no"),
        comment="mart_monitoring_list of every run date (grain: run date, household)",
    )
    with op.batch_alter_table("mart_monitoring_list_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_history_region", ["county", "township", "village"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mart_monitoring_list_history", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_history_region")

    op.drop_table("mart_monitoring_list_history")
    with op.batch_alter_table("household_flag_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_flag_history_valid_to"))

    op.drop_table("household_flag_history")
    with op.batch_alter_table("dim_person_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dim_person_history_valid_to"))
        batch_op.drop_index(batch_op.f("ix_dim_person_history_household_no"))

    op.drop_table("dim_person_history")
    with op.batch_alter_table("dim_household_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dim_household_history_valid_to"))

    op.drop_table("dim_household_history")
