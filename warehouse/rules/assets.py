"""Asset checks (A-): a vehicle, a company, a public payroll, several properties. Flags to
verify eligibility, shown on the monitoring list, never a risk. Only households with a
valid signed authorisation (承诺授权书, ``authorised_households``) are checked: data may
be queried only with the household's authorisation (domain.md).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _signals
from warehouse.rules.inputs import RuleInputs

__all__ = ["authorised_households", "rule_assets"]


def authorised_households(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.Index:
    """Households with an authorisation valid on the run date whose scope covers assets."""
    cfg = rules["authorisation"]
    auth = inputs.linked(cfg["source"])
    day = pd.Timestamp(as_of)
    scope = "|".join(cfg["asset_scope"])
    until = pd.to_datetime(auth["valid_until"])
    valid = (
        (pd.to_datetime(auth["signed_on"]) <= day)
        & (until.isna() | (until >= day))
        & auth["auth_status"].fillna(cfg["valid_status"][0]).isin(cfg["valid_status"])
        & auth["scope"].fillna("").str.contains(scope, regex=True)
    )
    return pd.Index(auth.loc[valid, "household_no"].dropna().unique())


def rule_assets(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """Asset checks of the authorised households: flags to verify eligibility."""
    cfg = rules["assets"]
    authorised = authorised_households(inputs, rules, as_of)

    def linked(source_id: str) -> pd.DataFrame:
        rows = inputs.linked(source_id)
        return rows[rows["household_no"].isin(authorised)]

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
