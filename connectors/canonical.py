"""Map a raw table onto a source's canonical schema and type its values.

Header matching forgives what departments do to headers (surrounding spaces, full-width
parentheses, a trailing empty column). Typing never raises: a value that cannot be typed
becomes null and is marked in ``invalid`` so validation can quarantine the row with a reason.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from connectors import values as cv
from connectors.readers import RawTable
from connectors.spec import ColumnSpec, SourceSpec

__all__ = ["CanonicalBatch", "normalize_header", "to_canonical"]


def normalize_header(header: object) -> str:
    """Header as compared: NFKC (full-width to ASCII), no whitespace anywhere."""
    text = unicodedata.normalize("NFKC", str(header))
    return "".join(text.split())


@dataclass
class CanonicalBatch:
    """One file's rows in canonical fields; index = data row number (from 1)."""

    values: pd.DataFrame
    invalid: pd.DataFrame  # bool per typed field: non-blank but could not be typed
    raw: pd.DataFrame  # the cells as sent, under canonical field names
    missing_columns: list[ColumnSpec] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    extras: pd.DataFrame | None = None  # cells of the extra columns, kept as sent

    def __len__(self) -> int:
        return len(self.values)


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | series.astype("string").str.strip().fillna("").eq("")


def _type_column(col: ColumnSpec, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(typed values, invalid mask) for one column."""
    no_error = pd.Series(False, index=raw.index)
    if col.type == "id_number":
        # IDs stay as sent here; matching.normalize decides what they are.
        return raw.where(~_blank(raw), None), no_error
    if col.type == "text":
        return cv.normalize_text(raw), no_error
    if col.type == "name":
        return raw.astype("string").str.strip().where(~_blank(raw)), no_error
    if col.type == "date":
        parsed = cv.parse_dates(raw)
    elif col.type == "datetime":
        parsed = cv.parse_datetimes(raw)
    elif col.type == "month":
        parsed = cv.parse_months(raw)
    elif col.type in ("amount", "integer"):
        parsed = cv.parse_amounts(raw, multiplier=col.multiplier)
        if col.type == "integer":
            value = parsed["value"]
            # Beyond 2**53 a float no longer holds an exact integer (an ID pasted into a
            # count column, say): not a number we can use.
            unusable = value.notna() & ((value != value.round()) | (value.abs() >= 2**53))
            rounded = value.where(~unusable).round().astype("Int64")
            return rounded, parsed["invalid"] | unusable
    elif col.type == "code":
        parsed = cv.normalize_codes(raw, col.values, col.aliases)
    else:  # pragma: no cover - the spec loader rejects unknown types
        raise ValueError(col.type)
    return parsed["value"], parsed["invalid"].astype(bool)


def to_canonical(spec: SourceSpec, table: RawTable) -> CanonicalBatch:
    """Rename the department's headers to canonical fields and type every value."""
    frame = table.frame
    by_header = {}
    for raw_header in frame.columns:
        key = normalize_header(raw_header)
        if key and not key.startswith("Unnamed:"):
            by_header.setdefault(key, raw_header)
    expected = {normalize_header(c.header): c for c in spec.columns}
    missing = [c for key, c in expected.items() if key not in by_header]
    extra = [h for key, h in by_header.items() if key not in expected]

    index = frame.index
    raw = pd.DataFrame(index=index)
    values = pd.DataFrame(index=index)
    invalid = pd.DataFrame(index=index)
    for key, col in expected.items():
        if key in by_header:
            cells = frame[by_header[key]]
        else:
            cells = pd.Series(None, index=index, dtype=object)
        raw[col.field] = cells
        values[col.field], invalid[col.field] = _type_column(col, cells.astype(object))
    extras = frame[extra] if extra else None
    return CanonicalBatch(values, invalid, raw, missing, extra, extras)
