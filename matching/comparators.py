"""Vectorised comparators: derived keys, and agreement levels over candidate pairs.

Both sides of a linkage are factorised *jointly* per expression, so a value is an integer
code and exact agreement is an integer comparison. Fuzzy levels score each distinct
(left value, right value) combination once with rapidfuzz's batch ``process.cpdist``
(C++, all cores); nothing loops over pairs in Python.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA, Indel, JaroWinkler, Levenshtein
from rapidfuzz.fuzz import ratio, token_sort_ratio

from connectors import values as cv
from matching import normalize as nz
from matching.settings import Comparison, Level, LinkSettings

__all__ = [
    "EXPRESSIONS",
    "Encoded",
    "Sides",
    "comparison_levels",
    "derive",
    "level_mask",
    "settings_expressions",
    "with_expressions",
]

_EXPR_RE = re.compile(r"^(?P<fn>[a-z_0-9]+)\(")


def _substr(s: pd.Series, start: str, end: str) -> pd.Series:
    """Characters [start, end); <NA> when the value is shorter than end (no partial keys)."""
    a, b = int(start), int(end)
    t = s.astype("string")
    return t.str.slice(a, b).where(t.str.len() >= b)


def _minlen(s: pd.Series, n: str) -> pd.Series:
    t = s.astype("string")
    return t.where(t.str.len() >= int(n))


def _dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    return cv.parse_dates(s)["value"]


EXPRESSIONS: dict[str, Callable[..., pd.Series]] = {
    "pinyin": lambda s: nz.name_pinyin(s),
    "name": lambda s: nz.normalize_names(s),
    "surname": lambda s: nz.normalize_names(s).str.slice(0, 1),
    "substr": _substr,
    "minlen": _minlen,
    "lower": lambda s: cv.normalize_text(s).str.lower(),
    "text": lambda s: cv.normalize_text(s),
    "date": _dates,
    "year": lambda s: _dates(s).dt.year.astype("Int64"),
    "month_day": lambda s: _dates(s).dt.strftime("%m%d").astype("string"),
    # Digits to compare, whatever the run date: no upper bound on the birth date.
    "id18": lambda s: nz.normalize_id_numbers(s, as_of=None)["id_prefix"],
}


def _parse(expr: str) -> tuple[str | None, list[str]]:
    """'fn(a, b)' -> ('fn', ['a', 'b']) with nesting ('substr(minlen(id,15),0,14)');
    a plain column name -> (None, [name])."""
    expr = expr.strip()
    m = _EXPR_RE.match(expr)
    if m is None or not expr.endswith(")"):
        return None, [expr]
    inner = expr[m.end("fn") + 1 : -1]
    args, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    return m["fn"], args


def derive(frame: pd.DataFrame, expr: str) -> pd.Series:
    """Evaluate a column expression; a missing column is all <NA> (the level goes null).

    A column named like the expression holds its precomputed values (see
    ``with_expressions``)."""
    if expr in frame.columns:
        return frame[expr]
    fn_name, args = _parse(expr)
    if fn_name is None:
        if args[0] not in frame.columns:
            return pd.Series(pd.NA, index=frame.index, dtype="string")
        return frame[args[0]]
    fn = EXPRESSIONS.get(fn_name)
    if fn is None:
        raise ValueError(f"unknown expression function {fn_name!r} in {expr!r}")
    return fn(derive(frame, args[0]), *args[1:]).set_axis(frame.index)


def settings_expressions(settings: LinkSettings, derived_only: bool = True) -> list[str]:
    """Every derived expression a linkage evaluates (blocking keys, comparisons, levels);
    with ``derived_only=False`` the plain columns it reads too."""
    found: list[str] = [k for rule in settings.blocking_rules for k in rule.keys]
    for comp in settings.comparisons:
        found += comp.columns
        for level in comp.levels:
            cols = level.columns or comp.columns
            found += cols
            found += [level.tf] if level.tf else []
            for c in cols:
                if level.kind in ("pinyin", "simplified"):
                    found.append(f"{'pinyin' if level.kind == 'pinyin' else 'name'}({c})")
                elif level.kind == "prefix":
                    found.append(f"substr({c},0,{int(level.threshold or 1)})")
                elif level.kind in ("day_month_swap", "year_off", "days_within"):
                    found.append(f"date({c})")
    return [e for e in dict.fromkeys(found) if not derived_only or _parse(e)[0] is not None]


def with_expressions(frame: pd.DataFrame, expressions: list[str]) -> pd.DataFrame:
    """``frame`` plus one column per derived expression, named by it.

    Deriving a register's expressions (pinyin of a million names, ...) costs seconds; a
    run that links many sources against one register derives them once this way.
    """
    return frame.assign(**{e: derive(frame, e) for e in expressions})


@dataclass
class Encoded:
    """One expression over both sides: joint integer codes (-1 = missing) and the values."""

    left: np.ndarray
    right: np.ndarray
    uniques: np.ndarray  # object array of the distinct values

    @property
    def n(self) -> int:
        return len(self.uniques)

    def date_parts(self) -> tuple[np.ndarray, ...]:
        """Year, month, day and day number of each distinct value (-1 when not a date)."""
        if not hasattr(self, "_dates"):
            d = pd.DatetimeIndex(pd.to_datetime(pd.Series(self.uniques), errors="coerce"))
            bad = d.isna()
            days = (d.to_numpy(dtype="datetime64[D]").astype(np.int64)).copy()
            parts = [d.year.to_numpy(), d.month.to_numpy(), d.day.to_numpy(), days]
            self._dates = tuple(
                np.where(bad, -1, np.nan_to_num(p, nan=-1)).astype(np.int64) for p in parts
            )
        return self._dates

    def id15_codes(self) -> np.ndarray:
        """Per distinct value: a code of its 15-digit form (old IDs), -1 for no ID length."""
        if not hasattr(self, "_id15"):
            self._id15 = pd.factorize(_id15(self.uniques).to_numpy(dtype=object, na_value=None))[
                0
            ].astype(np.int64)
        return self._id15

    @property
    def texts(self) -> np.ndarray:
        """The distinct values as str (once), for rapidfuzz."""
        if not hasattr(self, "_texts"):
            self._texts = np.array([str(v) for v in self.uniques], dtype=object)
        return self._texts


class Sides:
    """Left and right frames with a cache of encoded expressions (computed once each)."""

    def __init__(self, left: pd.DataFrame, right: pd.DataFrame) -> None:
        self.left, self.right = left, right
        self._cache: dict[str, Encoded] = {}
        self._tf: dict[str, tuple[np.ndarray, float]] = {}
        self.memo: dict[str, dict] = {}  # structures built on the encodings (blocking index)

    def encode(self, expr: str) -> Encoded:
        if expr not in self._cache:
            lv, rv = derive(self.left, expr), derive(self.right, expr)
            both = pd.concat([_plain(lv), _plain(rv)], ignore_index=True)
            codes, uniques = pd.factorize(both, use_na_sentinel=True)
            codes = codes.astype(np.int64)
            self._cache[expr] = Encoded(
                codes[: len(lv)], codes[len(lv) :], np.asarray(uniques, dtype=object)
            )
        return self._cache[expr]

    def right_tf(self, expr: str) -> tuple[np.ndarray, float]:
        """Term frequency of each code on the right side, and the chance two random right
        rows share a term (the average u of exact agreement on this expression)."""
        if expr not in self._tf:
            enc = self.encode(expr)
            r = enc.right[enc.right >= 0]
            counts = np.bincount(r, minlength=enc.n).astype(np.float64)
            total = max(counts.sum(), 1.0)
            tf = counts / total
            # fsum: exact, so the average does not depend on the order codes were given
            # in (which depends on the left side); a model's scores must not either.
            self._tf[expr] = (tf, math.fsum(tf[tf > 0] ** 2))
        return self._tf[expr]


def _plain(s: pd.Series) -> pd.Series:
    """Values as objects with one missing marker, so factorize treats both sides alike."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("datetime64[ns]").reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("Float64").reset_index(drop=True)
    t = s.astype("string")
    return t.mask(t.str.len().eq(0)).reset_index(drop=True)


