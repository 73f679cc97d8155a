"""Accident risk (因意外事故, R-ACCIDENT): a member killed or seriously injured in an
accident within the window, or a large direct property loss (source: the accident
extracts named in the rule file: 公安交警 道路交通事故, 应急管理 安全生产事故)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.inputs import RuleInputs, _in_window

__all__ = ["rule_accident"]


def rule_accident(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """Every accident source of the rule file. A source without a property loss column
    (应急管理 安全生产事故: the loss is the workplace's) counts casualties only; one with an
    accident type names it in the evidence."""
    cfg = rules["accident"]
    parts = []
    for source in cfg["sources"]:
        rows = inputs.linked(source)
        rows = rows[_in_window(rows["occurred_on"], as_of, rules["window_months"])]
        has_loss = "property_loss" in rows
        loss = rows["property_loss"] if has_loss else pd.Series(float("nan"), index=rows.index)
        hit = rows[rows["injury"].isin(cfg["injuries"]) | (loss.fillna(0) >= cfg["min_loss"])]
        what = "意外事故（" + hit["occurred_on"].dt.strftime("%Y-%m-%d")
        if "accident_type" in hit:
            kind = hit["accident_type"].fillna("").astype(str)
            what = what + kind.where(kind.eq(""), "，" + kind)
        evidence = what + "）：当事人" + hit["injury"].fillna("").astype(str)
        if has_loss:
            evidence = evidence + "，直接财产损失 " + _fmt(loss[hit.index].fillna(0)) + " 元"
        parts.append(
            _signals(
                hit,
                "R-ACCIDENT",
                loss[hit.index],
                float(cfg["min_loss"]),
                evidence,
                event_date=hit["occurred_on"],
            )
        )
    return parts
