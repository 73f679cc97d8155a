"""Linkage settings as data: link type, blocking rules and comparisons with ordered levels.

One ``LinkSettings`` object describes a whole linkage and round-trips to YAML, as Splink's
settings do. Column references are *expressions*: a plain column name or a derived key
such as ``pinyin(name_norm)``, ``substr(id_number,0,14)``, ``surname(name_norm)`` or
``year(birth_date)`` (see ``comparators.EXPRESSIONS``).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from connectors.spec import describe_validation_error, display_path, read_config_yaml

__all__ = [
    "LEVEL_KINDS",
    "LINK_TYPES",
    "SETTINGS_DIR",
    "BlockingRule",
    "Comparison",
    "Level",
    "LinkSettings",
    "LinkSettingsError",
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


class LinkSettingsError(ValueError):
    """Linkage settings are malformed; the message names the file, the key and what is allowed."""


# Unknown keys refused; the dataclasses stay dataclasses (positional construction,
# ``dataclasses.replace``) and validate on construction.
_CONFIG = ConfigDict(extra="forbid")


def _as_list(v: Any) -> Any:
    """A YAML scalar or list of expressions as a list of text (``[substr(a,0,6)]`` reads 0)."""
    if isinstance(v, str):
        return [v]
    if isinstance(v, list | tuple):
        return [str(x) for x in v]
    return v  # anything else: the type check says what is wrong


@dataclass(frozen=True, config=_CONFIG)
class Level:
    """One agreement level of a comparison; levels are tried in order, first hit wins.

    ``columns`` overrides the comparison's columns (address levels compare township and
    village together, then village alone). ``tf`` names an expression whose term frequency
    on the right side adjusts the weight of this level (common names count for less).
    ``m`` is an optional starting (or, with training 'fixed', final) m probability.
    In YAML a level is a mapping, or its kind alone (``- exact``, ``- null``).
    """

    kind: str
    threshold: float | None = None
    columns: tuple[str, ...] = ()
    tf: str | None = None
    m: float | None = None
    label: str = ""

    @model_validator(mode="before")
    @classmethod
    def _bare_kind(cls, data: Any) -> Any:
        if data is None:  # `- null` in a list of levels
            return {"kind": "null"}
        return {"kind": data} if isinstance(data, str) else data

    @field_validator("kind", mode="before")
    @classmethod
    def _null_kind(cls, v: Any) -> Any:
        return "null" if v is None else v  # YAML reads a bare null as None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in LEVEL_KINDS:
            raise ValueError(f"unknown level kind {v!r}; one of {sorted(LEVEL_KINDS)}")
        return v

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_list(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("label", mode="before")
    @classmethod
    def _blank_label(cls, v: Any) -> Any:
        return "" if v is None else v

    def __post_init__(self) -> None:
        for expr in (*self.columns, *([self.tf] if self.tf else [])):
            _check_expr(expr)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.kind if self.threshold is None else f"{self.kind}_{self.threshold:g}"


@dataclass(frozen=True, config=_CONFIG)
class Comparison:
    """A named comparison of one or more columns (expressions) with ordered levels."""

    name: str
    columns: tuple[str, ...]
    levels: tuple[Level, ...]
    # (other comparison, its level names): on those pairs this comparison counts as null.
    # Fellegi-Sunter adds the comparisons' evidence as if independent; the birth date an
    # ID's digits agree on must not be counted a second time. YAML writes a mapping
    # {other comparison: [level names]}.
    neutral_if: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_list(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("neutral_if", mode="before")
    @classmethod
    def _neutral_if_pairs(cls, v: Any) -> Any:
        if v is None:
            return ()
        if isinstance(v, dict):
            return tuple((other, tuple(_as_list(levels))) for other, levels in v.items())
        return v

    def __post_init__(self) -> None:
        if not self.levels or self.levels[-1].kind != "else":
            raise ValueError(f"comparison {self.name!r}: the last level must be 'else'")
        if self.levels[0].kind != "null":
            raise ValueError(f"comparison {self.name!r}: the first level must be 'null'")
        for expr in self.columns:
            _check_expr(expr)


@dataclass(frozen=True, config=_CONFIG)
class BlockingRule:
    """Candidate pairs agree exactly on every key expression (and none is missing).

    In YAML a rule is ``{keys: [...], max_block_pairs: N}`` or its list of keys alone.
    """

    keys: tuple[str, ...]
    # Blocks bigger than this (left rows x right rows) are skipped: such a key is not
    # selective enough to be worth comparing every pair (e.g. 王伟 city-wide).
    max_block_pairs: int = 250_000

    @model_validator(mode="before")
    @classmethod
    def _bare_keys(cls, data: Any) -> Any:
        return {"keys": data} if isinstance(data, str | list | tuple) else data

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_list(cls, v: Any) -> Any:
        return _as_list(v)

    def __post_init__(self) -> None:
        for expr in self.keys:
            _check_expr(expr)


@dataclass(frozen=True, config=_CONFIG)
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
    # u from random pairs, as many as the error bound needs (see model.u_sample_size):
    # every level with a share of at least u_min_share within u_relative_error of its
    # value at 95% confidence; never more than u_sample_pairs, nor more than the job has.
    u_relative_error: float = 0.2
    u_min_share: float = 1e-3
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

    @field_validator("blocking_rules", "comparisons", mode="before")
    @classmethod
    def _blank_list(cls, v: Any) -> Any:
        return () if v is None else v

    @field_validator("description", mode="before")
    @classmethod
    def _blank_description(cls, v: Any) -> Any:
        return "" if v is None else v

    @field_validator("extra", mode="before")
    @classmethod
    def _blank_extra(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("link_type")
    @classmethod
    def _known_link_type(cls, v: str) -> str:
        if v not in LINK_TYPES:
            raise ValueError(f"link_type must be one of {LINK_TYPES}")
        return v

    @field_validator("assignment")
    @classmethod
    def _known_assignment(cls, v: str) -> str:
        if v not in ASSIGNMENTS:
            raise ValueError(f"assignment must be one of {ASSIGNMENTS}")
        return v

    @field_validator("training")
    @classmethod
    def _known_training(cls, v: str) -> str:
        if v not in TRAINING:
            raise ValueError(f"training must be one of {TRAINING}")
        return v

    def __post_init__(self) -> None:
        if not (0 < self.u_relative_error < 1 and 0 < self.u_min_share < 1):
            raise ValueError("need 0 < u_relative_error < 1 and 0 < u_min_share < 1")
        if not 0 <= self.review_threshold <= self.accept_threshold <= 1:
            raise ValueError("need 0 <= review_threshold <= accept_threshold <= 1")
        names = {c.name: {lv.name for lv in c.levels} for c in self.comparisons}
        for c in self.comparisons:
            for other, levels in c.neutral_if:
                unknown = sorted(set(levels) - names.get(other, set()))
                if unknown:
                    raise ValueError(
                        f"{c.name}: neutral_if names unknown levels of {other!r}: {unknown}"
                    )

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
    def from_dict(cls, data: Any, source: str = "linkage settings") -> LinkSettings:
        """Settings from plain data; ``source`` names the file in the error message."""
        if not isinstance(data, dict):
            raise LinkSettingsError(
                f"{source}: expected a mapping of keys (link_type, comparisons, ...)"
            )
        try:
            return TypeAdapter(cls).validate_python(data)
        except ValidationError as exc:
            raise LinkSettingsError(
                describe_validation_error(exc, cls, source, label=_labeller(data))
            ) from None

    def to_yaml(self, path: Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False, width=100)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> LinkSettings:
        if isinstance(text_or_path, Path):
            text = text_or_path.read_text(encoding="utf-8")
            source = display_path(text_or_path)
        else:
            text, source = text_or_path, "linkage settings"
        return cls.from_dict(read_config_yaml(text, source, LinkSettingsError) or {}, source)


def _labeller(data: Any):
    """Names items of lists in messages: comparisons[1] (name), levels[3] (osa)."""

    def label(loc: tuple) -> str | None:
        node = data
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        if not isinstance(loc[-1], int):
            return None
        if isinstance(node, dict):
            name = node.get("name") or node.get("label") or node.get("kind") or node.get("keys")
            return None if name is None else "; ".join(_as_list(name))
        return None

    return label


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


def load_settings(name_or_path: str | Path) -> LinkSettings:
    """Settings from a YAML path, or by name from matching/settings/ ('department').

    Parsed once per file version (path, size, modification time): a run links twenty
    sources with the same settings, and each parse and validation costs ~40 ms. The
    settings are frozen, so sharing one object is safe.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = SETTINGS_DIR / f"{name_or_path}.yaml"
    try:
        stat = path.stat()
    except OSError:
        return LinkSettings.from_yaml(path)  # says which file is missing
    return _load_settings(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _load_settings(path: Path, size: int, mtime_ns: int) -> LinkSettings:
    return LinkSettings.from_yaml(path)
