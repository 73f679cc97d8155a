"""Accident risk (因意外事故, R-ACCIDENT): a member killed or seriously injured in an
accident within the window, or a large direct property loss (source: the accident
extract named in the rule file, e.g. 公安交警 交通事故)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.inputs import RuleInputs, _in_window

__all__ = ["rule_accident"]


def rule_accident(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    cfg = rules["accident"]
    parts = []
    for source in cfg["sources"]:
        rows = inputs.linked(source)
        rows = rows[_in_window(rows["occurred_on"], as_of, rules["window_months"])]
        loss = rows["property_loss"].fillna(0)
        hit = rows[rows["injury"].isin(cfg["injuries"]) | (loss >= cfg["min_loss"])]
        parts.append(
            _signals(
                hit,
                "R-ACCIDENT",
                hit["property_loss"],
                float(cfg["min_loss"]),
                "意外事故（"
                + hit["occurred_on"].dt.strftime("%Y-%m-%d")
                + "）：当事人"
                + hit["injury"].fillna("").astype(str)
                + "，直接财产损失 "
                + _fmt(hit["property_loss"].fillna(0))
                + " 元",
                event_date=hit["occurred_on"],
            )
        )
    return parts
