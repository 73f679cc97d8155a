"""Typing of department values: dates, datetimes, months, amounts, codes and free text.

Every function takes a pandas Series (object or string dtype; None, NaN and numbers allowed)
and returns a Series or DataFrame on the same index, with an ``invalid`` mask where a value
is present but cannot be typed. Work is done once per distinct value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.textops import (
    EXCEL_ORIGIN,
    NS,
    OUT,
    SERIAL_MAX,
    SERIAL_MIN,
    WORK,
    WS,
    YEAR_MAX,
    YEAR_MIN,
    arrow,
    as_float,
    as_int,
    as_text,
    blank_to_na,
    either,
    extract,
    halfwidth,
    on_distinct,
    re_sub,
    series_name,
    valid_ymd,
    value_kinds,
    ymd_ns,
)

__all__ = [
    "normalize_codes",
    "normalize_text",
    "parse_amounts",
    "parse_dates",
    "parse_datetimes",
    "parse_months",
]

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
        return pd.DataFrame({"value": pd.Series(value, dtype=NS), "invalid": invalid})

    return on_distinct(values, fn, {"value": pd.NaT, "invalid": False})


def _temporal_distinct(
    distinct: pd.Series, excel_serial: bool, keep_time: bool, months: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(distinct)
    value = np.full(n, np.datetime64("NaT"), dtype=NS)
    invalid = np.zeros(n, dtype=bool)
    kinds = value_kinds(distinct)

    objs = np.flatnonzero(kinds == 2)
    if len(objs):
        value[objs] = [_timestamp(v) for v in distinct.iloc[objs]]
        invalid[objs] = np.isnat(value[objs])
    invalid[kinds == 3] = True

    texty = np.flatnonzero(kinds <= 1)
    if len(texty):
        sub = distinct.iloc[texty]
        sub.index = pd.RangeIndex(len(sub))
        v, bad = _temporal_text(as_text(sub), excel_serial, keep_time, months)
        value[texty], invalid[texty] = v, bad

    if months:
        value = value.astype("datetime64[M]").astype(NS)
    elif not keep_time:
        value = value.astype("datetime64[D]").astype(NS)
    return value, invalid


def _timestamp(v: Any) -> np.datetime64:
    try:
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)  # wall-clock time as the department wrote it
        # Checked before the cast: numpy wraps out-of-range years to nonsense silently.
        if not YEAR_MIN <= ts.year <= YEAR_MAX:
            return np.datetime64("NaT", "ns")
        return ts.to_datetime64().astype(NS)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return np.datetime64("NaT", "ns")


def _temporal_text(
    t: pd.Series, excel_serial: bool, keep_time: bool, months: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(t)
    t = halfwidth(t).str.strip()
    # "19850307.0" / "202603.0": a number column that went through float on the way.
    t = re_sub(t, r"^([0-9]+)\.0+$", r"\1")
    value = np.full(n, np.datetime64("NaT"), dtype=NS)
    open_ = t.str.len().gt(0).to_numpy(dtype=bool)
    blank = ~open_

    if months:
        where = np.flatnonzero(open_)
        hit, g = extract(t.iloc[where], _MONTH_RE)
        if hit.any():
            idx = where[hit]
            y, m = as_int(g["y"]), as_int(either(g["m"], g["m2"]))
            ok = valid_ymd(y, m, np.ones_like(y)) & (y >= YEAR_MIN) & (y <= YEAR_MAX)
            value[idx[ok]] = ymd_ns(y[ok], m[ok], np.ones(ok.sum(), dtype=np.int64))
            open_[idx] = False

    if open_.any():
        where = np.flatnonzero(open_)
        hit, g = extract(t.iloc[where], _DATE_RE)
        if hit.any():
            idx = where[hit]
            y = as_int(g["y"])
            m = as_int(either(g["m"], g["m2"]))
            d = as_int(either(g["d"], g["d2"]))
            hh = as_int(either(g["H"], g["H2"]), 0)
            mi = as_int(either(g["M"], g["M2"]), 0)
            sec = as_float(either(g["S"], g["S2"]), 0.0)
            ok = (
                valid_ymd(y, m, d)
                & (y >= YEAR_MIN)
                & (y <= YEAR_MAX)
                & (hh <= 23)
                & (mi <= 59)
                & (sec < 60)
            )
            stamp = ymd_ns(y[ok], m[ok], d[ok])
            if keep_time:
                nanos = (hh[ok] * 3600 + mi[ok] * 60) * 10**9 + np.round(sec[ok] * 1e9)
                stamp = stamp + nanos.astype(np.int64).astype("timedelta64[ns]")
            value[idx[ok]] = stamp
            open_[idx] = False

    if excel_serial and open_.any():
        where = np.flatnonzero(open_)
        sub = t.iloc[where]
        num = sub.str.fullmatch(_SERIAL_RE).to_numpy(dtype=bool)
        serial = pc.cast(arrow(sub[num]), pa.float64()).to_numpy(zero_copy_only=False)
        ok = (serial >= SERIAL_MIN) & (serial <= SERIAL_MAX)
        idx = where[num][ok]
        serial = serial[ok]
        days = np.floor(serial)
        stamp = EXCEL_ORIGIN + days.astype(np.int64).astype("timedelta64[D]")
        if keep_time:
            # Round to the second: 0.4270486111 of a day is 10:14:57, not 10:14:56.99999.
            secs = np.round((serial - days) * 86400).astype(np.int64)
            stamp = stamp + secs.astype("timedelta64[s]")
        value[idx] = stamp.astype(NS)

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

    return on_distinct(values, fn, {"value": np.nan, "invalid": False})


def _amounts_distinct(distinct: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    n = len(distinct)
    value = np.full(n, np.nan)
    invalid = np.zeros(n, dtype=bool)
    kinds = value_kinds(distinct)
    invalid[kinds >= 2] = True

    nums = np.flatnonzero(kinds == 1)
    if len(nums):
        v = np.asarray(distinct.iloc[nums].to_numpy(), dtype=float)
        finite = np.isfinite(v)
        value[nums[finite]] = v[finite]
        invalid[nums[~finite & ~np.isnan(v)]] = True

    texts = np.flatnonzero(kinds == 0)
    if len(texts):
        sub = distinct.iloc[texts].astype(WORK)
        sub.index = pd.RangeIndex(len(sub))
        t = re_sub(halfwidth(sub), f"[{WS}￥¥]+", "")
        t = t.str.replace("\u2212", "-", regex=False)
        blank = t.str.len().eq(0).to_numpy(dtype=bool)
        hit, g = extract(t, _AMOUNT_RE)
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


def normalize_text(values: pd.Series) -> pd.Series:
    """Strip, full-width -> half-width ASCII, collapse inner whitespace; <NA> for blank."""

    def fn(distinct: pd.Series) -> pd.DataFrame:
        t = halfwidth(as_text(distinct))
        t = re_sub(t, f"[{WS}]+", " ").str.strip()
        return pd.DataFrame({"text": blank_to_na(t)})

    return on_distinct(values, fn, {"text": pd.NA})["text"].rename(series_name(values))


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
        value = pd.Series([pd.NA if pd.isna(v) else resolve(v) for v in text], dtype=OUT)
        return pd.DataFrame({"value": value, "invalid": (text.notna() & value.isna()).to_numpy()})

    return on_distinct(values, fn, {"value": pd.NA, "invalid": False})


def _text_scalar(v: str) -> str:
    return str(normalize_text(pd.Series([v], dtype=object)).iloc[0])
