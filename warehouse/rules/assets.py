"""Asset checks (A-): a vehicle, a company, a public payroll, several properties. Flags to
verify eligibility, shown on the monitoring list, never a risk.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _signals
from warehouse.rules.inputs import RuleInputs

__all__ = ["rule_assets"]


def rule_assets(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """Asset checks: flags to verify eligibility, shown on the list, never a risk."""
    cfg = rules["assets"]
    cars = inputs.linked("gongan_vehicle")
    cars = cars[
        cars["vehicle_type"].isin(cfg["vehicle_types"])
        & cars["vehicle_status"].isin(cfg["vehicle_active_status"])
    ]
    firms = inputs.linked("scjg_business")
    firms = firms[
        firms["entity_type"].isin(cfg["company_types"])
        & firms["registration_status"].isin(cfg["company_active_status"])
    ]
    payroll = inputs.linked("caizheng_payroll")
    props = inputs.linked("bdc_property")
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
