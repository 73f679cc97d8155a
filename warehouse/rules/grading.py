"""Grading: every rule's signals (``compute_signals``, in the registry's order) and one flag
per household (``flag_households``): risk types, grade, object type, lead date, asset
checks.

Grades: red for a rigid-cost risk, a gap (三保障/饮水) or two risks and more; yellow for one
risk; green for a watch signal or a lead only.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.models import HouseholdFlag
from warehouse.rules.assets import rule_assets
from warehouse.rules.assistance import rule_assist
from warehouse.rules.config import RuleSet
from warehouse.rules.education import rule_school
from warehouse.rules.evidence import SIGNAL_COLUMNS
from warehouse.rules.health import rule_disability, rule_medical, rule_medins
from warehouse.rules.home import rule_disaster, rule_housing, rule_water
from warehouse.rules.income import rule_income, rule_rigid
from warehouse.rules.inputs import RuleInputs, _income
from warehouse.rules.leads import rule_leads
from warehouse.rules.work import rule_labour, rule_work

__all__ = ["RULES", "compute_signals", "flag_households"]

# The registry. A new rule goes into its family's module and here. The order is part of the
# output: compute_signals concatenates in it before sorting, so it decides the order of
# equal sort keys and with it the signal numbers.
RULES = (
    rule_income,
    rule_medical,
    rule_disaster,
    rule_housing,
    rule_rigid,
    rule_school,
    rule_disability,
    rule_work,
    rule_labour,
    rule_water,
    rule_medins,
    rule_assist,
    rule_leads,
    rule_assets,
)


def compute_signals(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """Every signal of every household as of the date (not yet written)."""
    parts = [part for rule in RULES for part in rule(inputs, rules, as_of) if len(part)]
    if not parts:
        return pd.DataFrame(columns=[*SIGNAL_COLUMNS, "gap", "risk_type"])
    signals = pd.concat(parts, ignore_index=True)[[*SIGNAL_COLUMNS, "gap"]]
    signals["risk_type"] = signals["rule_id"].map(rules.label)
    signals["gap"] = signals["gap"].astype(bool) | signals["rule_id"].isin(rules["gap_rules"])
    return signals.sort_values(
        ["household_no", "rule_id", "source_id", "load_id", "row_number"]
    ).reset_index(drop=True)


def _lead_reason(signals: pd.DataFrame) -> pd.Series:
    reason = signals["evidence"].str.extract(r"^[^（]*（([^）]*)）", expand=False)
    kind = signals["rule_id"].map({"L-DECLARATION": "申报", "L-VISIT": "走访"})
    return reason + "（" + kind + "）"


def flag_households(
    signals: pd.DataFrame, rules: RuleSet, inputs: RuleInputs, as_of: dt.date
) -> pd.DataFrame:
    """One row per flagged household: object type, risk types, grade, lead date."""
    if signals.empty:
        return pd.DataFrame(columns=[c.name for c in HouseholdFlag.__table__.c])
    is_asset = signals["rule_id"].str.startswith("A-")
    assets = signals[is_asset]
    sig = signals[~is_asset].copy()
    if sig.empty:
        return pd.DataFrame(columns=[c.name for c in HouseholdFlag.__table__.c])
    is_risk = sig["rule_id"].str.startswith("R-")
    is_lead = sig["rule_id"].str.startswith("L-")
    sig["label"] = sig["risk_type"].where(~is_lead, _lead_reason(sig))
    # Labels in the rule set's order: risks first, then watch signals, then leads.
    rank = {rule_id: i for i, rule_id in enumerate(rules["labels"])}
    labels = (
        sig.drop_duplicates(["household_no", "label"])
        .assign(order=lambda f: f["rule_id"].map(rank).fillna(len(rank)))
        .sort_values(["household_no", "order", "label"])
        .groupby("household_no")["label"]
        .agg(";".join)
    )
    risk_rules = sig[is_risk].groupby("household_no")["rule_id"].agg(lambda s: set(s))
    flags = pd.DataFrame({"risk_types": labels})
    flags["evidence_count"] = sig.groupby("household_no").size()
    flags["lead_date"] = sig[is_lead].groupby("household_no")["event_date"].min()
    flags["rules"] = risk_rules.reindex(flags.index).apply(
        lambda v: v if isinstance(v, set) else set()
    )
    n_risks = flags["rules"].map(len)
    # A gap: a signal marked so by its rule (e.g. a dropout), or any signal of a gap rule.
    gap = sig["rule_id"].isin(rules["gap_rules"])
    if "gap" in sig:
        gap = gap | sig["gap"].fillna(False).astype(bool)
    has_gap = gap.groupby(sig["household_no"]).any().reindex(flags.index, fill_value=False)
    red = flags["rules"].map(lambda r: "R-RIGID" in r) | has_gap | (n_risks >= 2)
    flags["grade"] = "green"
    flags.loc[n_risks == 1, "grade"] = "yellow"
    flags.loc[red, "grade"] = "red"

    reg = (
        inputs.linked("xczx_registry")
        .sort_values(["load_id", "row_number"])
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    above_line = sig[sig["rule_id"] == "W-NEAR-LINE"]["household_no"]
    income = (
        _income(inputs, rules)
        .sort_values("year")
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    line = income["year"].astype(int).map(rules.line)
    income_ok = (income["income_pc"] >= line).reindex(flags.index, fill_value=False)
    monitored = reg["monitored_type"].reindex(flags.index)
    registered = reg["registry_type"].reindex(flags.index).eq("脱贫户")
    object_type = pd.Series("边缘易致贫户", index=flags.index)
    object_type[income_ok | flags.index.isin(above_line)] = "突发严重困难户"
    object_type[registered] = "脱贫不稳定户"
    object_type = monitored.fillna(object_type)
    flags["object_type"] = object_type
    flags["as_of"] = as_of
    asset_labels = (
        assets.assign(label=assets["rule_id"].map(rules.label), order=assets["rule_id"].map(rank))
        .drop_duplicates(["household_no", "label"])
        .sort_values(["household_no", "order"])
        .groupby("household_no")["label"]
        .agg(";".join)
    )
    flags["asset_check"] = asset_labels.reindex(flags.index)
    flags["lead_date"] = pd.to_datetime(flags["lead_date"]).dt.date
    flags = flags.reset_index().rename(columns={"index": "household_no"})
    return flags[[c.name for c in HouseholdFlag.__table__.c]]
