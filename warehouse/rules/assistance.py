"""Safety net: a new 低保/特困/临时救助 case in the window (R-ASSIST). It tags the household
兜底保障 (``tags`` in the rule file); it is not a risk type and never raises the grade."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _signals
from warehouse.rules.inputs import RuleInputs, _in_window, _latest

__all__ = ["rule_assist"]


def rule_assist(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """兜底保障: a case approved within the window; sources with the same cases count once."""
    cfg = rules["assist"]
    cases = pd.concat([inputs.linked(source) for source in cfg["sources"]], ignore_index=True)
    cases = cases[
        cases["category"].isin(cfg["categories"])
        & _in_window(cases["approval_date"], as_of, rules["window_months"])
    ]
    rank = {source: -i for i, source in enumerate(cfg["sources"])}
    cases = cases.assign(
        source_rank=cases["source_id"].map(rank).astype(float),
        day=cases["approval_date"].dt.normalize(),
    )
    cases = _latest(cases, ["household_no", "category", "day"], ["source_rank"])
    return [
        _signals(
            cases,
            "R-ASSIST",
            cases["monthly_amount"],
            None,
            "新增"
            + cases["category"].astype(str)
            + "（审批日期 "
            + cases["approval_date"].dt.strftime("%Y-%m-%d")
            + "）",
            event_date=cases["approval_date"],
        )
    ]
