"""Storage: one run date's signals (``risk_signal``) and household flags (``household_flag``),
replaced as a whole so a rerun for the same date writes the same rows.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete, select

from warehouse.db import bulk_insert, read_frame
from warehouse.models import DimHousehold, HouseholdFlag, RiskSignal
from warehouse.rules.config import RuleSet, load_rule_set
from warehouse.rules.grading import compute_signals, flag_households
from warehouse.rules.inputs import RuleInputs

__all__ = ["run_rules"]


def run_rules(engine: Engine, as_of: dt.date, rules: RuleSet | None = None) -> pd.DataFrame:
    """Compute and store the signals and household flags of one run date (replacing it)."""
    rules = rules or load_rule_set()
    inputs = RuleInputs(engine)
    signals = compute_signals(inputs, rules, as_of)
    flags = flag_households(signals, rules, inputs, as_of)
    with engine.connect() as conn:
        known = set(read_frame(conn, select(DimHousehold.household_no))["household_no"])
    flags = flags[flags["household_no"].isin(known)]
    with engine.begin() as conn:
        conn.execute(delete(RiskSignal).where(RiskSignal.as_of == as_of))
        conn.execute(delete(HouseholdFlag).where(HouseholdFlag.as_of == as_of))
        bulk_insert(
            conn,
            RiskSignal.__table__,
            signals.assign(as_of=as_of, signal_no=range(1, len(signals) + 1))[
                [c.name for c in RiskSignal.__table__.c]
            ],
        )
        bulk_insert(conn, HouseholdFlag.__table__, flags)
    return flags
