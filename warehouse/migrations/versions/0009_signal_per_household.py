"""The cross-check partitioned by county: ``county_run``, and risk signals numbered
within their household.

The key of ``risk_signal`` was (as_of, signal_no) with signals numbered across the city;
with the cross-check partitioned by county, each county's rules write only its own
households' signals, so the number runs within (as_of, household_no).

Revision ID: 0009_signal_per_household
Revises: 0008_console
Create Date: 2026-12-07 17:45:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_signal_per_household"
down_revision: str | Sequence[str] | None = "0008_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_KEY = ["as_of", "signal_no", "household_no"]
_OLD_KEY = ["as_of", "signal_no"]


def _rekey(columns: list[str]) -> None:
    # Existing rows are renumbered by the next run of their date; until then the old
    # city-wide numbers are unique within a household too, so the new key holds.
    if op.get_bind().dialect.name == "sqlite":
        with warnings.catch_warnings():
            # The copied table's columns still say the old key; the new constraint wins,
            # which is the point (SQLAlchemy warns that it does).
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_risk_signal' specifies")
            with op.batch_alter_table("risk_signal", recreate="always") as batch:
                batch.create_primary_key("risk_signal_pkey", columns)
    else:
        op.drop_constraint("risk_signal_pkey", "risk_signal", type_="primary")
        op.create_primary_key("risk_signal_pkey", "risk_signal", columns)


def upgrade() -> None:
    _rekey(_NEW_KEY)
    op.create_table(
        "county_run",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("county", sa.String(length=32), nullable=False),
        sa.Column("households_flagged", sa.Integer(), nullable=False),
        sa.Column("households_listed", sa.Integer(), nullable=False),
        sa.Column("files_written", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "county"),
    )


def downgrade() -> None:
    op.drop_table("county_run")
    # Back to one number per run date: renumber in (household, number) order, through
    # negative numbers so no step collides with a row not yet renumbered.
    op.execute(
        "UPDATE risk_signal SET signal_no = -n.rn FROM (SELECT as_of, household_no, "
        "signal_no, ROW_NUMBER() OVER (PARTITION BY as_of ORDER BY household_no, signal_no) "
        "AS rn FROM risk_signal) AS n WHERE risk_signal.as_of = n.as_of "
        "AND risk_signal.household_no = n.household_no AND risk_signal.signal_no = n.signal_no"
    )
    op.execute("UPDATE risk_signal SET signal_no = -signal_no")
    _rekey(_OLD_KEY)
