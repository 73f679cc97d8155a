"""link_state: the digest of each source's linking inputs, so unchanged sources are skipped.

A run then links again only the sources whose staged rows, register, model, decisions or
settings changed (``crosscheck run --full`` links every source).

Revision ID: 0011_link_state
Revises: 0010_landing_mtime
Create Date: 2026-12-08 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_link_state"
down_revision: str | Sequence[str] | None = "0010_landing_mtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_state",
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("inputs_sha256", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("link_state")
