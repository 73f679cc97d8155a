"""Grading: every rule's signals (``compute_signals``, in the registry's order) and one flag
per household (``flag_households``): national risk types, tags, grade, object type by the
decision table (``object_types``, docs/policy.md), lead date, asset checks.

Grades: red for a rigid-cost risk, a gap (三保障/饮水) or two risks and more; yellow for one
risk; green for a watch signal or a lead only. A tag (兜底保障) is not a risk.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.models import HouseholdFlag
from warehouse.rules.accident import rule_accident
from warehouse.rules.assets import (
    ASSET_RULES,
    PENDING_RULE,
    authorised_sources,
    pending_authorisation,
    rule_assets,
)
from warehouse.rules.assistance import rule_assist
from warehouse.rules.config import RuleSet
from warehouse.rules.education import rule_school
from warehouse.rules.evidence import SIGNAL_COLUMNS
from warehouse.rules.health import rule_disability, rule_medical, rule_medins
from warehouse.rules.home import rule_disaster, rule_housing, rule_water
from warehouse.rules.income import rule_income, rule_rigid
from warehouse.rules.industry import rule_industry
from warehouse.rules.inputs import RuleInputs
from warehouse.rules.leads import rule_leads
from warehouse.rules.rolling import income_by_year
from warehouse.rules.work import rule_labour, rule_work

__all__ = [
    "RULES",
    "asset_check",
    "compute_signals",
    "flag_households",
    "income_position",
    "low_income_tags",
    "object_types",
]

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
    rule_accident,
    rule_industry,
)


def compute_signals(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """Every signal of every household as of the date (not yet written).

    ``risk_code``/``risk_type``: the national risk type of a risk or a lead; a tag's label
    (兜底保障, no code) for a tag; the rule's name for a watch signal or an asset check.
    """
    parts = [part for rule in RULES for part in rule(inputs, rules, as_of) if len(part)]
    columns = [*SIGNAL_COLUMNS, "gap", "risk_code", "risk_type"]
    if not parts:
        return pd.DataFrame(columns=columns)
    # Households with a risk, a lead or a watch signal: which asset checks wait for their
    # signed authorisation (A-PENDING), shown wherever their signals are.
    raised = pd.concat([p[["household_no", "rule_id"]] for p in parts], ignore_index=True)
    listed = raised.loc[
        ~raised["rule_id"].str.startswith("A-") & ~raised["rule_id"].isin(list(rules["tags"])),
        "household_no",
    ]
    pending = pending_authorisation(inputs, rules, as_of, pd.Index(listed.dropna().unique()))
    if len(pending):
        parts.append(pending)
    signals = pd.concat(parts, ignore_index=True)[[*SIGNAL_COLUMNS, "gap", "risk_code"]]
    by_rule = signals["rule_id"].map(rules["risk_of_rule"])
    signals["risk_code"] = signals["risk_code"].astype(object).fillna(by_rule)
    is_tag = signals["rule_id"].isin(list(rules["tags"]))
    signals.loc[is_tag, "risk_code"] = None
    national = signals["risk_code"].map(
        {code: kind.label for code, kind in rules["risk_types"].items()}
    )
    signals["risk_type"] = (
        national.where(signals["risk_code"].notna())
        .fillna(signals["rule_id"].map(rules["tags"]))
        .fillna(signals["rule_id"].map(rules.label))
    )
    signals["gap"] = signals["gap"].astype(bool) | signals["rule_id"].isin(rules["gap_rules"])
    # Integers, blank where a signal has no row (the notice of a household without an
    # authorisation): never floats, which PostgreSQL's COPY refuses for integer columns.
    for col in ("load_id", "row_number"):
        signals[col] = pd.to_numeric(signals[col]).astype("Int64")
    # The authorisation notice last in its household: the numbers of the other signals
    # do not depend on it.
    return (
        signals.assign(notice=signals["rule_id"].eq(PENDING_RULE))
        .sort_values(["household_no", "notice", "rule_id", "source_id", "load_id", "row_number"])[
            columns
        ]
        .reset_index(drop=True)
    )


# Where a household stands against the monitoring line (docs/policy.md).
BELOW, NEAR, ABOVE, UNKNOWN = "below", "near", "above", "unknown"
# The list categories: a monitoring object (with a type), a gap for the responsible
# department, a risk whose type the home verification decides, a lead or watch only.
OBJECT, GAP_REFERRAL, VERIFY, LEAD = "object", "gap_referral", "verify", "lead"
EDGE, UNSTABLE, SUDDEN = "边缘易致贫户", "脱贫不稳定户", "突发严重困难户"


def income_position(
    inputs: RuleInputs, rules: RuleSet, households: pd.Index, as_of: dt.date
) -> pd.Series:
    """below / near (under line x (1 + near_line_margin)) / above / unknown, per household,
    from its latest income year's per-capita income (the rolling window's where monthly
    wages allow) and that year's line."""
    income = (
        income_by_year(inputs, rules, as_of)
        .dropna(subset=["income_pc"])
        .sort_values("year")
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    line = income["year"].astype(int).map(rules.line)
    position = pd.Series(ABOVE, index=income.index, dtype=object)
    position[income["income_pc"] < line * (1 + rules["near_line_margin"])] = NEAR
    position[income["income_pc"] < line] = BELOW
    return position.reindex(households).fillna(UNKNOWN)


def object_types(
    position: pd.Series,
    risk: pd.Series,
    sudden: pd.Series,
    non_gap_risk: pd.Series,
    registered: pd.Series,
    monitored: pd.Series,
) -> pd.DataFrame:
    """The decision table of docs/policy.md, row by row (every argument per household):
    (object_type, list_category). ``monitored``: the type the national system already
    holds (xczx_registry 监测对象类型), or NA. The county's confirmed type is applied
    later, by the case (``warehouse.cases``), and overrides both."""
    by_registration = pd.Series(EDGE, index=position.index, dtype=object).where(
        ~registered.astype(bool), UNSTABLE
    )
    kind = pd.Series("", index=position.index, dtype=object)
    category = pd.Series(LEAD, index=position.index, dtype=object)  # row 9: lead/watch only
    gaps_only = risk & ~non_gap_risk
    rows = [
        (risk & position.eq(ABOVE) & gaps_only, "", GAP_REFERRAL),  # row 6
        (risk & position.eq(ABOVE) & non_gap_risk, "", VERIFY),  # row 7
        (risk & position.eq(UNKNOWN), "", VERIFY),  # row 8
        (risk & position.eq(NEAR), by_registration, OBJECT),  # row 5
        (risk & sudden & position.isin([NEAR, ABOVE]), SUDDEN, OBJECT),  # row 4
        (risk & position.eq(BELOW), by_registration, OBJECT),  # row 3
        (monitored.notna(), monitored, OBJECT),  # row 2
    ]
    for mask, value, cat in rows:  # later rows take precedence
        mask = mask.astype(bool)
        kind[mask] = value[mask] if isinstance(value, pd.Series) else value
        category[mask] = cat
    return pd.DataFrame({"object_type": kind, "list_category": category})


def low_income_tags(
    inputs: RuleInputs, rules: RuleSet, as_of: dt.date, signals: pd.DataFrame
) -> pd.DataFrame:
    """(household_no, tag) of the 低收入人口 categories: 低保边缘家庭 (per-capita income below
    ``edge_multiple`` x that year's 低保 standard, no active 低保/特困 case on the run date)
    and 刚性支出困难家庭 (rigid costs above income: R-RIGID)."""
    cfg = rules["low_income"]
    income = (
        income_by_year(inputs, rules, as_of)
        .dropna(subset=["income_pc"])
        .sort_values("year")
        .drop_duplicates("household_no", keep="last")
    )
    standard = income["year"].astype(int).map(rules.dibao_standard)
    edge = income.loc[income["income_pc"] < standard * cfg["edge_multiple"], "household_no"]
    cases = pd.concat(
        [inputs.linked(source) for source in rules["assist"]["sources"]], ignore_index=True
    )
    day = pd.Timestamp(as_of)
    ended = pd.to_datetime(cases["end_date"])
    on_dibao = cases.loc[
        cases["category"].isin(cfg["dibao_categories"])
        & (pd.to_datetime(cases["approval_date"]) <= day)
        & (ended.isna() | (ended > day)),
        "household_no",
    ]
    edge = edge[~edge.isin(on_dibao)]
    rigid = signals.loc[signals["rule_id"].eq("R-RIGID"), "household_no"]
    return pd.concat(
        [
            pd.DataFrame({"household_no": edge.to_numpy(), "tag": cfg["edge_tag"]}),
            pd.DataFrame({"household_no": rigid.unique(), "tag": cfg["rigid_tag"]}),
        ],
        ignore_index=True,
    )


def asset_check(found: pd.Series, covered: pd.DataFrame, rules: RuleSet) -> pd.Series:
    """The list's asset column per household (``found``: the checks that found something,
    ';'-joined, indexed by household): asset data only under the household's signed
    authorisation. No gated source covered: the pending label alone; some covered: what
    they found, then the pending label naming the checks still waiting for one."""
    pending = rules["authorisation"]["pending_label"]
    gated = list(rules["authorisation"]["gated_sources"])
    labels = {s: rules.label(ASSET_RULES.get(s, s)) for s in gated}
    out = found.astype(object).copy()
    have = covered.groupby("household_no")["source_id"].agg(set)
    for household in found.index:
        mine = have.get(household, set())
        if not mine:
            out[household] = pending
            continue
        waiting = [labels[s] for s in gated if s not in mine]
        if waiting:
            note = f"{pending}（{'、'.join(waiting)}）"
            out[household] = note if pd.isna(found[household]) else f"{found[household]};{note}"
    return out


def _lead_label(signals: pd.DataFrame) -> pd.Series:
    kind = signals["rule_id"].map({"L-DECLARATION": "申报", "L-VISIT": "走访"})
    return signals["risk_type"] + "（" + kind + "）"


def _joined(frame: pd.DataFrame, column: str, order: pd.Series) -> pd.Series:
    """Per household, the distinct values of ``column`` in ``order``, ';'-joined."""
    return (
        frame.assign(order=order)
        .drop_duplicates(["household_no", column])
        .sort_values(["household_no", "order", column])
        .groupby("household_no")[column]
        .agg(";".join)
    )


def flag_households(
    signals: pd.DataFrame, rules: RuleSet, inputs: RuleInputs, as_of: dt.date
) -> pd.DataFrame:
    """One row per flagged household: object type, list category, national risk types and
    codes, tags, grade, lead date. A household with only tags (兜底保障) or asset checks is
    not flagged: neither is a risk."""
    columns = [c.name for c in HouseholdFlag.__table__.c]
    if signals.empty:
        return pd.DataFrame(columns=columns)
    is_asset = signals["rule_id"].str.startswith("A-")
    is_tag = signals["rule_id"].isin(list(rules["tags"]))
    assets, tags = signals[is_asset & signals["rule_id"].ne(PENDING_RULE)], signals[is_tag]
    sig = signals[~is_asset & ~is_tag].copy()
    if sig.empty:
        return pd.DataFrame(columns=columns)
    is_risk = sig["rule_id"].map(rules.is_risk).astype(bool)
    is_lead = sig["rule_id"].str.startswith("L-")
    sig["label"] = sig["risk_type"].where(~is_lead, _lead_label(sig))
    # National types in code order, then watch signals, then leads.
    codes = list(rules["risk_types"])
    rank = {rule_id: i for i, rule_id in enumerate(rules["labels"])}
    order = (
        sig["risk_code"]
        .map({c: i for i, c in enumerate(codes)})
        .where(~is_lead)
        .fillna(len(codes) + sig["rule_id"].map(rank).fillna(len(rank)))
    )
    flags = pd.DataFrame({"risk_types": _joined(sig, "label", order)})
    households = flags.index
    risks = sig[is_risk]
    flags["risk_codes"] = _joined(risks, "risk_code", order[is_risk]).reindex(households)
    flags["rule_ids"] = _joined(sig, "rule_id", sig["rule_id"].map(rank)).reindex(households)
    flags["evidence_count"] = sig.groupby("household_no").size()
    flags["lead_date"] = sig[is_lead].groupby("household_no")["event_date"].min()

    def per_household(mask: pd.Series) -> pd.Series:
        return mask.groupby(sig["household_no"]).any().reindex(households, fill_value=False)

    n_risks = risks.groupby("household_no")["rule_id"].nunique().reindex(households, fill_value=0)
    # A gap: a signal marked so by its rule (e.g. a dropout), or any signal of a gap rule.
    gap = sig["gap"].fillna(False).astype(bool) | sig["rule_id"].isin(rules["gap_rules"])
    has_gap = per_household(gap)
    red = per_household(sig["rule_id"].eq("R-RIGID")) | has_gap | (n_risks >= 2)
    flags["grade"] = "green"
    flags.loc[n_risks == 1, "grade"] = "yellow"
    flags.loc[red, "grade"] = "red"

    reg = (
        inputs.linked("xczx_registry")
        .sort_values(["load_id", "row_number"])
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    position = income_position(inputs, rules, households, as_of)
    sudden = is_risk & sig["rule_id"].isin(rules["object_types"]["sudden_rules"]) & ~gap
    typed = object_types(
        position,
        risk=per_household(is_risk),
        sudden=per_household(sudden),
        non_gap_risk=per_household(is_risk & ~gap),
        registered=reg["registry_type"].reindex(households).eq("脱贫户"),
        monitored=reg["monitored_type"].reindex(households).replace("", pd.NA),
    )
    flags["object_type"] = typed["object_type"]
    flags["list_category"] = typed["list_category"]
    flags["income_position"] = position
    departments = sig.loc[gap, "source_id"].map(
        {source_id: spec.department for source_id, spec in inputs.specs.items()}
    )
    flags["gap_departments"] = (
        pd.DataFrame({"household_no": sig.loc[gap, "household_no"], "d": departments})
        .drop_duplicates()
        .sort_values(["household_no", "d"])
        .groupby("household_no")["d"]
        .agg(";".join)
        .reindex(households)
    )
    # Tags: the safety net (兜底保障), then the low-income categories.
    all_tags = pd.concat(
        [
            tags[["household_no", "risk_type"]].rename(columns={"risk_type": "tag"}),
            low_income_tags(inputs, rules, as_of, signals),
        ],
        ignore_index=True,
    ).reset_index()
    flags["tags"] = (
        all_tags.drop_duplicates(["household_no", "tag"])
        .sort_values(["household_no", "index"])
        .groupby("household_no")["tag"]
        .agg(";".join)
        .reindex(households)
    )
    flags["as_of"] = as_of
    asset_labels = (
        assets.assign(label=assets["rule_id"].map(rules.label), order=assets["rule_id"].map(rank))
        .drop_duplicates(["household_no", "label"])
        .sort_values(["household_no", "order"])
        .groupby("household_no")["label"]
        .agg(";".join)
    )
    flags["asset_check"] = asset_check(
        asset_labels.reindex(households), authorised_sources(inputs, rules, as_of), rules
    )
    flags["lead_date"] = pd.to_datetime(flags["lead_date"]).dt.date
    flags = flags.reset_index().rename(columns={"index": "household_no"})
    return flags[columns]
