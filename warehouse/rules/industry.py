"""Industry failure (因产业项目失败, R-INDUSTRY): a household's own declaration or a cadre
visit within the window stating that its industry project failed (a farm, an orchard, a
workshop the household lives on). A risk of its own, national type 06, beside the lead
the same row raises (L-DECLARATION / L-VISIT keeps the lead date and the 15-day deadline);
a visit that found nothing is no signal, as for leads.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _signals
from warehouse.rules.inputs import RuleInputs, _in_window

__all__ = ["rule_industry"]

# Per source: (date column, text column, how the evidence names the row).
_SHAPES = {
    "declarations": ("applied_at", "reason_text", "农户申报"),
    "cadre_visits": ("visited_on", "finding", "走访发现"),
}


def rule_industry(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    cfg = rules["industry"]
    nothing = "|".join(rules["leads"]["no_finding_patterns"])
    parts = []
    for source in cfg["sources"]:
        when, said, how = _SHAPES[source]
        rows = inputs.linked(source)
        rows = rows[_in_window(rows[when], as_of, rules["window_months"])]
        rows = rows[rows["reason"].isin(cfg["reasons"])]
        if source == "cadre_visits":
            rows = rows[~rows[said].fillna("").str.contains(nothing, regex=True)]
        day = pd.to_datetime(rows[when]).dt.normalize()
        parts.append(
            _signals(
                rows,
                "R-INDUSTRY",
                None,
                None,
                how
                + "（"
                + day.dt.strftime("%Y-%m-%d")
                + "，"
                + rows["reason"].astype(str)
                + "）："
                + rows[said].fillna("").astype(str),
                event_date=day,
            )
        )
    return parts
