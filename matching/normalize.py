"""Normalisers of identity: ID numbers (GB 11643), names (t2s, spacing, dots) and pinyin.

Every function takes a pandas Series (object or string dtype; None, NaN and numbers allowed)
and returns a Series or DataFrame on the same index. Work is done once per distinct value
(``pd.factorize``); the few Python-level conversions (opencc t2s, pypinyin) only ever see
distinct values. The typing of dates, amounts and codes is the connectors' (connectors.values).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.textops import (
    DASHES,
    DOTS,
    MIDDLE_DOT,
    NS,
    OUT,
    WORK,
    WS,
    ZERO,
    arrow,
    as_series,
    as_text,
    blank_to_na,
    byte_matrix,
    check_codes,
    extract_frame,
    halfwidth,
    matrix_strings,
    number_of,
    on_distinct,
    re_sub,
    series_name,
    valid_ymd,
)

__all__ = [
    "ID_STATUS",
    "MIN_BIRTH_DATE",
    "birth_date_from_id",
    "id_from_disability_card",
    "id_from_student_no",
    "name_pinyin",
    "normalize_id_numbers",
    "normalize_names",
    "sex_from_id",
]

ID_STATUS = ("valid", "repaired_15", "invalid_check", "mangled", "malformed", "blank")
_VALID, _REPAIRED, _INVALID_CHECK, _MANGLED, _MALFORMED, _BLANK = range(len(ID_STATUS))

# Oldest birth date accepted inside an 18-digit ID. GB 11643-1999's own example,
# 440524188001010014, is born 1880-01-01.
MIN_BIRTH_DATE = dt.date(1880, 1, 1)


def _as_of_int(as_of: Any) -> int:
    """The run date as YYYYMMDD; None means no upper bound (never the machine's clock)."""
    if as_of is None:
        return 99991231
    day = pd.Timestamp(as_of).date()
    return day.year * 10000 + day.month * 100 + day.day


# Excel's scientific display of an 18-digit (E+17) or 15-digit (E+14) ID.
_SCI_RE = r"^(?P<lead>[0-9])(?:\.(?P<frac>[0-9]+))?E\+?(?P<exp>14|17)$"


def _clean_id_text(t: pd.Series) -> pd.Series:
    """Strip, full-width to ASCII, drop Excel text guards, spaces and dashes; uppercase."""
    t = halfwidth(t)
    # ="3605..." and a leading apostrophe are the usual tricks to stop Excel eating the ID.
    t = re_sub(t, r'^\s*="(.*)"\s*$', r"\1")
    t = re_sub(t, f"[{WS}{DASHES}]+", "")
    t = re_sub(t, "^['`\u2018\u2019]+", "")
    return t.str.upper()


def normalize_id_numbers(values: pd.Series, *, as_of: Any) -> pd.DataFrame:
    """Columns (same index): id18, id_status (one of ID_STATUS), id_prefix.

    ``id18`` is set for valid and repaired_15 only. ``id_prefix`` holds the digits still
    trustworthy for fuzzy matching, in the 18-digit layout: id18 for valid/repaired_15, the 18
    characters as given for invalid_check, the first (up to 15) significant digits for
    mangled, <NA> for malformed/blank.

    An 18-character ID whose check character is right but whose birth date is impossible,
    before MIN_BIRTH_DATE or after ``as_of`` (the run date, required; None sets no upper
    bound, for comparing digits only) is *malformed*: a single typo or an adjacent
    transposition always breaks the check, so such a value is not a typo of a real ID. With
    a wrong check character the ID stays *invalid_check* whatever the date, since the typo
    may well be in the date.
    """
    as_of_int = _as_of_int(as_of)
    return on_distinct(
        values,
        lambda u: _normalize_id_distinct(u, as_of_int),
        {"id18": pd.NA, "id_status": "blank", "id_prefix": pd.NA},
    )


def _normalize_id_distinct(distinct: pd.Series, as_of_int: int) -> pd.DataFrame:
    # Plain str() of numbers on purpose: a float ID renders as "3.605021985030712e+17",
    # which the Excel-notation rule below recognises as mangled.
    t = _clean_id_text(distinct.astype(WORK))
    n = len(t)
    status = np.full(n, _MALFORMED, dtype=np.int8)
    id18 = pd.Series(pd.NA, index=t.index, dtype=WORK)
    prefix = pd.Series(pd.NA, index=t.index, dtype=WORK)
    open_ = np.ones(n, dtype=bool)  # not decided yet

    blank = t.str.len().eq(0).to_numpy(dtype=bool)
    status[blank] = _BLANK
    open_ &= ~blank

    # Excel scientific notation: 3.60502E+17 (18-digit ID) or 3.60502E+14 (15-digit ID).
    has_e = open_ & t.str.contains("E", regex=False).to_numpy(dtype=bool)
    if has_e.any():
        sci = extract_frame(t[has_e], _SCI_RE)
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
        mat = byte_matrix(t[m18], 18)
        check_ok = check_codes(mat[:, :17].astype(np.int16) - ZERO) == mat[:, 17]
        y, m, d = number_of(mat[:, 6:10]), number_of(mat[:, 10:12]), number_of(mat[:, 12:14])
        ymd = y * 10000 + m * 100 + d
        min_int = MIN_BIRTH_DATE.year * 10000 + MIN_BIRTH_DATE.month * 100 + MIN_BIRTH_DATE.day
        date_ok = valid_ymd(y, m, d) & (ymd >= min_int) & (ymd <= as_of_int)
        zeroed = (mat[:, 15:] == ZERO).all(axis=1)
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
        mat = byte_matrix(t[m15], 15)
        y = 1900 + number_of(mat[:, 6:8])
        ok = valid_ymd(y, number_of(mat[:, 8:10]), number_of(mat[:, 10:12]))
        body = np.concatenate(
            [mat[ok, :6], np.full((ok.sum(), 2), [ord("1"), ord("9")], np.uint8), mat[ok, 6:]],
            axis=1,
        )
        full = np.concatenate([body, check_codes(body.astype(np.int16) - ZERO)[:, None]], axis=1)
        repaired = matrix_strings(full, pd.Index(idx[ok]))
        status[idx[ok]] = _REPAIRED
        id18.loc[repaired.index] = repaired
        prefix.loc[repaired.index] = repaired

    return pd.DataFrame(
        {
            "id18": id18.astype(OUT),
            "id_status": pd.array(np.array(ID_STATUS, dtype=object)[status], dtype=OUT),
            "id_prefix": prefix.astype(OUT),
        }
    )


def id_from_disability_card(values: pd.Series) -> pd.Series:
    """The ID part of a 残疾人证号 (ID number + 2 digits: category, grade), cleaned.

    Feed the result to normalize_id_numbers. A value that is already just an ID is kept;
    Excel forms of the 20-digit number keep their mangled shape (exponent minus 2).
    """

    def fn(distinct: pd.Series) -> pd.DataFrame:
        t = _clean_id_text(distinct.astype(WORK))
        card = extract_frame(t, r"^(?P<id>[0-9]{17}[0-9X]|[0-9]{15})[0-9]{2}$")["id"]
        t = card.fillna(t)
        # 3.60502E+19 -> 3.60502E+17; 36050219850307100000.0 -> 360502198503071000.0
        t = re_sub(t, r"^([0-9](?:\.[0-9]+)?E\+?)19$", r"\117")  # RE2: group 1, then "17"
        t = re_sub(t, r"^([0-9](?:\.[0-9]+)?E\+?)16$", r"\114")
        t = re_sub(t, r"^([0-9]{18})[0-9]{2}(\.0*)$", r"\1\2")
        return pd.DataFrame({"id": blank_to_na(t)})

    return on_distinct(values, fn, {"id": pd.NA})["id"].rename(series_name(values))


def id_from_student_no(values: pd.Series) -> pd.Series:
    """The ID part of a 学籍号 ("G" + ID number), cleaned, for normalize_id_numbers.

    A value without the G is kept (it may be the bare ID). "L" numbers are temporary numbers
    of students without an ID: <NA>.
    """

    def fn(distinct: pd.Series) -> pd.DataFrame:
        t = _clean_id_text(distinct.astype(WORK))
        t = t.mask(t.str.startswith("L"), "")
        t = re_sub(t, r"^G", "")
        return pd.DataFrame({"id": blank_to_na(t)})

    return on_distinct(values, fn, {"id": pd.NA})["id"].rename(series_name(values))


def _id18_parts(id18: Any) -> tuple[pd.Series, pd.Series]:
    s = as_series(id18)
    t = s.astype(WORK).str.strip().str.upper()
    return s, t.where(t.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).astype(bool))


