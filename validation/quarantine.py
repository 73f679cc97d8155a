"""Quarantine: rejected rows with their reasons in Chinese and their raw values.

ID numbers in the raw values are masked: quarantine is read by departments and
engineers, and raw IDs live only in the restricted ``pii_identity`` table.
"""

from __future__ import annotations

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
        cells = raw[col.field].astype(object)
        shown[col.header] = cells.map(mask_raw_id) if col.type == "id_number" else cells
    if shown.empty:
        return pd.Series([], index=raw.index, dtype=object)
    lines = shown.to_json(
        orient="records", lines=True, force_ascii=False, date_format="iso", default_handler=str
    ).splitlines()
    return pd.Series(lines, index=raw.index)


def _reasons(code: str, column: str, values: pd.Series) -> pd.Series:
    """The Chinese reason for each value, formatted once per distinct value."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    return text.map({v: reason_text(code, column, v) for v in text.unique()})


def quarantine_frame(
    spec: SourceSpec, batch: CanonicalBatch, failures: list[RowFailure]
) -> pd.DataFrame:
    """One row per rejected input row: row_number, reason_code(s), reason(s), raw_values."""
    parts = []
    for failure in failures:
        if len(failure.rows) == 0:
            continue
        column = spec.column(failure.field).header if failure.field else ""
        if failure.field:
            values = batch.raw.loc[failure.rows, failure.field]
            if spec.column(failure.field).type == "id_number":
                values = values.map(mask_raw_id)
        else:
            values = pd.Series("", index=failure.rows)
        parts.append(
            pd.DataFrame(
                {
                    "row_number": failure.rows,
                    "reason_code": failure.reason_code,
                    "reason": _reasons(failure.reason_code, column, values).values,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["row_number", "reason_code", "reason", "raw_values"])
    rows = pd.concat(parts, ignore_index=True)
    codes = (
        rows.drop_duplicates(["row_number", "reason_code"])
        .groupby("row_number", sort=True)["reason_code"]
        .agg(";".join)
    )
    reasons = rows.groupby("row_number", sort=True)["reason"].agg("；".join)
    grouped = pd.DataFrame({"reason_code": codes, "reason": reasons})
    grouped["raw_values"] = _raw_json(spec, batch.raw.loc[grouped.index])
    return grouped.rename_axis("row_number").reset_index()


def whole_file_quarantine(
    spec: SourceSpec, batch: CanonicalBatch, code: str, detail: str
) -> pd.DataFrame:
    """Every row of a file rejected for one file-level reason (e.g. missing columns)."""
    reason = reason_text(code, value=detail)
    return pd.DataFrame(
        {
            "row_number": batch.raw.index,
            "reason_code": code,
            "reason": reason,
            "raw_values": _raw_json(spec, batch.raw).values,
        }
    )
