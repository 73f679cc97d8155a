"""Storage: one run date's signals (``risk_signal``) and household flags (``household_flag``),
replaced as a whole (the city's, or one county's) so a rerun writes the same rows.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete

from warehouse.db import bulk_insert, read_frame
from warehouse.models import HouseholdFlag, RiskSignal
from warehouse.partition import county_households, in_county
from warehouse.rules.config import RuleSet, load_rule_set
from warehouse.rules.grading import compute_signals, flag_households
from warehouse.rules.inputs import RuleInputs

__all__ = ["run_rules"]


def run_rules(
    engine: Engine, as_of: dt.date, rules: RuleSet | None = None, county: str | None = None
) -> pd.DataFrame:
    """Compute and store the signals and household flags of one run date, for the city or
    one ``county`` (replacing those rows only)."""
    rules = rules or load_rule_set()
    inputs = RuleInputs(engine, county=county)
    signals = compute_signals(inputs, rules, as_of)
    flags = flag_households(signals, rules, inputs, as_of)
    households = county_households(county)
    with engine.connect() as conn:
        known = set(read_frame(conn, households)["household_no"])
    flags = flags[flags["household_no"].isin(known)]
    # Numbered within the household, in the rules' order: the same keys whichever county
    # is computed first.
    signals = signals.assign(
        as_of=as_of, signal_no=signals.groupby("household_no", sort=False).cumcount() + 1
    )
    with engine.begin() as conn:
        mine = in_county(RiskSignal.household_no, county)
        conn.execute(delete(RiskSignal).where(RiskSignal.as_of == as_of, mine))
        mine = in_county(HouseholdFlag.household_no, county)
        conn.execute(delete(HouseholdFlag).where(HouseholdFlag.as_of == as_of, mine))
        bulk_insert(conn, RiskSignal.__table__, signals[[c.name for c in RiskSignal.__table__.c]])
        bulk_insert(conn, HouseholdFlag.__table__, flags)
    return flags
