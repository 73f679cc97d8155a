"""Leads: a household's own declaration (L-DECLARATION) and a cadre visit's finding
(L-VISIT) within the window; a lead is a reason to verify, not a risk.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _signals
from warehouse.rules.inputs import RuleInputs, _in_window

__all__ = ["rule_leads"]


def rule_leads(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    months = rules["window_months"]
    dec = inputs.linked("declarations")
    dec = dec[_in_window(dec["applied_at"], as_of, months)]
    visits = inputs.linked("cadre_visits")
    visits = visits[_in_window(visits["visited_on"], as_of, months)]
    nothing = "|".join(rules["leads"]["no_finding_patterns"])
    visits = visits[~visits["finding"].fillna("").str.contains(nothing, regex=True)]
    names = rules.risk_names
    other = rules.risk_code("其他")
    return [
        _signals(
            dec,
            "L-DECLARATION",
            None,
            None,
            "农户申报（" + dec["reason"].astype(str) + "）：" + dec["reason_text"].fillna(""),
            event_date=dec["applied_at"].dt.normalize(),
            risk_code=dec["reason"].map(names).fillna(other),
        ),
        _signals(
            visits,
            "L-VISIT",
            None,
            None,
            "走访发现（"
            + visits["reason"].fillna("其他").astype(str)
            + "）："
            + visits["finding"].fillna(""),
            event_date=visits["visited_on"],
            risk_code=visits["reason"].map(names).fillna(other),
        ),
    ]
