"""The mistakes departments make (departments.md, "Quirks that appear across sources").

Every function takes the clean values plus a numpy Generator and returns the written
values and, for IDs and names, a code per row (`id_check_digit`, `name_typo`, ...) that
goes into the ground truth. Each row gets at most one ID quirk and one name quirk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from .city import _ymd
from .names import POOLS, SURNAMES, TYPO, typo_name

__all__ = [
    "META",
    "Garbage",
    "IdQuirks",
    "NameQuirks",
    "add_garbage",
    "corrupt_ids",
    "corrupt_names",
    "fmt_amounts",
    "fmt_dates",
    "header_quirks",
    "join_codes",
    "pick_styles",
]

# Bookkeeping columns carried next to the data columns until the file is written.
META = ("__pidx", "__hh", "__corr", "__reject", "__planted")

_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_CHECK = "10X98765432"


@dataclass(frozen=True)
class IdQuirks:
    """Rates of ID quirks (shares of rows unless said otherwise)."""

    lower_x: float = 0.25  # share of IDs ending in X that are written with a lowercase x
    fullwidth: float = 0.008
    space: float = 0.01
    stray_only: bool = False  # only a leading/trailing space (the clean master)
    old15: float = 0.15  # share of people born before 1960 still written with 15 digits
    check: float = 0.007  # one digit mistyped or two neighbours swapped
    mangled: float = 0.008  # Excel: 3.60502E+17 or the last three digits turned to 000
    blank: float = 0.0


@dataclass(frozen=True)
class NameQuirks:
    """Rates of name quirks."""

    trad: float = 0.01  # traditional characters (陳, 張)
    typo: float = 0.01  # homophone or look-alike (李娜 -> 李纳)
    space: float = 0.008  # an ASCII or full-width space inside


@dataclass(frozen=True)
class Garbage:
    """Columns a garbage row can break, for rows a validator must reject."""

    id_cols: tuple[str, ...] = ()
    name_cols: tuple[str, ...] = ()
    date_cols: tuple[str, ...] = ()
    amount_cols: tuple[str, ...] = ()
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def join_codes(*codes: np.ndarray) -> np.ndarray:
    """Join per-row code arrays with ';', skipping empty codes."""
    out = np.asarray(codes[0], dtype=object)
    for c in codes[1:]:
        c = np.asarray(c, dtype=object)
        both = (out != "") & (c != "")
        out = np.where(both, out + ";" + c, out + c).astype(object)
    return out


def corrupt_ids(
    ids: np.ndarray,
    born: np.ndarray,
    q: IdQuirks,
    rng: np.random.Generator,
    protect: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ID quirks. `born` is the birth year (for the 15-digit form).

    `protect` marks rows that carry a planted signal: they never get a quirk that destroys
    the ID (Excel mangling, blank), so the signal stays recoverable by a good matcher.
    """
    ids = np.asarray(ids, dtype=object)
    n = len(ids)
    code = np.full(n, "", dtype=object)
    if n == 0:
        return ids.copy(), code
    u, v = rng.random(n), rng.random(n)
    ends_x = np.fromiter((s[-1:] == "X" for s in ids), dtype=bool, count=n)
    code[ends_x & (v < q.lower_x)] = "id_lowercase_x"
    free = code == ""
    code[free & (born < 1960) & (v < q.old15)] = "id_15"
    free = code == ""
    edges = np.cumsum([q.fullwidth, q.space, q.check, q.mangled, q.blank])
    names = np.array(
        ["id_fullwidth", "id_space", "id_check_digit", "id_mangled", "id_blank"], dtype=object
    )
    bucket = np.searchsorted(edges, u, side="right")
    hit = free & (bucket < len(names))
    code[hit] = names[bucket[hit]]
    if protect is not None:
        code[np.asarray(protect) & np.isin(code, ["id_mangled", "id_blank"])] = ""

    out = ids.copy()
    w = rng.random(n)
    for c, fn in (
        ("id_lowercase_x", lambda s, r: s[:-1] + "x"),
        ("id_fullwidth", lambda s, r: s.translate(_FULLWIDTH)),
        ("id_space", _space_stray if q.stray_only else _space_inner),
        ("id_15", lambda s, r: s[:6] + s[8:17]),
        ("id_check_digit", _bad_check),
        ("id_mangled", _mangle),
        ("id_blank", lambda s, r: ""),
    ):
        sel = np.flatnonzero(code == c)
        if len(sel):
            out[sel] = [fn(s, r) for s, r in zip(out[sel], w[sel], strict=True)]
    return out, code


