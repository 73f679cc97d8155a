"""run_log records the rule file and its hash; validation_result keeps each file's GX result.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rules_file", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rules_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "validation_result",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("suite_name", sa.String(length=128), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("evaluated_expectations", sa.Integer(), nullable=False),
        sa.Column("successful_expectations", sa.Integer(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("load_id"),
    )
    op.create_index(
        "ix_validation_result_source_id", "validation_result", ["source_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_validation_result_source_id", table_name="validation_result")
    op.drop_table("validation_result")
    with op.batch_alter_table("run_log", schema=None) as batch_op:
        batch_op.drop_column("rules_sha256")
        batch_op.drop_column("rules_file")
