"""How a rule states what it found: signal rows with their evidence.

Every rule returns frames of ``SIGNAL_COLUMNS`` (plus ``gap`` and ``risk_code``), built by
``_signals`` from the rows it hit, so the evidence points at a staged row (source, load,
row number).
"""

from __future__ import annotations

import pandas as pd

SIGNAL_COLUMNS = [
    "household_no",
    "rule_id",
    "source_id",
    "load_id",
    "row_number",
    "record_key",
    "event_date",
    "value",
    "threshold",
    "evidence",
]


def _signals(
    frame: pd.DataFrame,
    rule_id: str,
    value,
    threshold,
    evidence,
    event_date=None,
    gap=False,
    risk_code=None,
) -> pd.DataFrame:
    """Signals of the frame's rows. ``gap``: this signal is a 三保障/water gap (red on its
    own); signals of a rule listed in ``gap_rules`` are gaps whatever is passed here.
    ``risk_code``: the national risk type when the row decides it (a lead's reason, the
    largest rigid cost); None takes the rule's type (``risk_of_rule``)."""
    out = pd.DataFrame(
        {
            "household_no": frame["household_no"].to_numpy(),
            "rule_id": rule_id,
            "source_id": frame["source_id"].to_numpy(),
            "load_id": frame["load_id"].to_numpy(),
            "row_number": frame["row_number"].to_numpy(),
            "record_key": frame["record_key"].to_numpy(),
        }
    )
    for name, val in (
        ("value", value),
        ("threshold", threshold),
        ("evidence", evidence),
        ("event_date", event_date),
        ("gap", gap),
        ("risk_code", risk_code),
    ):
        out[name] = val.to_numpy() if isinstance(val, pd.Series) else val
    return out


def _fmt(values: pd.Series) -> pd.Series:
    return values.round(0).astype("Int64").astype("string")
