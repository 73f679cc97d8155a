"""Vectorised text kernels shared by the value typers (connectors) and the normalisers (matching).

Work is done once per distinct value (``on_distinct``, ``pd.factorize``) with pyarrow (RE2)
string kernels and numpy; these helpers are the building blocks, not a public API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

WORK = pd.StringDtype("pyarrow")  # pyarrow (RE2) kernels for every regex below

OUT = pd.StringDtype()  # "string": missing is <NA>

NS = "datetime64[ns]"

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)

CHECK_CODES = np.frombuffer(b"10X98765432", dtype=np.uint8)

ZERO = ord("0")

DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

# RE2 has no \uXXXX escapes and its \s is ASCII-only, so the characters are embedded as is.
WS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"

DASHES = "\\-\u2010-\u2015\u2212"

FULLWIDTH = "[\uff01-\uff5e\u3000]"

FW_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# Middle-dot look-alikes typed in minority names (阿依古丽·买买提); "." and "。" included because
# people without the · key type those instead.
DOTS = "\u00b7\u0387\u2022\u2027\u2219\u22c5\u30fb\uff65\u318d\u3002."

MIDDLE_DOT = "\u00b7"

YEAR_MIN, YEAR_MAX = 1800, 2200  # dates outside this range are typos, not data

SERIAL_MIN, SERIAL_MAX = 1, 80000

EXCEL_ORIGIN = np.datetime64("1899-12-30", "ns")  # Excel's 1900 system, as pandas uses it


def as_series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype):
            return values.astype(object)
        return values
    if hasattr(values, "dtype"):  # ndarray, Index, ExtensionArray: keep their dtype
        return pd.Series(values)
    return pd.Series(values, dtype=object)  # a list: keep 1.0 a float, not "1.0"


def on_distinct(
    values: Any,
    fn: Callable[[pd.Series], pd.DataFrame],
    blank: Mapping[str, Any],
) -> pd.DataFrame:
    """Run ``fn`` once per distinct non-missing value and spread the rows back.

    ``fn`` gets the distinct values (RangeIndex, original dtype) and returns a frame with one
    row per value; missing inputs (None, NaN, NaT, <NA>) get the ``blank`` row.
    """
    s = as_series(values)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    distinct = pd.Series(uniques)
    distinct.index = pd.RangeIndex(len(distinct))
    frame = fn(distinct)
    missing = codes < 0
    if missing.any():
        blank_row = pd.DataFrame(
            {k: pd.Series([blank[k]], dtype=frame[k].dtype) for k in frame.columns}
        )
        frame = pd.concat([frame, blank_row], ignore_index=True)
        codes = np.where(missing, len(frame) - 1, codes)
    out = frame.take(codes)
    out.index = s.index
    return out


def as_text(distinct: pd.Series) -> pd.Series:
    """Distinct values as pyarrow strings; integral floats lose their ".0" (Excel numbers)."""
    if pd.api.types.is_float_dtype(distinct.dtype) or (
        distinct.dtype == object and pd.api.types.infer_dtype(distinct, skipna=True) != "string"
    ):
        distinct = pd.Series([scalar_text(v) for v in distinct], dtype=object)
    return distinct.astype(WORK)


def scalar_text(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return v


def halfwidth(t: pd.Series) -> pd.Series:
    """Full-width ASCII (U+FF01-FF5E) and the ideographic space to ASCII."""
    has = t.str.contains(FULLWIDTH, regex=True).fillna(False).astype(bool)
    if not has.any():
        return t
    out = t.copy()
    # str.translate is Python-level: only the few values that need it pay for it.
    out[has] = t[has].str.translate(FW_TABLE)
    return out


def re_sub(t: pd.Series, pattern: str, repl: str) -> pd.Series:
    """Regex replace with RE2 (backreferences as \\1): pandas falls back to Python's re
    for some patterns, which costs a second per million values."""
    out = pc.replace_substring_regex(arrow(t), pattern, repl)
    return pd.Series(pd.array(out, dtype=WORK), index=t.index, name=t.name)


def blank_to_na(t: pd.Series) -> pd.Series:
    return t.astype(OUT).mask(t.str.len().fillna(0).eq(0))


def arrow(t: pd.Series) -> pa.Array:
    arr = pa.array(t.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def extract(t: pd.Series, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """RE2 named groups of the matching rows: (hit mask, group -> string array over hits).

    pandas' str.extract runs Python's re row by row even on pyarrow strings, so this calls
    pyarrow directly. A group that did not take part in the match is "".
    """
    found = pc.extract_regex(arrow(t), pattern)
    hit = found.is_valid().to_numpy(zero_copy_only=False)
    found = found.filter(pa.array(hit))
    return hit, {field.name: found.field(i) for i, field in enumerate(found.type)}


def extract_frame(t: pd.Series, pattern: str) -> pd.DataFrame:
    """Like str.extract (string columns, <NA> when no match or group unused), via pyarrow."""
    found = pc.extract_regex(arrow(t), pattern)
    out = {}
    for i, field in enumerate(found.type):
        col = pc.if_else(pc.equal(found.field(i), ""), pa.scalar(None, field.type), found.field(i))
        col = pc.if_else(found.is_valid(), col, pa.scalar(None, field.type))
        out[field.name] = pd.Series(pd.array(col, dtype=WORK), index=t.index)
    return pd.DataFrame(out, index=t.index)


def either(*cols: pa.Array) -> pa.Array:
    """First non-empty of several optional groups."""
    out = cols[0]
    for col in cols[1:]:
        out = pc.if_else(pc.equal(out, ""), col, out)
    return out


def as_int(col: pa.Array, default: int = -1) -> np.ndarray:
    col = pc.if_else(pc.equal(col, ""), pa.scalar(str(default), col.type), col)
    return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)


def as_float(col: pa.Array, default: float = 0.0) -> np.ndarray:
    col = pc.if_else(pc.equal(col, ""), pa.scalar(str(default), col.type), col)
    return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)


def byte_matrix(t: pd.Series, width: int) -> np.ndarray:
    """(n, width) uint8 matrix of ASCII strings that all have exactly ``width`` characters."""
    if len(t) == 0:
        return np.empty((0, width), dtype=np.uint8)
    arr = arrow(t).cast(pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    if data.size != len(arr) * width:  # pragma: no cover - callers filter by a fixed-width regex
        raise ValueError("byte matrix needs fixed-width ASCII strings")
    return data.reshape(len(arr), width)


def matrix_strings(mat: np.ndarray, index: pd.Index) -> pd.Series:
    """Inverse of byte_matrix: rows of ASCII codes to a string Series."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    raw = mat.view(f"S{mat.shape[1]}").ravel() if len(mat) else np.array([], dtype="S1")
    arr = pa.array(raw, type=pa.binary()).cast(pa.string())
    return pd.Series(pd.array(arr, dtype=WORK), index=index)