def _space_inner(s: str, r: float) -> str:
    if r < 0.4:
        return f"{s[:6]} {s[6:14]} {s[14:]}"
    if r < 0.7:
        return f"{s[:6]}-{s[6:14]}-{s[14:]}"
    return s[:10] + " " + s[10:]


def _space_stray(s: str, r: float) -> str:
    return " " + s if r < 0.3 else s + " "


def _bad_check(s: str, r: float) -> str:
    """A single-digit typo or a swap of two neighbours: the check character no longer fits."""
    if r < 0.4:  # wrong check character
        wrong = _CHECK[(_CHECK.index(s[17].upper()) + 1 + int(r * 25) % 10) % 11]
        return s[:17] + wrong
    if r < 0.75:  # one body digit mistyped
        i = 6 + int((r - 0.4) / 0.35 * 11) % 11
        d = str((int(s[i]) + 1 + int(r * 1000) % 9) % 10)
        return s[:i] + d + s[i + 1 :]
    for i in range(6 + int(r * 100) % 10, 16):  # swap the first differing neighbours
        if s[i] != s[i + 1]:
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    return s[:17] + ("0" if s[17] != "0" else "1")


def _mangle(s: str, r: float) -> str:
    """What Excel shows for an 18-digit number: 15 significant digits or 3.60502E+17."""
    if s[-1] != "X" and r < 0.7:
        return s[:15] + "000"
    return f"{int(s[:17]) * 10:.5E}"


@cache
def _trad_map() -> dict[str, str]:
    """Simplified -> traditional for every character the name tables can produce."""
    from opencc import OpenCC

    chars = {c for s, _ in SURNAMES for c in s}
    chars |= {c for pool in POOLS for c in pool} | set(TYPO.values())
    cc = OpenCC("s2t")
    return {c: t for c in sorted(chars) if (t := cc.convert(c)) != c}


