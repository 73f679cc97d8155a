"""Vectorised normalisers for department values: ID numbers, names, dates, amounts, codes.

Every function takes a pandas Series (object or string dtype; None, NaN and numbers allowed)
and returns a Series or DataFrame on the same index. Work is done once per distinct value
(``pd.factorize``) with pyarrow string kernels and numpy; the few Python-level conversions
(opencc t2s, pypinyin) only ever see distinct values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ID_STATUS",
    "MIN_BIRTH_DATE",
    "birth_date_from_id",
    "id_from_disability_card",
    "id_from_student_no",
    "mask_id",
    "name_pinyin",
    "normalize_codes",
    "normalize_id_numbers",
    "normalize_names",
    "normalize_text",
    "parse_amounts",
    "parse_dates",
    "parse_datetimes",
    "parse_months",
    "sex_from_id",
]

ID_STATUS = ("valid", "repaired_15", "invalid_check", "mangled", "malformed", "blank")
_VALID, _REPAIRED, _INVALID_CHECK, _MANGLED, _MALFORMED, _BLANK = range(len(ID_STATUS))

# Oldest birth date accepted inside an 18-digit ID. GB 11643-1999's own example,
# 440524188001010014, is born 1880-01-01.
MIN_BIRTH_DATE = dt.date(1880, 1, 1)

_WORK = pd.StringDtype("pyarrow")  # pyarrow (RE2) kernels for every regex below
_OUT = pd.StringDtype()  # "string": missing is <NA>
_NS = "datetime64[ns]"

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CODES = np.frombuffer(b"10X98765432", dtype=np.uint8)
_ZERO = ord("0")
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

# RE2 has no \uXXXX escapes and its \s is ASCII-only, so the characters are embedded as is.
_WS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
_DASHES = "\\-\u2010-\u2015\u2212"
_FULLWIDTH = "[\uff01-\uff5e\u3000]"
_FW_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Middle-dot look-alikes typed in minority names (阿依古丽·买买提); "." and "。" included because
# people without the · key type those instead.
_DOTS = "\u00b7\u0387\u2022\u2027\u2219\u22c5\u30fb\uff65\u318d\u3002."
_MIDDLE_DOT = "\u00b7"

_YEAR_MIN, _YEAR_MAX = 1800, 2200  # dates outside this range are typos, not data
_SERIAL_MIN, _SERIAL_MAX = 1, 80000
_EXCEL_ORIGIN = np.datetime64("1899-12-30", "ns")  # Excel's 1900 system, as pandas uses it


# --------------------------------------------------------------------------- helpers


def _as_series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype):
            return values.astype(object)
        return values
    if hasattr(values, "dtype"):  # ndarray, Index, ExtensionArray: keep their dtype
        return pd.Series(values)
    return pd.Series(values, dtype=object)  # a list: keep 1.0 a float, not "1.0"


def _on_distinct(
    values: Any,
    fn: Callable[[pd.Series], pd.DataFrame],
    blank: Mapping[str, Any],
) -> pd.DataFrame:
    """Run ``fn`` once per distinct non-missing value and spread the rows back.

    ``fn`` gets the distinct values (RangeIndex, original dtype) and returns a frame with one
    row per value; missing inputs (None, NaN, NaT, <NA>) get the ``blank`` row.
    """
    s = _as_series(values)
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


def _text(distinct: pd.Series) -> pd.Series:
    """Distinct values as pyarrow strings; integral floats lose their ".0" (Excel numbers)."""
    if pd.api.types.is_float_dtype(distinct.dtype) or (
        distinct.dtype == object and pd.api.types.infer_dtype(distinct, skipna=True) != "string"
    ):
        distinct = pd.Series([_scalar_text(v) for v in distinct], dtype=object)
    return distinct.astype(_WORK)


def _scalar_text(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return v


def _halfwidth(t: pd.Series) -> pd.Series:
    """Full-width ASCII (U+FF01-FF5E) and the ideographic space to ASCII."""
    has = t.str.contains(_FULLWIDTH, regex=True).fillna(False).astype(bool)
    if not has.any():
        return t
    out = t.copy()
    # str.translate is Python-level: only the few values that need it pay for it.
    out[has] = t[has].str.translate(_FW_TABLE)
    return out


def _sub(t: pd.Series, pattern: str, repl: str) -> pd.Series:
    """Regex replace with RE2 (backreferences as \\1): pandas falls back to Python's re
    for some patterns, which costs a second per million values."""
    out = pc.replace_substring_regex(_arrow(t), pattern, repl)
    return pd.Series(pd.array(out, dtype=_WORK), index=t.index, name=t.name)


def _blank_to_na(t: pd.Series) -> pd.Series:
    return t.astype(_OUT).mask(t.str.len().fillna(0).eq(0))


def _arrow(t: pd.Series) -> pa.Array:
    arr = pa.array(t.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _extract(t: pd.Series, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """RE2 named groups of the matching rows: (hit mask, group -> string array over hits).

    pandas' str.extract runs Python's re row by row even on pyarrow strings, so this calls
    pyarrow directly. A group that did not take part in the match is "".
    """
    found = pc.extract_regex(_arrow(t), pattern)
    hit = found.is_valid().to_numpy(zero_copy_only=False)
    found = found.filter(pa.array(hit))
    return hit, {field.name: found.field(i) for i, field in enumerate(found.type)}


def _extract_frame(t: pd.Series, pattern: str) -> pd.DataFrame:
    """Like str.extract (string columns, <NA> when no match or group unused), via pyarrow."""
    found = pc.extract_regex(_arrow(t), pattern)
    out = {}
    for i, field in enumerate(found.type):
        col = pc.if_else(pc.equal(found.field(i), ""), pa.scalar(None, field.type), found.field(i))
        col = pc.if_else(found.is_valid(), col, pa.scalar(None, field.type))
        out[field.name] = pd.Series(pd.array(col, dtype=_WORK), index=t.index)
    return pd.DataFrame(out, index=t.index)


def _either(*cols: pa.Array) -> pa.Array:
    """First non-empty of several optional groups."""
    out = cols[0]
    for col in cols[1:]:
        out = pc.if_else(pc.equal(out, ""), col, out)
    return out


def _as_int(col: pa.Array, default: int = -1) -> np.ndarray:
    col = pc.if_else(pc.equal(col, ""), pa.scalar(str(default), col.type), col)
    return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)


def _as_float(col: pa.Array, default: float = 0.0) -> np.ndarray:
    col = pc.if_else(pc.equal(col, ""), pa.scalar(str(default), col.type), col)
    return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)


def _byte_matrix(t: pd.Series, width: int) -> np.ndarray:
    """(n, width) uint8 matrix of ASCII strings that all have exactly ``width`` characters."""
    if len(t) == 0:
        return np.empty((0, width), dtype=np.uint8)
    arr = _arrow(t).cast(pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    if data.size != len(arr) * width:  # pragma: no cover - callers filter by a fixed-width regex
        raise ValueError("byte matrix needs fixed-width ASCII strings")
    return data.reshape(len(arr), width)


def _matrix_strings(mat: np.ndarray, index: pd.Index) -> pd.Series:
    """Inverse of _byte_matrix: rows of ASCII codes to a string Series."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    raw = mat.view(f"S{mat.shape[1]}").ravel() if len(mat) else np.array([], dtype="S1")
    arr = pa.array(raw, type=pa.binary()).cast(pa.string())
    return pd.Series(pd.array(arr, dtype=_WORK), index=index)