def check_codes(digits17: np.ndarray) -> np.ndarray:
    """ASCII code of the GB 11643 check character for each row of 17 digit values."""
    # float32 goes through BLAS (integer matmul does not); sums stay below 900, so exact.
    weighted = digits17.astype(np.float32) @ ID_WEIGHTS.astype(np.float32)
    return CHECK_CODES[weighted.astype(np.int64) % 11]


def valid_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = DAYS_IN_MONTH[np.clip(m, 1, 12) - 1] + ((m == 2) & leap)
    return (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim)


def ymd_ns(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """datetime64[ns] from valid year/month/day arrays."""
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    return (months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")).astype(NS)


def number_of(mat: np.ndarray) -> np.ndarray:
    """Digit columns (ASCII codes) to the integer they spell."""
    out = np.zeros(len(mat), dtype=np.int64)
    for col in range(mat.shape[1]):
        out = out * 10 + (mat[:, col].astype(np.int64) - ZERO)
    return out


def value_kinds(distinct: pd.Series) -> np.ndarray:
    """Per distinct value: 0 text, 1 number, 2 date/datetime object, 3 anything else."""
    n = len(distinct)
    dtype = distinct.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(n, 3, dtype=np.int8)
    if pd.api.types.is_numeric_dtype(dtype):
        return np.full(n, 1, dtype=np.int8)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return np.full(n, 2, dtype=np.int8)
    if dtype is not np.dtype(object):
        return np.zeros(n, dtype=np.int8)
    inferred = pd.api.types.infer_dtype(distinct, skipna=True)
    if inferred in ("string", "empty"):
        return np.zeros(n, dtype=np.int8)
    return np.fromiter((kind(v) for v in distinct), dtype=np.int8, count=n)


def kind(v: Any) -> int:
    if isinstance(v, str):
        return 0
    if isinstance(v, bool | np.bool_):
        return 3
    if isinstance(v, int | float | np.integer | np.floating) or type(v).__name__ == "Decimal":
        return 1
    if isinstance(v, dt.date | np.datetime64):
        return 2
    return 3


def series_name(values: Any) -> Any:
    return values.name if isinstance(values, pd.Series) else None
