"""load_audit.file_mtime_ns: a scan knows a claimed file by name, size and mtime.

A rerun with nothing new then costs a listing of the landing zone, not a read of every
file in it (``crosscheck run --full`` reads and hashes everything again).

Revision ID: 0010_landing_mtime
Revises: 0009_signal_per_household
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_landing_mtime"
down_revision: str | Sequence[str] | None = "0009_signal_per_household"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("load_audit") as batch:
        batch.add_column(sa.Column("file_mtime_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("load_audit") as batch:
        batch.drop_column("file_mtime_ns")
