"""Quarantine: rejected rows with their reasons in Chinese and their raw values.

ID numbers in the raw values are masked: quarantine is read by departments and
engineers, and raw IDs live only in the restricted ``pii_identity`` table.
"""

from __future__ import annotations

import json

import pandas as pd

from connectors.canonical import CanonicalBatch
from connectors.spec import SourceSpec
from validation.reasons import reason_text
from validation.suites import RowFailure

__all__ = ["mask_raw_id", "quarantine_frame", "whole_file_quarantine"]


def mask_raw_id(value: object) -> str | None:
    """Mask whatever a department typed in an ID cell: keep 6 leading and 4 trailing chars."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def _raw_json(spec: SourceSpec, raw: pd.DataFrame) -> pd.Series:
    """Raw values of each row as JSON under the department's headers, IDs masked."""
    shown = pd.DataFrame(index=raw.index)
    for col in spec.columns:
        cells = raw[col.field]
        shown[col.header] = cells.map(mask_raw_id) if col.type == "id_number" else cells
    records = shown.astype(object).where(shown.notna(), None).to_dict("records")
    return pd.Series(
        [json.dumps(r, ensure_ascii=False, default=str) for r in records], index=raw.index
    )


def quarantine_frame(spec: SourceSpec, batch: CanonicalBatch,
                     failures: list[RowFailure]) -> pd.DataFrame:
    """One row per rejected input row: row_number, reason_code(s), reason(s), raw_values."""
    parts = []
    for failure in failures:
        if len(failure.rows) == 0:
            continue
        column = spec.column(failure.field).header if failure.field else ""
        values = (batch.raw.loc[failure.rows, failure.field] if failure.field
                  else pd.Series("", index=failure.rows))
        if failure.field and spec.column(failure.field).type == "id_number":
            values = values.map(mask_raw_id)
        reasons = [reason_text(failure.reason_code, column, v) for v in values]
        parts.append(pd.DataFrame({"row_number": failure.rows, "reason_code": failure.reason_code,
                                   "reason": reasons}))
    if not parts:
        return pd.DataFrame(columns=["row_number", "reason_code", "reason", "raw_values"])
    rows = pd.concat(parts, ignore_index=True)
    grouped = rows.groupby("row_number", sort=True).agg(
        reason_code=("reason_code", lambda s: ";".join(dict.fromkeys(s))),
        reason=("reason", "；".join),
    )
    grouped["raw_values"] = _raw_json(spec, batch.raw.loc[grouped.index])
    return grouped.reset_index()


def whole_file_quarantine(spec: SourceSpec, batch: CanonicalBatch, code: str,
                          detail: str) -> pd.DataFrame:
    """Every row of a file rejected for one file-level reason (e.g. missing columns)."""
    reason = reason_text(code, value=detail)
    return pd.DataFrame({
        "row_number": batch.raw.index,
        "reason_code": code,
        "reason": reason,
        "raw_values": _raw_json(spec, batch.raw).values,
    })