def _check_codes(digits17: np.ndarray) -> np.ndarray:
    """ASCII code of the GB 11643 check character for each row of 17 digit values."""
    # float32 goes through BLAS (integer matmul does not); sums stay below 900, so exact.
    weighted = digits17.astype(np.float32) @ _ID_WEIGHTS.astype(np.float32)
    return _CHECK_CODES[weighted.astype(np.int64) % 11]


def _valid_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _DAYS_IN_MONTH[np.clip(m, 1, 12) - 1] + ((m == 2) & leap)
    return (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim)


def _ymd_ns(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """datetime64[ns] from valid year/month/day arrays."""
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    return (months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")).astype(_NS)


def _number_of(mat: np.ndarray) -> np.ndarray:
    """Digit columns (ASCII codes) to the integer they spell."""
    out = np.zeros(len(mat), dtype=np.int64)
    for col in range(mat.shape[1]):
        out = out * 10 + (mat[:, col].astype(np.int64) - _ZERO)
    return out


def _as_of_int(as_of: Any) -> int:
    day = dt.date.today() if as_of is None else pd.Timestamp(as_of).date()
    return day.year * 10000 + day.month * 100 + day.day


def _kinds(distinct: pd.Series) -> np.ndarray:
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
    return np.fromiter((_kind(v) for v in distinct), dtype=np.int8, count=n)


def _kind(v: Any) -> int:
    if isinstance(v, str):
        return 0
    if isinstance(v, bool | np.bool_):
        return 3
    if isinstance(v, int | float | np.integer | np.floating) or type(v).__name__ == "Decimal":
        return 1
    if isinstance(v, dt.date | np.datetime64):
        return 2
    return 3


# --------------------------------------------------------------------------- ID numbers


# Excel's scientific display of an 18-digit (E+17) or 15-digit (E+14) ID.
_SCI_RE = r"^(?P<lead>[0-9])(?:\.(?P<frac>[0-9]+))?E\+?(?P<exp>14|17)$"


def _clean_id_text(t: pd.Series) -> pd.Series:
    """Strip, full-width to ASCII, drop Excel text guards, spaces and dashes; uppercase."""
    t = _halfwidth(t)
    # ="3605..." and a leading apostrophe are the usual tricks to stop Excel eating the ID.
    t = _sub(t, r'^\s*="(.*)"\s*$', r"\1")
    t = _sub(t, f"[{_WS}{_DASHES}]+", "")
    t = _sub(t, "^['`\u2018\u2019]+", "")
    return t.str.upper()


def normalize_id_numbers(values: pd.Series, *, as_of: Any = None) -> pd.DataFrame:
    """Columns (same index): id18, id_status (one of ID_STATUS), id_prefix.

    ``id18`` is set for valid and repaired_15 only. ``id_prefix`` holds the digits still
    trustworthy for fuzzy matching, in the 18-digit layout: id18 for valid/repaired_15, the 18
    characters as given for invalid_check, the first (up to 15) significant digits for
    mangled, <NA> for malformed/blank.

    An 18-character ID whose check character is right but whose birth date is impossible,
    before MIN_BIRTH_DATE or after ``as_of`` (default: today; the pipeline passes its run
    date) is *malformed*: a single typo or an adjacent transposition always breaks the check,
    so such a value is not a typo of a real ID. With a wrong check character the ID stays
    *invalid_check* whatever the date, since the typo may well be in the date.
    """
    as_of_int = _as_of_int(as_of)
    return _on_distinct(
        values,
        lambda u: _normalize_id_distinct(u, as_of_int),
        {"id18": pd.NA, "id_status": "blank", "id_prefix": pd.NA},
    )


def _normalize_id_distinct(distinct: pd.Series, as_of_int: int) -> pd.DataFrame:
    # Plain str() of numbers on purpose: a float ID renders as "3.605021985030712e+17",
    # which the Excel-notation rule below recognises as mangled.
    t = _clean_id_text(distinct.astype(_WORK))
    n = len(t)
    status = np.full(n, _MALFORMED, dtype=np.int8)
    id18 = pd.Series(pd.NA, index=t.index, dtype=_WORK)
    prefix = pd.Series(pd.NA, index=t.index, dtype=_WORK)
    open_ = np.ones(n, dtype=bool)  # not decided yet

    blank = t.str.len().eq(0).to_numpy(dtype=bool)
    status[blank] = _BLANK
    open_ &= ~blank

    # Excel scientific notation: 3.60502E+17 (18-digit ID) or 3.60502E+14 (15-digit ID).
    has_e = open_ & t.str.contains("E", regex=False).to_numpy(dtype=bool)
    if has_e.any():
        sci = _extract_frame(t[has_e], _SCI_RE)
        ok = sci["lead"].notna()
        sci = sci[ok]
        digits = sci["lead"] + sci["frac"].fillna("")
        exact = digits.str.len() == sci["exp"].astype(int) + 1
        # Every digit present: the number is exact, so treat it as the plain digits.
        t.loc[exact[exact].index] = digits[exact]
        lossy = exact[~exact].index
        lossy_digits = digits[lossy].str.slice(0, 15)
        old_form = (sci.loc[lossy, "exp"] == "14") & (lossy_digits.str.len() > 6)
        # Prefixes live in the 18-digit layout: a 15-digit ID gets "19" after its address code.
        lossy_digits[old_form] = (
            lossy_digits[old_form].str.slice(0, 6) + "19" + lossy_digits[old_form].str.slice(6)
        )
        idx = lossy.to_numpy()
        status[idx] = _MANGLED
        prefix.loc[lossy] = lossy_digits
        open_[idx] = False

    # Float text: "360502198503071000.0" is mangled; "360502850307123.0" (15 digits fit a
    # float exactly) is just an old ID.
    has_dot = open_ & t.str.contains(".", regex=False).to_numpy(dtype=bool)
    if has_dot.any():
        sub = t[has_dot]
        float18 = sub.str.fullmatch(r"[0-9]{18}\.[0-9]*").to_numpy(dtype=bool)
        idx = sub.index[float18]
        status[idx] = _MANGLED
        prefix.loc[idx] = sub[float18].str.slice(0, 15)
        open_[idx] = False
        float15 = sub.str.fullmatch(r"[0-9]{15}\.0*").to_numpy(dtype=bool)
        t.loc[sub.index[float15]] = sub[float15].str.slice(0, 15)

    m18 = open_ & t.str.fullmatch(r"[0-9]{17}[0-9X]").to_numpy(dtype=bool)
    if m18.any():
        idx = np.flatnonzero(m18)
        mat = _byte_matrix(t[m18], 18)
        check_ok = _check_codes(mat[:, :17].astype(np.int16) - _ZERO) == mat[:, 17]
        y, m, d = _number_of(mat[:, 6:10]), _number_of(mat[:, 10:12]), _number_of(mat[:, 12:14])
        ymd = y * 10000 + m * 100 + d
        min_int = MIN_BIRTH_DATE.year * 10000 + MIN_BIRTH_DATE.month * 100 + MIN_BIRTH_DATE.day
        date_ok = _valid_ymd(y, m, d) & (ymd >= min_int) & (ymd <= as_of_int)
        zeroed = (mat[:, 15:] == _ZERO).all(axis=1)
        st = np.where(
            check_ok,
            np.where(date_ok, _VALID, _MALFORMED),
            np.where(zeroed, _MANGLED, _INVALID_CHECK),
        ).astype(np.int8)
        status[idx] = st
        given = t[m18]
        id18.loc[idx[st == _VALID]] = given[st == _VALID]
        prefix.loc[idx[st == _VALID]] = given[st == _VALID]
        prefix.loc[idx[st == _INVALID_CHECK]] = given[st == _INVALID_CHECK]
        prefix.loc[idx[st == _MANGLED]] = given[st == _MANGLED].str.slice(0, 15)

    m15 = open_ & t.str.fullmatch(r"[0-9]{15}").to_numpy(dtype=bool)
    if m15.any():
        idx = np.flatnonzero(m15)
        mat = _byte_matrix(t[m15], 15)
        y = 1900 + _number_of(mat[:, 6:8])
        ok = _valid_ymd(y, _number_of(mat[:, 8:10]), _number_of(mat[:, 10:12]))
        body = np.concatenate(
            [mat[ok, :6], np.full((ok.sum(), 2), [ord("1"), ord("9")], np.uint8), mat[ok, 6:]],
            axis=1,
        )
        full = np.concatenate([body, _check_codes(body.astype(np.int16) - _ZERO)[:, None]], axis=1)
        repaired = _matrix_strings(full, pd.Index(idx[ok]))
        status[idx[ok]] = _REPAIRED
        id18.loc[repaired.index] = repaired
        prefix.loc[repaired.index] = repaired

    return pd.DataFrame(
        {
            "id18": id18.astype(_OUT),
            "id_status": pd.array(np.array(ID_STATUS, dtype=object)[status], dtype=_OUT),
            "id_prefix": prefix.astype(_OUT),
        }
    )


def id_from_disability_card(values: pd.Series) -> pd.Series:
    """The ID part of a 残疾人证号 (ID number + 2 digits: category, grade), cleaned.

    Feed the result to normalize_id_numbers. A value that is already just an ID is kept;
    Excel forms of the 20-digit number keep their mangled shape (exponent minus 2).
    """

    def fn(distinct: pd.Series) -> pd.DataFrame:
        t = _clean_id_text(distinct.astype(_WORK))
        card = _extract_frame(t, r"^(?P<id>[0-9]{17}[0-9X]|[0-9]{15})[0-9]{2}$")["id"]
        t = card.fillna(t)
        # 3.60502E+19 -> 3.60502E+17; 36050219850307100000.0 -> 360502198503071000.0
        t = _sub(t, r"^([0-9](?:\.[0-9]+)?E\+?)19$", r"\117")  # RE2: group 1, then "17"
        t = _sub(t, r"^([0-9](?:\.[0-9]+)?E\+?)16$", r"\114")
        t = _sub(t, r"^([0-9]{18})[0-9]{2}(\.0*)$", r"\1\2")
        return pd.DataFrame({"id": _blank_to_na(t)})

    return _on_distinct(values, fn, {"id": pd.NA})["id"].rename(_name_of(values))


def id_from_student_no(values: pd.Series) -> pd.Series:
    """The ID part of a 学籍号 ("G" + ID number), cleaned, for normalize_id_numbers.

    A value without the G is kept (it may be the bare ID). "L" numbers are temporary numbers
    of students without an ID: <NA>.
    """

    def fn(distinct: pd.Series) -> pd.DataFrame:
        t = _clean_id_text(distinct.astype(_WORK))
        t = t.mask(t.str.startswith("L"), "")
        t = _sub(t, r"^G", "")
        return pd.DataFrame({"id": _blank_to_na(t)})

    return _on_distinct(values, fn, {"id": pd.NA})["id"].rename(_name_of(values))


def _name_of(values: Any) -> Any:
    return values.name if isinstance(values, pd.Series) else None


def mask_id(id18: pd.Series) -> pd.Series:
    """Masked ID for display, "360502********123X": first 6, 8 stars, last 4; <NA> stays <NA>.

    Values shorter than 14 characters (so fewer than 4 would be hidden) become "********".
    """
    s = _as_series(id18)
    t = s.astype(_WORK).str.strip()
    masked = t.str.slice(0, 6) + "********" + t.str.slice(-4)
    out = masked.where(t.str.len() >= 14, "********").where(t.str.len() > 0)
    return out.astype(_OUT).rename(s.name)


def _id18_parts(id18: Any) -> tuple[pd.Series, pd.Series]:
    s = _as_series(id18)
    t = s.astype(_WORK).str.strip().str.upper()
    return s, t.where(t.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).astype(bool))


def birth_date_from_id(id18: pd.Series) -> pd.Series:
    """Birth date (datetime64[ns]) of 18-character IDs; NaT when missing or not an id18."""
    s, t = _id18_parts(id18)
    born = pd.to_datetime(t.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    return pd.Series(born.to_numpy(dtype=_NS), index=s.index, name=s.name)


def sex_from_id(id18: pd.Series) -> pd.Series:
    """Sex from the 17th digit: odd "男", even "女"; <NA> when missing or not an id18."""
    s, t = _id18_parts(id18)
    digit = pd.to_numeric(t.str.slice(16, 17), errors="coerce")
    odd = (digit.fillna(0).astype("int64") % 2 == 1).to_numpy(dtype=bool)
    out = pd.Series(np.where(odd, "男", "女"), index=s.index, dtype=_OUT)
    return out.where(digit.notna().to_numpy(dtype=bool)).rename(s.name)


# --------------------------------------------------------------------------- names


@lru_cache(maxsize=1)
def _t2s() -> tuple[Callable[[str], str], str | None]:
    """opencc t2s converter and a regex matching every dictionary entry it would change."""
    import re

    from opencc import OpenCC

    cc = OpenCC("t2s")
    cc.convert("")  # loads the dictionaries
    try:
        changing = {
            key
            for group in cc._dict_chain_data
            for _, _, mapping in (group if isinstance(group, list) else [group])
            for key, value in mapping.items()
            if value != key
        }
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - library internals moved
        return cc.convert, None
    # t2s replaces dictionary entries found in the text; entries that map to themselves
    # change nothing. A name holding no changing entry (character or phrase) comes out as
    # it went in: skip the Python call (most names: it is the slow part of normalising).
    chars = sorted(k for k in changing if len(k) == 1)
    phrases = sorted((k for k in changing if len(k) > 1), key=len, reverse=True)
    escaped = "".join("\\" + c if c in "\\]^-[" else c for c in chars)
    return cc.convert, "|".join([f"[{escaped}]", *map(re.escape, phrases)])


def normalize_names(values: pd.Series) -> pd.Series:
    """Names for matching: no spaces, half-width ASCII, simplified characters, one middle dot.

    Traditional -> simplified uses opencc t2s (never s2t). Blank -> <NA>.
    """
    return _on_distinct(
        values, lambda u: pd.DataFrame({"name": _names_distinct(u)}), {"name": pd.NA}
    )["name"].rename(_name_of(values))


def _names_distinct(distinct: pd.Series) -> pd.Series:
    t = _halfwidth(_text(distinct))
    t = _sub(t, f"[{_WS}]+", "")
    t = _sub(t, f"[{_DOTS}]+", _MIDDLE_DOT).str.strip(_MIDDLE_DOT)
    convert, touched = _t2s()
    todo = (
        t.str.contains(touched, regex=True).fillna(False).astype(bool)
        if touched
        else t.str.len().gt(0)
    )
    if todo.any():
        t = t.copy()
        t[todo] = [convert(v) for v in t[todo]]
    return _blank_to_na(t)


# Surnames whose reading as a surname differs from pypinyin's default. Compound surnames are
# matched first; 单于 is left out on purpose: 单 + a given name starting with 于 is far commoner.
_SURNAME_PINYIN = {
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "澹台": "tantai",
    "乐正": "yuezheng",
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "覃": "qin",
    "查": "zha",
    "盖": "ge",
    "缪": "miao",
    "乐": "yue",
    "召": "shao",
    "种": "chong",
    "秘": "bi",
    "员": "yun",
    "黑": "he",
    "句": "gou",
    "繁": "po",
    "么": "yao",
    "贲": "ben",
    "郇": "huan",
    "隗": "wei",
    "宿": "su",
    "能": "nai",
    "翟": "zhai",
    "祭": "zhai",
    "眭": "sui",
    "阚": "kan",
    "柏": "bai",
    "沈": "shen",
    "纪": "ji",
    "任": "ren",
}


def name_pinyin(names: pd.Series) -> pd.Series:
    """Toneless pinyin of the normalised name, syllables joined (张伟, 章伟 -> "zhangwei").

    The surname (first one or two characters) is read from a table of special readings
    (单 shan, 曾 zeng, 区 ou, 尉迟 yuchi, ...). Only a-z are kept, so "·" and spaces vanish
    and Latin letters are lowercased; ü is written "v" (吕 -> lv). <NA> when nothing is left.
    """
    normalised = normalize_names(names)
    return _on_distinct(
        normalised, lambda u: pd.DataFrame({"py": _pinyin_distinct(u)}), {"py": pd.NA}
    )["py"].rename(_name_of(names))


def _pinyin_distinct(distinct: pd.Series) -> pd.Series:
    from pypinyin import Style, lazy_pinyin

    def one(name: str) -> str:
        for size in (2, 1):
            head = _SURNAME_PINYIN.get(name[:size])
            if head is not None:
                return head + "".join(lazy_pinyin(name[size:], style=Style.NORMAL))
        return "".join(lazy_pinyin(name, style=Style.NORMAL))

    t = distinct.astype(_WORK).reset_index(drop=True)
    out = np.full(len(t), None, dtype=object)
    fast, head, rest = _pinyin_fast_path(t)
    if fast.any():
        out[fast] = head[fast] + _pinyin_by_char(
            rest[fast], lambda c: lazy_pinyin(c, style=Style.NORMAL)
        )
    slow = np.flatnonzero(~fast & t.notna().to_numpy(dtype=bool))
    out[slow] = [one(v) for v in t.iloc[slow]]
    py = pd.Series(out, index=distinct.index, dtype=_WORK)
    return _blank_to_na(_sub(py.str.lower(), "[^a-z]+", ""))


# Han characters only, after the surname: up to this many go the vectorised way.
_FAST_REST = 4


def _pinyin_fast_path(t: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names whose pinyin is the characters' own readings joined: (mask, surname pinyin,
    the rest of the name). lazy_pinyin reads a character differently only inside a word
    of its phrase dictionary, so a name with no such word in it needs no segmentation.
    """
    n = len(t)
    head = np.full(n, "", dtype=object)
    rest = t.copy()
    done = np.zeros(n, dtype=bool)
    for size in (2, 1):  # compound surnames first, as one() does
        table = {k: v for k, v in _SURNAME_PINYIN.items() if len(k) == size}
        sur = t.str.slice(0, size)
        hit = sur.isin(list(table)).fillna(False).to_numpy(dtype=bool) & ~done
        if hit.any():
            head[hit] = sur[hit].map(table).to_numpy(dtype=object)
            rest[hit] = t[hit].str.slice(size)
            done |= hit
    size = rest.str.len()
    fast = rest.str.fullmatch("[\u4e00-\u9fff]*").fillna(False).to_numpy(dtype=bool) & size.le(
        _FAST_REST
    ).fillna(False).to_numpy(dtype=bool)
    phrases = _phrase_set()
    for start in range(_FAST_REST - 1):
        for stop in range(start + 2, _FAST_REST + 1):
            word = rest.str.slice(start, stop).where((size >= stop).fillna(False))
            hit = pc.is_in(_arrow(word), value_set=phrases)
            fast &= ~np.asarray(hit.fill_null(False), dtype=bool)
    return fast, head, rest.to_numpy(dtype=object, na_value="")


@lru_cache(maxsize=1)
def _phrase_set() -> pa.Array:
    from pypinyin.constants import PHRASES_DICT

    return pa.array(list(PHRASES_DICT), type=pa.string())


def _pinyin_by_char(names: np.ndarray, reading: Callable[[str], list[str]]) -> np.ndarray:
    """Join each character's reading, looked up once per distinct character."""
    width = max((len(v) for v in names), default=0)
    if width == 0:
        return np.full(len(names), "", dtype=object)
    points = np.asarray(names.astype(str), dtype=f"U{width}").view(np.uint32)
    points = points.reshape(len(names), width)
    uniq, inv = np.unique(points, return_inverse=True)
    table = np.array(
        ["" if cp == 0 else "".join(reading(chr(cp))) for cp in uniq.tolist()], dtype=object
    )
    inv = inv.reshape(points.shape)
    out = table[inv[:, 0]]
    for k in range(1, width):
        out = out + table[inv[:, k]]
    return out


# --------------------------------------------------------------------------- dates

_DATE_RE = (
    r"^(?P<y>[0-9]{4})"
    r"(?:\s*[-/.年]\s*(?P<m>[0-9]{1,2})\s*[-/.月]\s*(?P<d>[0-9]{1,2})(?:\s*[日号])?"
    r"|(?P<m2>[0-9]{2})(?P<d2>[0-9]{2}))"
    r"(?:(?:\s*T\s*|\s+)(?P<H>[0-9]{1,2})\s*[:时]\s*(?P<M>[0-9]{1,2})"
    r"(?:\s*[:分]\s*(?P<S>[0-9]{1,2}(?:\.[0-9]+)?)\s*秒?)?"
    r"|(?P<H2>[0-9]{2})(?P<M2>[0-9]{2})(?P<S2>[0-9]{2}))?$"
)
_MONTH_RE = r"^(?P<y>[0-9]{4})(?:\s*[-/.年]\s*(?P<m>[0-9]{1,2})\s*月?|(?P<m2>[0-9]{2}))$"
_SERIAL_RE = r"^[0-9]+(?:\.[0-9]+)?$"


def _temporal(values: Any, *, excel_serial: bool, keep_time: bool, months: bool) -> pd.DataFrame:
    def fn(distinct: pd.Series) -> pd.DataFrame:
        value, invalid = _temporal_distinct(distinct, excel_serial, keep_time, months)
        return pd.DataFrame({"value": pd.Series(value, dtype=_NS), "invalid": invalid})

    return _on_distinct(values, fn, {"value": pd.NaT, "invalid": False})


def _temporal_distinct(
    distinct: pd.Series, excel_serial: bool, keep_time: bool, months: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(distinct)
    value = np.full(n, np.datetime64("NaT"), dtype=_NS)
    invalid = np.zeros(n, dtype=bool)
    kinds = _kinds(distinct)

    objs = np.flatnonzero(kinds == 2)
    if len(objs):
        value[objs] = [_timestamp(v) for v in distinct.iloc[objs]]
        invalid[objs] = np.isnat(value[objs])
    invalid[kinds == 3] = True

    texty = np.flatnonzero(kinds <= 1)
    if len(texty):
        sub = distinct.iloc[texty]
        sub.index = pd.RangeIndex(len(sub))
        v, bad = _temporal_text(_text(sub), excel_serial, keep_time, months)
        value[texty], invalid[texty] = v, bad

    if months:
        value = value.astype("datetime64[M]").astype(_NS)
    elif not keep_time:
        value = value.astype("datetime64[D]").astype(_NS)
    return value, invalid


def _timestamp(v: Any) -> np.datetime64:
    try:
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)  # wall-clock time as the department wrote it
        # Checked before the cast: numpy wraps out-of-range years to nonsense silently.
        if not _YEAR_MIN <= ts.year <= _YEAR_MAX:
            return np.datetime64("NaT", "ns")
        return ts.to_datetime64().astype(_NS)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return np.datetime64("NaT", "ns")


def _temporal_text(
    t: pd.Series, excel_serial: bool, keep_time: bool, months: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(t)
    t = _halfwidth(t).str.strip()
    # "19850307.0" / "202603.0": a number column that went through float on the way.
    t = _sub(t, r"^([0-9]+)\.0+$", r"\1")
    value = np.full(n, np.datetime64("NaT"), dtype=_NS)
    open_ = t.str.len().gt(0).to_numpy(dtype=bool)
    blank = ~open_

    if months:
        where = np.flatnonzero(open_)
        hit, g = _extract(t.iloc[where], _MONTH_RE)
        if hit.any():
            idx = where[hit]
            y, m = _as_int(g["y"]), _as_int(_either(g["m"], g["m2"]))
            ok = _valid_ymd(y, m, np.ones_like(y)) & (y >= _YEAR_MIN) & (y <= _YEAR_MAX)
            value[idx[ok]] = _ymd_ns(y[ok], m[ok], np.ones(ok.sum(), dtype=np.int64))
            open_[idx] = False

    if open_.any():
        where = np.flatnonzero(open_)
        hit, g = _extract(t.iloc[where], _DATE_RE)
        if hit.any():
            idx = where[hit]
            y = _as_int(g["y"])
            m = _as_int(_either(g["m"], g["m2"]))
            d = _as_int(_either(g["d"], g["d2"]))
            hh = _as_int(_either(g["H"], g["H2"]), 0)
            mi = _as_int(_either(g["M"], g["M2"]), 0)
            sec = _as_float(_either(g["S"], g["S2"]), 0.0)
            ok = (
                _valid_ymd(y, m, d)
                & (y >= _YEAR_MIN)
                & (y <= _YEAR_MAX)
                & (hh <= 23)
                & (mi <= 59)
                & (sec < 60)
            )
            stamp = _ymd_ns(y[ok], m[ok], d[ok])
            if keep_time:
                nanos = (hh[ok] * 3600 + mi[ok] * 60) * 10**9 + np.round(sec[ok] * 1e9)
                stamp = stamp + nanos.astype(np.int64).astype("timedelta64[ns]")
            value[idx[ok]] = stamp
            open_[idx] = False

    if excel_serial and open_.any():
        where = np.flatnonzero(open_)
        sub = t.iloc[where]
        num = sub.str.fullmatch(_SERIAL_RE).to_numpy(dtype=bool)
        serial = pc.cast(_arrow(sub[num]), pa.float64()).to_numpy(zero_copy_only=False)
        ok = (serial >= _SERIAL_MIN) & (serial <= _SERIAL_MAX)
        idx = where[num][ok]
        serial = serial[ok]
        days = np.floor(serial)
        stamp = _EXCEL_ORIGIN + days.astype(np.int64).astype("timedelta64[D]")
        if keep_time:
            # Round to the second: 0.4270486111 of a day is 10:14:57, not 10:14:56.99999.
            secs = np.round((serial - days) * 86400).astype(np.int64)
            stamp = stamp + secs.astype("timedelta64[s]")
        value[idx] = stamp.astype(_NS)

    invalid = np.isnat(value) & ~blank
    return value, invalid


def parse_dates(values: pd.Series, excel_serial: bool = True) -> pd.DataFrame:
    """Columns value (datetime64[ns] at midnight, NaT if blank/unparseable) and invalid.

    Accepts 1985-03-07, 1985/3/7, 19850307, 1985年3月7日, 1985.3.7, "2026-03-14 10:22:05"
    (date part kept), date/datetime/Timestamp objects, full-width digits, and - when
    ``excel_serial`` - Excel serial numbers 1..80000 (numbers or numeric text, origin
    1899-12-30; Excel's fictitious 1900-02-29 makes serials below 61 one day early).
    Eight-digit numbers are yyyymmdd, never serials. Years outside 1800..2200, impossible
    dates and text are invalid.
    """
    return _temporal(values, excel_serial=excel_serial, keep_time=False, months=False)


def parse_datetimes(values: pd.Series, excel_serial: bool = True) -> pd.DataFrame:
    """Like parse_dates but keeps the time of day (also yyyymmddHHMMSS, serial fractions)."""
    return _temporal(values, excel_serial=excel_serial, keep_time=True, months=False)


def parse_months(values: pd.Series, excel_serial: bool = True) -> pd.DataFrame:
    """Months ("2026-03", "202603", "2026/3", "2026年3月") as their first day; same columns.

    A full date (any form parse_dates accepts) gives the first day of its month.
    """
    return _temporal(values, excel_serial=excel_serial, keep_time=False, months=True)


# --------------------------------------------------------------------------- amounts

_AMOUNT_RE = (
    r"^(?P<sign>[+-]?)"
    r"(?P<num>(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<exp>[eE][+-]?[0-9]+)?"
    r"(?P<unit>万|亿)?(?:元|块)?$"
)


def parse_amounts(values: pd.Series, multiplier: float = 1.0) -> pd.DataFrame:
    """Columns value (float64, NaN if blank/invalid) and invalid (non-blank, unparseable).

    Accepts numbers, "12345.6", "12,345.60" (commas only as thousands separators, so "12,5"
    is invalid rather than a guess), "1.2万", "3亿", full-width digits, spaces, "￥"/"¥"
    and a "元" suffix. Negative amounts parse; validation decides whether they are allowed.
    ``multiplier`` scales every value (10000 when the header says 万元).
    """

    def fn(distinct: pd.Series) -> pd.DataFrame:
        value, invalid = _amounts_distinct(distinct)
        return pd.DataFrame({"value": value * multiplier, "invalid": invalid})

    return _on_distinct(values, fn, {"value": np.nan, "invalid": False})


def _amounts_distinct(distinct: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    n = len(distinct)
    value = np.full(n, np.nan)
    invalid = np.zeros(n, dtype=bool)
    kinds = _kinds(distinct)
    invalid[kinds >= 2] = True

    nums = np.flatnonzero(kinds == 1)
    if len(nums):
        v = np.asarray(distinct.iloc[nums].to_numpy(), dtype=float)
        finite = np.isfinite(v)
        value[nums[finite]] = v[finite]
        invalid[nums[~finite & ~np.isnan(v)]] = True

    texts = np.flatnonzero(kinds == 0)
    if len(texts):
        sub = distinct.iloc[texts].astype(_WORK)
        sub.index = pd.RangeIndex(len(sub))
        t = _sub(_halfwidth(sub), f"[{_WS}￥¥]+", "")
        t = t.str.replace("\u2212", "-", regex=False)
        blank = t.str.len().eq(0).to_numpy(dtype=bool)
        hit, g = _extract(t, _AMOUNT_RE)
        digits = pc.replace_substring(g["num"], ",", "")
        number = pc.binary_join_element_wise(digits, g["exp"], pa.scalar("", digits.type))
        v = np.full(len(t), np.nan)
        got = pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False)
        got = got * np.where(pc.equal(g["unit"], "万").to_numpy(zero_copy_only=False), 1e4, 1.0)
        got = got * np.where(pc.equal(g["unit"], "亿").to_numpy(zero_copy_only=False), 1e8, 1.0)
        v[hit] = np.where(pc.equal(g["sign"], "-").to_numpy(zero_copy_only=False), -got, got)
        value[texts] = np.where(np.isfinite(v), v, np.nan)
        invalid[texts] = ~blank & ~np.isfinite(v)
    return value, invalid


# --------------------------------------------------------------------------- text and codes


def normalize_text(values: pd.Series) -> pd.Series:
    """Strip, full-width -> half-width ASCII, collapse inner whitespace; <NA> for blank."""

    def fn(distinct: pd.Series) -> pd.DataFrame:
        t = _halfwidth(_text(distinct))
        t = _sub(t, f"[{_WS}]+", " ").str.strip()
        return pd.DataFrame({"text": _blank_to_na(t)})

    return _on_distinct(values, fn, {"text": pd.NA})["text"].rename(_name_of(values))


def normalize_codes(
    values: pd.Series,
    allowed: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Columns value (the canonical code from ``allowed`` or <NA>) and invalid.

    Values and alias keys are compared after normalize_text, exactly, then ignoring case,
    then without a trailing "级" (C级 -> C, Ｄ -> D). ``aliases`` maps other spellings to an
    allowed code. invalid = non-blank and not mappable.
    """
    lookup: dict[str, str] = {}
    folded: dict[str, str] = {}

    def add(key: str, code: str) -> None:
        key = _text_scalar(key)
        lookup.setdefault(key, code)
        folded.setdefault(key.casefold(), code)

    for code in allowed:
        add(code, code)
    for alias, code in (aliases or {}).items():
        if code not in allowed:
            raise ValueError(f"alias {alias!r} maps to {code!r}, which is not an allowed code")
        add(alias, code)

    def resolve(v: str) -> Any:
        for key in (v, v[:-1].strip() if v.endswith("级") else None):
            if key is None:
                continue
            if key in lookup:
                return lookup[key]
            if key.casefold() in folded:
                return folded[key.casefold()]
        return pd.NA

    def fn(distinct: pd.Series) -> pd.DataFrame:
        text = normalize_text(distinct)
        value = pd.Series([pd.NA if pd.isna(v) else resolve(v) for v in text], dtype=_OUT)
        return pd.DataFrame({"value": value, "invalid": (text.notna() & value.isna()).to_numpy()})

    return _on_distinct(values, fn, {"value": pd.NA, "invalid": False})


def _text_scalar(v: str) -> str:
    return str(normalize_text(pd.Series([v], dtype=object)).iloc[0])
