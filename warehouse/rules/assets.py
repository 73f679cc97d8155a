"""Asset checks (A-): a vehicle, a company, a public payroll, several properties. Flags to
verify eligibility, shown on the monitoring list, never a risk. These sources are the data
beyond the monitoring sources: a household's rows of each are read only under a valid
signed authorisation (承诺授权书) covering that source (``authorised_sources``): data may
be queried only with the household's authorisation (domain.md).
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _signals
from warehouse.rules.inputs import RuleInputs

__all__ = [
    "ASSET_RULES",
    "PENDING_RULE",
    "authorised_households",
    "authorised_sources",
    "pending_authorisation",
    "rule_assets",
]

# The signal saying which asset checks wait for the household's signed authorisation.
PENDING_RULE = "A-PENDING"

# The asset check each gated source feeds.
ASSET_RULES = {
    "gongan_vehicle": "A-VEHICLE",
    "scjg_business": "A-COMPANY",
    "caizheng_payroll": "A-PAYROLL",
    "bdc_property": "A-PROPERTY",
}


def authorised_sources(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """(household_no, source_id): the gated sources a valid authorisation covers on the run
    date. Valid: signed on or before it, not expired, in a valid status; it covers a source
    when its scope names one of ``asset_scope`` (every gated source) or one of the words
    listed for that source in ``gated_sources``."""
    cfg = rules["authorisation"]
    auth = inputs.linked(cfg["source"])
    day = pd.Timestamp(as_of)
    until = pd.to_datetime(auth["valid_until"])
    valid = auth[
        (pd.to_datetime(auth["signed_on"]) <= day)
        & (until.isna() | (until >= day))
        & auth["auth_status"].fillna(cfg["valid_status"][0]).isin(cfg["valid_status"])
        & auth["household_no"].notna()
    ]
    scope = valid["scope"].fillna("").astype(str)
    everything = scope.str.contains("|".join(map(re.escape, cfg["asset_scope"])), regex=True)
    parts = []
    for source_id, words in cfg["gated_sources"].items():
        pattern = "|".join(map(re.escape, [*cfg["asset_scope"], *words]))
        covered = everything | scope.str.contains(pattern, regex=True)
        parts.append(
            pd.DataFrame(
                {"household_no": valid.loc[covered, "household_no"], "source_id": source_id}
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        .drop_duplicates()
        .sort_values(["household_no", "source_id"])
        .reset_index(drop=True)
    )


def authorised_households(
    inputs: RuleInputs, rules: RuleSet, as_of: dt.date, source_id: str | None = None
) -> pd.Index:
    """Households whose authorisation covers ``source_id`` on the run date (None: covers
    every gated source)."""
    pairs = authorised_sources(inputs, rules, as_of)
    if source_id is not None:
        return pd.Index(pairs.loc[pairs["source_id"].eq(source_id), "household_no"].unique())
    gated = len(rules["authorisation"]["gated_sources"])
    count = pairs.groupby("household_no")["source_id"].nunique()
    return pd.Index(count[count == gated].index)


def rule_assets(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """Asset checks of the authorised households: flags to verify eligibility. A gated
    source's rows are read only for the households whose authorisation covers it."""
    cfg = rules["assets"]
    pairs = authorised_sources(inputs, rules, as_of)
    gated = rules["authorisation"]["gated_sources"]

    def linked(source_id: str) -> pd.DataFrame:
        rows = inputs.linked(source_id)
        if source_id not in gated:
            return rows
        covered = pairs.loc[pairs["source_id"].eq(source_id), "household_no"]
        return rows[rows["household_no"].isin(covered)]

    cars = linked("gongan_vehicle")
    cars = cars[
        cars["vehicle_type"].isin(cfg["vehicle_types"])
        & cars["vehicle_status"].isin(cfg["vehicle_active_status"])
    ]
    firms = linked("scjg_business")
    firms = firms[
        firms["entity_type"].isin(cfg["company_types"])
        & firms["registration_status"].isin(cfg["company_active_status"])
    ]
    payroll = linked("caizheng_payroll")
    props = linked("bdc_property")
    props = props[props["right_status"].eq("现势")]
    count = props.groupby("household_no")["record_key"].transform("size")
    props = props[count >= cfg["min_active_properties"]].drop_duplicates("household_no")
    return [
        _signals(cars, "A-VEHICLE", None, None, "车辆：" + cars["vehicle_type"].astype(str)),
        _signals(
            firms,
            "A-COMPANY",
            None,
            None,
            "法定代表人："
            + firms["company_name"].fillna("").astype(str)
            + "（"
            + firms["entity_type"].astype(str)
            + "）",
        ),
        _signals(
            payroll,
            "A-PAYROLL",
            None,
            None,
            "财政供养：" + payroll["staff_category"].fillna("").astype(str),
        ),
        _signals(
            props,
            "A-PROPERTY",
            count[props.index].astype(float),
            float(cfg["min_active_properties"]),
            "现势不动产 " + count[props.index].astype(str) + " 处",
        ),
    ]


def pending_authorisation(
    inputs: RuleInputs, rules: RuleSet, as_of: dt.date, households: pd.Index
) -> pd.DataFrame:
    """One A-PENDING signal per household of ``households`` (those with a risk, a lead or
    a watch signal) whose authorisation does not cover every gated source on the run date:
    the evidence names the checks waiting for it (待签署授权), never their data. It points
    at the household's latest authorisation row when there is one (expired, withdrawn or
    of a narrower scope)."""
    cfg = rules["authorisation"]
    gated = list(cfg["gated_sources"])
    covered = authorised_sources(inputs, rules, as_of)
    have = covered.groupby("household_no")["source_id"].agg(frozenset)
    waiting = pd.Series(
        {
            household: [rules.label(ASSET_RULES.get(s, s)) for s in gated if s not in mine]
            for household in households
            for mine in [have.get(household, frozenset())]
        },
        dtype=object,
    )
    waiting = waiting[waiting.map(len) > 0]
    if waiting.empty:
        return _signals(
            inputs.linked(cfg["source"]).iloc[0:0], PENDING_RULE, None, None, pd.Series()
        )
    auth = inputs.linked(cfg["source"])
    auth = auth[auth["household_no"].isin(waiting.index)]
    latest = auth.assign(
        signed=pd.to_datetime(auth["signed_on"]), rank=range(len(auth))
    ).sort_values(["signed", "load_id", "row_number", "rank"], na_position="first")
    latest = latest.drop_duplicates("household_no", keep="last").set_index("household_no")
    rows = pd.DataFrame({"household_no": waiting.index}).assign(source_id=cfg["source"])
    for col in ("load_id", "row_number", "record_key"):
        rows[col] = rows["household_no"].map(latest[col]) if len(latest) else None
    checks = waiting.map("、".join).reindex(rows["household_no"]).to_numpy()
    has_row = rows["household_no"].isin(latest.index).to_numpy()
    why = pd.Series(
        ["现有承诺授权书在核查日无效或范围不含这些核查" if h else "尚无承诺授权书" for h in has_row]
    )
    evidence = cfg["pending_label"] + "：" + pd.Series(checks) + "（" + why + "）"
    return _signals(rows, PENDING_RULE, None, None, evidence)