def birth_date_from_id(id18: pd.Series) -> pd.Series:
    """Birth date (datetime64[ns]) of 18-character IDs; NaT when missing or not an id18."""
    s, t = _id18_parts(id18)
    born = pd.to_datetime(t.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    return pd.Series(born.to_numpy(dtype=NS), index=s.index, name=s.name)


def sex_from_id(id18: pd.Series) -> pd.Series:
    """Sex from the 17th digit: odd "男", even "女"; <NA> when missing or not an id18."""
    s, t = _id18_parts(id18)
    digit = pd.to_numeric(t.str.slice(16, 17), errors="coerce")
    odd = (digit.fillna(0).astype("int64") % 2 == 1).to_numpy(dtype=bool)
    out = pd.Series(np.where(odd, "男", "女"), index=s.index, dtype=OUT)
    return out.where(digit.notna().to_numpy(dtype=bool)).rename(s.name)


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
    return on_distinct(
        values, lambda u: pd.DataFrame({"name": _names_distinct(u)}), {"name": pd.NA}
    )["name"].rename(series_name(values))


def _names_distinct(distinct: pd.Series) -> pd.Series:
    t = halfwidth(as_text(distinct))
    t = re_sub(t, f"[{WS}]+", "")
    t = re_sub(t, f"[{DOTS}]+", MIDDLE_DOT).str.strip(MIDDLE_DOT)
    convert, touched = _t2s()
    todo = (
        t.str.contains(touched, regex=True).fillna(False).astype(bool)
        if touched
        else t.str.len().gt(0)
    )
    if todo.any():
        t = t.copy()
        t[todo] = [convert(v) for v in t[todo]]
    return blank_to_na(t)


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
    return on_distinct(
        normalised, lambda u: pd.DataFrame({"py": _pinyin_remembered(u)}), {"py": pd.NA}
    )["py"].rename(series_name(names))


# Pinyin of names seen before in this process: a run reads the same register names in
# every source (a city's linking spent 5 s on pinyin, mostly of names already read).
_PINYIN_SEEN: dict[str, str | None] = {}
_PINYIN_SEEN_MAX = 2_000_000


def _pinyin_remembered(distinct: pd.Series) -> pd.Series:
    known = distinct.map(_PINYIN_SEEN.get) if _PINYIN_SEEN else distinct.map(lambda _: None)
    todo = known.isna().to_numpy(dtype=bool)
    out = known.astype(WORK)
    if todo.any():
        fresh = _pinyin_distinct(distinct[todo])
        out[todo] = fresh
        if len(_PINYIN_SEEN) + len(fresh) > _PINYIN_SEEN_MAX:
            _PINYIN_SEEN.clear()
        _PINYIN_SEEN.update(
            zip(
                distinct[todo].astype(str),
                fresh.astype(object).where(fresh.notna(), None),
                strict=True,
            )
        )
    return out


def _pinyin_distinct(distinct: pd.Series) -> pd.Series:
    from pypinyin import Style, lazy_pinyin

    def one(name: str) -> str:
        for size in (2, 1):
            head = _SURNAME_PINYIN.get(name[:size])
            if head is not None:
                return head + "".join(lazy_pinyin(name[size:], style=Style.NORMAL))
        return "".join(lazy_pinyin(name, style=Style.NORMAL))

    t = distinct.astype(WORK).reset_index(drop=True)
    out = np.full(len(t), None, dtype=object)
    fast, head, rest = _pinyin_fast_path(t)
    if fast.any():
        out[fast] = head[fast] + _pinyin_by_char(
            rest[fast], lambda c: lazy_pinyin(c, style=Style.NORMAL)
        )
    slow = np.flatnonzero(~fast & t.notna().to_numpy(dtype=bool))
    out[slow] = [one(v) for v in t.iloc[slow]]
    py = pd.Series(out, index=distinct.index, dtype=WORK)
    return blank_to_na(re_sub(py.str.lower(), "[^a-z]+", ""))


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
            hit = pc.is_in(arrow(word), value_set=phrases)
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


_VALID, _REPAIRED, _INVALID_CHECK, _MANGLED, _MALFORMED, _BLANK = range(len(ID_STATUS))
