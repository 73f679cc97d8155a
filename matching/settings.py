"""Linkage settings as data: link type, blocking rules and comparisons with ordered levels.

One ``LinkSettings`` object describes a whole linkage and round-trips to YAML, as Splink's
settings do. Column references are *expressions*: a plain column name or a derived key
such as ``pinyin(name_norm)``, ``substr(id_number,0,14)``, ``surname(name_norm)`` or
``year(birth_date)`` (see ``comparators.EXPRESSIONS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LEVEL_KINDS",
    "LINK_TYPES",
    "SETTINGS_DIR",
    "BlockingRule",
    "Comparison",
    "Level",
    "LinkSettings",
    "load_settings",
]

SETTINGS_DIR = Path(__file__).with_name("settings")
LINK_TYPES = ("link_only", "dedupe_only")
ASSIGNMENTS = ("one_to_one", "many_to_one", "none")
TRAINING = ("em", "labels", "fixed")

# Level kinds and what their threshold means (see comparators.level_mask).
LEVEL_KINDS = {
    "null": "either side missing (neutral: weight 0)",
    "exact": "equal",
    "else": "anything left",
    "levenshtein": "Levenshtein distance <= threshold",
    "osa": "optimal string alignment distance <= threshold (typo or adjacent swap)",
    "indel": "insertions/deletions only, distance <= threshold (a dropped character)",
    "jaro_winkler": "Jaro-Winkler similarity >= threshold",
    "ratio": "normalised Indel similarity (fuzz.ratio / 100) >= threshold",
    "token_sort": "token-sorted ratio / 100 >= threshold",
    "prefix": "first int(threshold) characters equal (both at least that long)",
    "id_15_18": "ID numbers equal in their 15-digit form (old vs new ID)",
    "pinyin": "same toneless pinyin (homophones)",
    "simplified": "equal after name normalisation (traditional -> simplified, spaces)",
    "day_month_swap": "dates with day and month swapped",
    "year_off": "same month and day, years at most threshold (default 1) apart",
    "days_within": "dates at most threshold days apart",
    "abs_diff": "numbers at most threshold apart",
    "rel_diff": "numbers at most threshold apart relative to the larger",
}


def _check_expr(expr: str) -> None:
    """Unbalanced parentheses mean YAML split an unquoted 'f(a,b)' at its comma."""
    depth = 0
    for ch in expr:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"expression {expr!r} is cut: quote expressions with commas in YAML")


@dataclass(frozen=True)
class Level:
    """One agreement level of a comparison; levels are tried in order, first hit wins.

    ``columns`` overrides the comparison's columns (address levels compare township and
    village together, then village alone). ``tf`` names an expression whose term frequency
    on the right side adjusts the weight of this level (common names count for less).
    ``m`` is an optional starting (or, with training 'fixed', final) m probability.
    """

    kind: str
    threshold: float | None = None
    columns: tuple[str, ...] = ()
    tf: str | None = None
    m: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LEVEL_KINDS:
            raise ValueError(f"unknown level kind {self.kind!r}; one of {sorted(LEVEL_KINDS)}")
        for expr in (*self.columns, *([self.tf] if self.tf else [])):
            _check_expr(expr)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.kind if self.threshold is None else f"{self.kind}_{self.threshold:g}"


@dataclass(frozen=True)
class Comparison:
    """A named comparison of one or more columns (expressions) with ordered levels."""

    name: str
    columns: tuple[str, ...]
    levels: tuple[Level, ...]
    # (other comparison, its level names): on those pairs this comparison counts as null.
    # Fellegi-Sunter adds the comparisons' evidence as if independent; the birth date an
    # ID's digits agree on must not be counted a second time.
    neutral_if: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        if not self.levels or self.levels[-1].kind != "else":
            raise ValueError(f"comparison {self.name!r}: the last level must be 'else'")
        if self.levels[0].kind != "null":
            raise ValueError(f"comparison {self.name!r}: the first level must be 'null'")
        for expr in self.columns:
            _check_expr(expr)


@dataclass(frozen=True)
class BlockingRule:
    """Candidate pairs agree exactly on every key expression (and none is missing)."""

    keys: tuple[str, ...]
    # Blocks bigger than this (left rows x right rows) are skipped: such a key is not
    # selective enough to be worth comparing every pair (e.g. 王伟 city-wide).
    max_block_pairs: int = 250_000

    def __post_init__(self) -> None:
        for expr in self.keys:
            _check_expr(expr)


@dataclass(frozen=True)
class LinkSettings:
    """Everything one linkage needs, loadable from and savable to YAML."""

    link_type: str = "link_only"
    unique_id: str = "id"
    blocking_rules: tuple[BlockingRule, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    assignment: str = "one_to_one"
    accept_threshold: float = 0.9
    review_threshold: float = 0.5
    training: str = "em"
    label_column: str | None = None  # training 'labels': equal non-null values = a match
    prior: float | None = None  # starting match share among candidate pairs
    u_sample_pairs: int = 1_000_000
    em_max_iter: int = 50
    em_min_pairs: int = 2_000  # fewer candidate pairs: keep the m values of the settings
    chunk_rows: int = 50_000  # left rows scored per chunk (bounds memory: ~2M pairs)
    # Left rows whose candidate pairs train m (and the prior): a sample is as good as all
    # of a million records for level shares, at a fraction of the comparisons.
    train_rows: int = 50_000
    seed: int = 42
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.link_type not in LINK_TYPES:
            raise ValueError(f"link_type must be one of {LINK_TYPES}")
        if self.assignment not in ASSIGNMENTS:
            raise ValueError(f"assignment must be one of {ASSIGNMENTS}")
        if self.training not in TRAINING:
            raise ValueError(f"training must be one of {TRAINING}")
        if not 0 <= self.review_threshold <= self.accept_threshold <= 1:
            raise ValueError("need 0 <= review_threshold <= accept_threshold <= 1")

    # ------------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain data, defaults left out of levels so the YAML stays short."""
        data = asdict(self)
        data["blocking_rules"] = [
            {"keys": list(r.keys), "max_block_pairs": r.max_block_pairs}
            for r in self.blocking_rules
        ]
        data["comparisons"] = [
            {
                "name": c.name,
                "columns": list(c.columns),
                "levels": [_level_dict(lv) for lv in c.levels],
                **(
                    {"neutral_if": {other: list(lv) for other, lv in c.neutral_if}}
                    if c.neutral_if
                    else {}
                ),
            }
            for c in self.comparisons
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown settings keys: {sorted(unknown)}")
        data = dict(data)
        data["blocking_rules"] = tuple(
            BlockingRule(
                keys=tuple(_as_list(r["keys"] if isinstance(r, dict) else r)),
                max_block_pairs=int(
                    r.get("max_block_pairs", 250_000) if isinstance(r, dict) else 250_000
                ),
            )
            for r in data.get("blocking_rules", ())
        )
        data["comparisons"] = tuple(
            Comparison(
                name=c["name"],
                columns=tuple(_as_list(c["columns"])),
                levels=tuple(_level_from(lv) for lv in c["levels"]),
                neutral_if=tuple(
                    (other, tuple(_as_list(lv))) for other, lv in c.get("neutral_if", {}).items()
                ),
            )
            for c in data.get("comparisons", ())
        )
        names = {c.name: {lv.name for lv in c.levels} for c in data["comparisons"]}
        for c in data["comparisons"]:
            for other, levels in c.neutral_if:
                if not set(levels) <= names.get(other, set()):
                    raise ValueError(f"{c.name}: neutral_if names unknown levels of {other!r}")
        return cls(**data)

    def to_yaml(self, path: Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False, width=100)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> LinkSettings:
        if isinstance(text_or_path, Path):
            text = text_or_path.read_text(encoding="utf-8")
        else:
            text = text_or_path
        return cls.from_dict(yaml.safe_load(text) or {})


def _as_list(v: Any) -> list[str]:
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _level_dict(lv: Level) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": lv.kind}
    if lv.threshold is not None:
        out["threshold"] = lv.threshold
    if lv.columns:
        out["columns"] = list(lv.columns)
    if lv.tf:
        out["tf"] = lv.tf
    if lv.m is not None:
        out["m"] = lv.m
    if lv.label:
        out["label"] = lv.label
    return out


def _level_from(raw: dict[str, Any] | str) -> Level:
    if isinstance(raw, str):
        return Level(kind=raw)
    thr = raw.get("threshold")
    m = raw.get("m")
    return Level(
        kind="null" if raw["kind"] is None else raw["kind"],  # YAML reads a bare null as None
        threshold=None if thr is None else float(thr),
        columns=tuple(_as_list(raw.get("columns", ()))),
        tf=raw.get("tf"),
        m=None if m is None else float(m),
        label=raw.get("label", ""),
    )


def load_settings(name_or_path: str | Path) -> LinkSettings:
    """Settings from a YAML path, or by name from matching/settings/ ('department')."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SETTINGS_DIR / f"{name_or_path}.yaml"
    return LinkSettings.from_yaml(path)
