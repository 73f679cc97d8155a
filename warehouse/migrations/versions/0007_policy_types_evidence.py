"""Policy: national risk codes, tags, list categories and the county's type on flags, cases
and the list; mart_monitoring_evidence (the evidence behind the list, per signal);
mart_monitoring_list_deidentified (the list without names, for analysts).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = {
    "risk_signal": [("risk_code", sa.String(length=8))],
    "household_flag": [
        ("risk_codes", sa.Text()),
        ("rule_ids", sa.Text()),
        ("tags", sa.Text()),
        ("income_position", sa.String(length=8)),
        ("list_category", sa.String(length=16)),
        ("gap_departments", sa.Text()),
    ],
    "household_case": [
        ("object_type", sa.String(length=16)),
        ("object_type_source", sa.String(length=16)),
    ],
}
LIST_COLUMNS = [
    ("object_type_source", sa.String(length=16)),
    ("list_category", sa.String(length=16)),
    ("income_position", sa.String(length=8)),
    ("risk_codes", sa.Text()),
    ("tags", sa.Text()),
    ("gap_departments", sa.Text()),
]
NEW_COLUMNS["mart_monitoring_list"] = LIST_COLUMNS
NEW_COLUMNS["mart_monitoring_list_history"] = LIST_COLUMNS


def upgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in columns:
                batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "mart_monitoring_evidence",
        sa.Column("household_no", sa.Text(), nullable=False),
        sa.Column("signal_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("county", sa.String(length=32), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("head_name", sa.Text(), nullable=True),
        sa.Column("member_name", sa.Text(), nullable=True),
        sa.Column("member_id_masked", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("risk_code", sa.String(length=8), nullable=True),
        sa.Column("risk_type", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("household_no", "signal_no"),
    )
    op.create_index(
        "ix_evidence_region",
        "mart_monitoring_evidence",
        ["county", "township", "village"],
        unique=False,
    )

    op.create_table(
        "mart_monitoring_list_deidentified",
        sa.Column("row_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("household_masked", sa.String(length=32), nullable=False),
        sa.Column("county", sa.String(length=32), nullable=True),
        sa.Column("township", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("list_category", sa.String(length=16), nullable=True),
        sa.Column("income_position", sa.String(length=8), nullable=True),
        sa.Column("risk_codes", sa.Text(), nullable=True),
        sa.Column("risk_types", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("grade", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_flagged_at", sa.Date(), nullable=False),
        sa.Column("decision_due", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("row_no"),
    )


def downgrade() -> None:
    op.drop_table("mart_monitoring_list_deidentified")
    op.drop_index("ix_evidence_region", table_name="mart_monitoring_evidence")
    op.drop_table("mart_monitoring_evidence")
    for table, columns in reversed(list(NEW_COLUMNS.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in reversed(columns):
                batch_op.drop_column(name)