def corrupt_names(
    names: np.ndarray, q: NameQuirks, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply name quirks; a traditional form that equals the original is no quirk."""
    names = np.asarray(names, dtype=object)
    n = len(names)
    code = np.full(n, "", dtype=object)
    if n == 0:
        return names.copy(), code
    u, w = rng.random(n), rng.random(n)
    edges = np.cumsum([q.trad, q.typo, q.space])
    labels = np.array(["name_traditional", "name_typo", "name_space"], dtype=object)
    b = np.searchsorted(edges, u, side="right")
    hit = (b < 3) & (names != "")
    code[hit] = labels[b[hit]]
    out = names.copy()
    tm = _trad_map()
    sel = np.flatnonzero(code == "name_traditional")
    out[sel] = ["".join(tm.get(ch, ch) for ch in s) for s in out[sel]]
    code[sel[out[sel] == names[sel]]] = ""
    sel = np.flatnonzero(code == "name_typo")
    out[sel] = [typo_name(s, r) for s, r in zip(out[sel], w[sel], strict=True)]
    sel = np.flatnonzero(code == "name_space")
    out[sel] = [
        s[:1] + (" " if r < 0.5 else "\u3000") + s[1:]
        for s, r in zip(out[sel], w[sel], strict=True)
    ]
    return out, code


# --------------------------------------------------------------------------- formats

_PAD2 = np.array([f"{i:02d}" for i in range(32)], dtype=object)
_NOPAD = np.array([str(i) for i in range(32)], dtype=object)
DATE_STYLES = ("iso", "slash", "compact", "chinese", "dot", "dot_short")


def pick_styles(
    n: int,
    rng: np.random.Generator,
    primary: int,
    mix: float,
    choices: tuple[int, ...] = (0, 1, 2, 3, 4, 5),
) -> np.ndarray:
    """Mostly the file's primary style, a `mix` share of other styles."""
    other = np.array(choices)[rng.integers(0, len(choices), n)]
    return np.where(rng.random(n) < mix, other, primary)


def fmt_dates(dates: np.ndarray, styles: np.ndarray | int = 0) -> np.ndarray:
    """Dates as text: 0 1985-03-07, 1 1985/3/7, 2 19850307, 3 1985年3月7日, 4 1985.03.07,
    5 1985.3.7. NaT becomes ''."""
    d = np.asarray(dates).astype("datetime64[D]")
    n = len(d)
    styles = np.broadcast_to(np.asarray(styles), (n,))
    out = np.full(n, "", dtype=object)
    ok = np.flatnonzero(~np.isnat(d))
    out[ok] = _distinct(d[ok].astype(np.int64), styles[ok], _fmt_dates)
    return out


def _distinct(values: np.ndarray, styles: np.ndarray, fmt) -> np.ndarray:
    """Format each distinct (value, style) once: fast, and rows share the string objects."""
    key = values.astype(np.int64) * 8 + styles
    uniq, inv = np.unique(key, return_inverse=True)
    return fmt(uniq // 8, uniq % 8)[inv]


def _fmt_dates(days: np.ndarray, styles: np.ndarray) -> np.ndarray:
    y, m, dd = _ymd(days.astype("datetime64[D]"))
    ys = y.astype(str).astype(object)
    parts = {
        0: lambda s: ys[s] + "-" + _PAD2[m[s]] + "-" + _PAD2[dd[s]],
        1: lambda s: ys[s] + "/" + _NOPAD[m[s]] + "/" + _NOPAD[dd[s]],
        2: lambda s: ys[s] + _PAD2[m[s]] + _PAD2[dd[s]],
        3: lambda s: ys[s] + "年" + _NOPAD[m[s]] + "月" + _NOPAD[dd[s]] + "日",
        4: lambda s: ys[s] + "." + _PAD2[m[s]] + "." + _PAD2[dd[s]],
        5: lambda s: ys[s] + "." + _NOPAD[m[s]] + "." + _NOPAD[dd[s]],
    }
    out = np.full(len(days), "", dtype=object)
    for k, fn in parts.items():
        sel = np.flatnonzero(styles == k)
        if len(sel):
            out[sel] = fn(sel)
    return out


def excel_cells(dates: np.ndarray, styles: np.ndarray) -> np.ndarray:
    """XLSX cells for dates: style 6 a real date cell, 7 an Excel serial number, else text."""
    d = np.asarray(dates).astype("datetime64[D]")
    out = fmt_dates(d, np.where(styles >= 6, 0, styles))
    out[out == ""] = None
    ok = ~np.isnat(d)
    cell = np.flatnonzero(ok & (styles == 6))
    out[cell] = d[cell].astype(object)  # datetime.date
    serial = np.flatnonzero(ok & (styles == 7))
    out[serial] = ((d[serial] - np.datetime64("1899-12-30", "D")).astype(np.int64)).tolist()
    return out


_FRAC = np.array([""] + [f".{i:02d}".rstrip("0") for i in range(1, 100)], dtype=object)


def fmt_amounts(
    cents: np.ndarray, styles: np.ndarray | int = 0, missing: np.ndarray | None = None
) -> np.ndarray:
    """Amounts as text: 0 `12345.6`, 1 `12,345.60`, 2 `1.23456万` (exact, never rounded)."""
    c = np.asarray(cents, dtype=np.int64)
    styles = np.broadcast_to(np.asarray(styles), (len(c),))
    out = _distinct(c, styles, _fmt_amounts) if len(c) else np.empty(0, dtype=object)
    if missing is not None:
        out[np.asarray(missing)] = ""
    return out


def _fmt_amounts(c: np.ndarray, styles: np.ndarray) -> np.ndarray:
    out = np.empty(len(c), dtype=object)
    plain = np.flatnonzero(styles == 0)
    out[plain] = (c[plain] // 100).astype(str).astype(object) + _FRAC[c[plain] % 100]
    comma = np.flatnonzero(styles == 1)
    out[comma] = [f"{v // 100:,}.{v % 100:02d}" for v in c[comma].tolist()]
    wan = np.flatnonzero(styles == 2)
    out[wan] = [_wan(v) for v in c[wan].tolist()]
    return out


def _wan(cents: int) -> str:
    whole, frac = divmod(cents, 1_000_000)
    digits = f"{frac:06d}".rstrip("0")
    return f"{whole}.{digits}万" if digits else f"{whole}万"


def header_quirks(
    header: list[str],
    rng: np.random.Generator,
    p_space: float = 0.3,
    p_paren: float = 0.3,
    p_trailing: float = 0.2,
) -> tuple[list[str], list[str]]:
    """Spaces around one header, full-width parentheses, a trailing empty column."""
    out = list(header)
    done = []
    if rng.random() < p_space:
        i = int(rng.integers(0, len(out)))
        out[i] = f" {out[i]} " if rng.random() < 0.5 else f"{out[i]} "
        done.append("header_space")
    if any("(" in h for h in out) and rng.random() < p_paren:
        out = [h.replace("(", "（").replace(")", "）") for h in out]
        done.append("header_fullwidth_parens")
    if rng.random() < p_trailing:
        out.append("")
        done.append("trailing_empty_column")
    return out, done


_BAD_DATES = ("2026-13-45", "未知", "0000-00-00", "2026/02/30")
_BAD_AMOUNTS = ("abc", "--", "不详", "#VALUE!")


def add_garbage(
    frame: pd.DataFrame,
    spec: Garbage,
    rng: np.random.Generator,
    rate: float = 0.002,
    minimum: int = 1,
) -> pd.DataFrame:
    """Insert copies of background rows with one fatal problem each.

    Copies (not edits) keep every real fact in the file, so rejecting them loses nothing.
    """
    n = len(frame)
    kinds = []
    if spec.id_cols or spec.name_cols:
        kinds.append("missing_identity")
    if spec.date_cols:
        kinds.append("bad_date")
    if spec.amount_cols:
        kinds.append("bad_amount")
    if spec.codes:
        kinds.append("bad_code")
    k = max(minimum, round(n * rate))
    if n == 0 or not kinds or k == 0:
        return frame
    pool = np.flatnonzero(~frame["__planted"].to_numpy(dtype=bool))
    if len(pool) == 0:
        pool = np.arange(n)
    src = rng.choice(pool, size=min(k, len(pool)), replace=False)
    bad = frame.iloc[src].copy().reset_index(drop=True)
    what = rng.integers(0, len(kinds), len(bad))
    pick = rng.random(len(bad))
    code_cols = sorted(spec.codes)
    problems = []
    for i in range(len(bad)):  # a handful of rows per file
        kind = kinds[what[i]]
        r = pick[i]
        if kind == "missing_identity":
            for c in spec.id_cols + spec.name_cols:
                bad.at[i, c] = ""
            bad.at[i, "__pidx"], bad.at[i, "__hh"], bad.at[i, "__corr"] = -1, -1, ""
            problems.append(
                "missing_identity: " + "/".join(spec.id_cols + spec.name_cols) + " 均为空"
            )
        elif kind == "bad_date":
            c = spec.date_cols[int(r * len(spec.date_cols))]
            v = _BAD_DATES[int(r * 97) % len(_BAD_DATES)]
            bad.at[i, c] = v
            problems.append(f"bad_date: {c}={v}")
        elif kind == "bad_amount":
            c = spec.amount_cols[int(r * len(spec.amount_cols))]
            v = _BAD_AMOUNTS[int(r * 97) % len(_BAD_AMOUNTS)]
            bad.at[i, c] = v
            problems.append(f"bad_amount: {c}={v}")
        else:
            c = code_cols[int(r * len(code_cols))]
            opts = spec.codes[c]
            v = opts[int(r * 97) % len(opts)]
            bad.at[i, c] = v
            problems.append(f"bad_code: {c}={v}")
    bad["__reject"] = np.array(problems, dtype=object)
    bad["__planted"] = False
    # Scatter the bad rows through the file.
    key = np.concatenate([np.arange(n, dtype=np.float64), rng.random(len(bad)) * n])
    order = np.argsort(key, kind="stable")
    both = pd.concat([frame, bad], ignore_index=True)
    return both.iloc[order].reset_index(drop=True)