# --------------------------------------------------------------------------- levels

_SCORERS = {
    "levenshtein": (Levenshtein.distance, "le"),
    "osa": (OSA.distance, "le"),
    "indel": (Indel.distance, "le"),
    "jaro_winkler": (JaroWinkler.similarity, "ge"),
    "ratio": (ratio, "ge100"),
    "token_sort": (token_sort_ratio, "ge100"),
}


def _pair_codes(enc: Encoded, li: np.ndarray, ri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return enc.left[li], enc.right[ri]


def _distinct(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per element, distinct values): a hash table, not np.unique's sort (O(n))."""
    codes, uniq = pd.factorize(key)
    return codes, np.asarray(uniq, dtype=np.int64)


def _fuzzy(enc: Encoded, a: np.ndarray, b: np.ndarray, kind: str, threshold: float) -> np.ndarray:
    """Score each distinct (a, b) code combination once with rapidfuzz cpdist."""
    scorer, how = _SCORERS[kind]
    ok = (a >= 0) & (b >= 0)
    out = np.zeros(len(a), dtype=bool)
    if not ok.any():
        return out
    key = a[ok] * np.int64(enc.n) + b[ok]
    inv, uniq = _distinct(key)
    ua, ub = enc.texts[uniq // enc.n], enc.texts[uniq % enc.n]
    if how == "le":
        cutoff = int(threshold)
        scores = process.cpdist(ua, ub, scorer=scorer, score_cutoff=cutoff, workers=-1)
        hit = scores <= cutoff
    else:
        thr = threshold * 100 if how == "ge100" else threshold
        scores = process.cpdist(ua, ub, scorer=scorer, score_cutoff=thr, workers=-1)
        hit = scores >= thr
    out[np.flatnonzero(ok)] = hit[inv]
    return out


def _on_distinct_pairs(
    enc: Encoded, a: np.ndarray, b: np.ndarray, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply a vectorised predicate of (left values, right values) to distinct pairs only."""
    ok = (a >= 0) & (b >= 0)
    out = np.zeros(len(a), dtype=bool)
    if not ok.any():
        return out
    key = a[ok] * np.int64(enc.n) + b[ok]
    inv, uniq = _distinct(key)
    hit = fn(enc.uniques[uniq // enc.n], enc.uniques[uniq % enc.n])
    out[np.flatnonzero(ok)] = np.asarray(hit, dtype=bool)[inv]
    return out


def _id15(values: np.ndarray) -> pd.Series:
    t = pd.Series(values, dtype="string")
    return t.where(t.str.len() == 15, t.str.slice(0, 6) + t.str.slice(8, 17)).where(
        t.str.len().isin([15, 18])
    )


def _date_level(enc: Encoded, a: np.ndarray, b: np.ndarray, kind: str, thr: float) -> np.ndarray:
    """Date levels on the codes' year, month, day (parsed once per distinct date)."""
    y, m, d, days = enc.date_parts()
    a, b = np.maximum(a, 0), np.maximum(b, 0)
    ok = (y[a] >= 0) & (y[b] >= 0)
    if kind == "day_month_swap":
        return ok & (y[a] == y[b]) & (m[a] == d[b]) & (d[a] == m[b])
    if kind == "year_off":
        return ok & (m[a] == m[b]) & (d[a] == d[b]) & (np.abs(y[a] - y[b]) <= thr)
    return ok & (np.abs(days[a] - days[b]) <= thr)  # days_within


def _numeric(kind: str, threshold: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def fn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = pd.to_numeric(pd.Series(x), errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype=float)
        diff = np.abs(a - b)
        if kind == "rel_diff":
            diff = diff / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-12)
        return diff <= threshold

    return fn


def level_mask(sides: Sides, level: Level, columns: tuple[str, ...], li, ri) -> np.ndarray:
    """Which of the pairs (li[k], ri[k]) satisfy ``level`` on ``columns``."""
    cols = level.columns or columns
    kind = level.kind
    n = len(li)
    if kind == "else":
        return np.ones(n, dtype=bool)
    if kind == "null":
        out = np.zeros(n, dtype=bool)
        for c in cols:
            a, b = _pair_codes(sides.encode(c), li, ri)
            out |= (a < 0) | (b < 0)
        return out
    out = np.ones(n, dtype=bool)
    for c in cols:
        expr = {"pinyin": f"pinyin({c})", "simplified": f"name({c})"}.get(kind, c)
        enc = sides.encode(expr)
        a, b = _pair_codes(enc, li, ri)
        if kind in ("exact", "pinyin", "simplified"):
            hit = (a == b) & (a >= 0)
        elif kind in _SCORERS:
            hit = _fuzzy(enc, a, b, kind, float(level.threshold or 0))
        elif kind == "prefix":
            k = int(level.threshold or 1)
            pre = sides.encode(f"substr({c},0,{k})")
            pa_, pb_ = _pair_codes(pre, li, ri)
            hit = (pa_ == pb_) & (pa_ >= 0)
        elif kind == "id_15_18":
            short = enc.id15_codes()
            sa, sb = short[np.maximum(a, 0)], short[np.maximum(b, 0)]
            hit = (a >= 0) & (b >= 0) & (sa == sb) & (sa >= 0)
        elif kind in ("day_month_swap", "year_off", "days_within"):
            dates = sides.encode(f"date({c})")
            da, db = _pair_codes(dates, li, ri)
            thr = level.threshold if level.threshold is not None else (kind == "year_off")
            hit = (da >= 0) & (db >= 0) & _date_level(dates, da, db, kind, float(thr))
        elif kind in ("abs_diff", "rel_diff"):
            hit = _on_distinct_pairs(enc, a, b, _numeric(kind, float(level.threshold or 0)))
        else:  # pragma: no cover - LEVEL_KINDS and this function move together
            raise ValueError(f"level kind {kind!r} has no comparator")
        out &= hit
    return out


def comparison_levels(sides: Sides, comp: Comparison, li, ri) -> np.ndarray:
    """Level index (0 = the first level, 'null') of every pair for one comparison."""
    n = len(li)
    gamma = np.full(n, -1, dtype=np.int8)
    todo = np.arange(n)
    for k, level in enumerate(comp.levels):
        if len(todo) == 0:
            break
        hit = level_mask(sides, level, comp.columns, li[todo], ri[todo])
        gamma[todo[hit]] = k
        todo = todo[~hit]
    return gamma
