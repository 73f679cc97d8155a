"""Source specs: one YAML file per department extract, data not code.

A spec says how a department writes its file (format, encoding, headers) and how each
header maps to a canonical field with a type. Onboarding a new source means adding a
YAML file to ``connectors/sources/``; no Python changes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

__all__ = [
    "FIELD_TYPES",
    "SPEC_DIR",
    "ColumnSpec",
    "SourceSpec",
    "file_period",
    "load_specs",
]

SPEC_DIR = Path(__file__).with_name("sources")

FIELD_TYPES = (
    "text",  # free text, stripped
    "name",  # a person's name (normalised for matching, kept as given for display)
    "id_number",  # resident ID number (GB 11643); see ColumnSpec.id_form
    "date",
    "datetime",
    "month",  # 2026-03 / 202603 -> first day of the month
    "amount",  # money; ColumnSpec.multiplier for 万元
    "integer",
    "code",  # one of ColumnSpec.values (after aliases)
)
FORMATS = ("csv", "xlsx", "jsonl", "sql")
LINKS_BY = ("person", "head", "name_place", "none")
CADENCES = ("daily", "weekly", "monthly", "quarterly", "term", "yearly", "event", "on_demand")


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical field: the department's header and how to type its values."""

    field: str
    header: str
    type: str = "text"
    required: bool = False
    id_form: str = "plain"  # plain | disability_card | student_no
    multiplier: float = 1.0
    values: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    minimum: float | None = None  # plausible range of amounts and integers (inclusive)
    maximum: float | None = None
    description: str = ""

    @property
    def is_identity(self) -> bool:
        return self.type == "id_number"


@dataclass(frozen=True)
class SourceSpec:
    """A department extract: where it lands, how to read it, what its rows mean."""

    source_id: str
    department: str
    title: str
    grain: str
    links_by: str
    format: str
    cadence: str
    columns: tuple[ColumnSpec, ...]
    encoding: str = "auto"
    due_day: int | None = None
    due_month: int | None = None
    row_key: tuple[str, ...] = ()
    period_field: str | None = None  # which column dates a file's period (freshness checks)
    # For snapshots that carry no date column: a regex whose group is the YYYYMM[DD] the file
    # name states (户籍人口_202611.csv); stored per row as ``file_period`` and used like a
    # period, so a late, older snapshot never overwrites a newer one.
    file_period: str | None = None
    sql_table: str | None = None
    sql_url: str | None = None
    description: str = ""

    @property
    def staging_table(self) -> str:
        return f"stg_{self.source_id}"

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.field == name:
                return col
        raise KeyError(f"{self.source_id}: no field {name!r}")

    def has(self, name: str) -> bool:
        return any(c.field == name for c in self.columns)

    @property
    def id_field(self) -> str | None:
        return next((c.field for c in self.columns if c.is_identity), None)


def _bound(value) -> float | None:
    return None if value is None else float(value)


def _parse_column(source_id: str, fld: str, raw: dict) -> ColumnSpec:
    col_type = raw.get("type", "text")
    if col_type not in FIELD_TYPES:
        raise ValueError(f"{source_id}.{fld}: unknown type {col_type!r}")
    if col_type == "code" and not raw.get("values"):
        raise ValueError(f"{source_id}.{fld}: a code column needs values")
    return ColumnSpec(
        field=fld,
        header=str(raw["header"]),
        type=col_type,
        required=bool(raw.get("required", False)),
        id_form=raw.get("id_form", "plain"),
        multiplier=float(raw.get("multiplier", 1.0)),
        values=tuple(str(v) for v in raw.get("values", ())),
        aliases={str(k): str(v) for k, v in (raw.get("aliases") or {}).items()},
        # Money is never negative unless the spec says so (min: null, e.g. net business income).
        minimum=_bound(raw["min"]) if "min" in raw else (0.0 if col_type == "amount" else None),
        maximum=_bound(raw.get("max")),
        description=raw.get("description", ""),
    )


def parse_spec(data: dict) -> SourceSpec:
    """Build a SourceSpec from the YAML mapping, checking the vocabulary."""
    sid = data["source_id"]
    fmt = data["format"]
    if fmt not in FORMATS:
        raise ValueError(f"{sid}: unknown format {fmt!r}")
    if data["links_by"] not in LINKS_BY:
        raise ValueError(f"{sid}: unknown links_by {data['links_by']!r}")
    if data["cadence"] not in CADENCES:
        raise ValueError(f"{sid}: unknown cadence {data['cadence']!r}")
    columns = tuple(_parse_column(sid, f, raw) for f, raw in data["columns"].items())
    spec = SourceSpec(
        source_id=sid,
        department=data["department"],
        title=data["title"],
        grain=data["grain"],
        links_by=data["links_by"],
        format=fmt,
        cadence=data["cadence"],
        columns=columns,
        encoding=data.get("encoding", "auto"),
        due_day=data.get("due_day"),
        due_month=data.get("due_month"),
        row_key=tuple(data.get("row_key") or ()),
        period_field=data.get("period_field"),
        file_period=data.get("file_period"),
        sql_table=(data.get("sql") or {}).get("table"),
        sql_url=(data.get("sql") or {}).get("url"),
        description=data.get("description", ""),
    )
    unknown = [k for k in (*spec.row_key, spec.period_field or spec.fields[0]) if not spec.has(k)]
    if unknown:
        raise ValueError(f"{sid}: row_key names unknown fields {unknown}")
    if spec.file_period is not None and re.compile(spec.file_period).groups != 1:
        raise ValueError(f"{sid}: file_period must be a regex with one group (YYYYMM[DD])")
    return spec


def file_period(spec: SourceSpec, file_name: str) -> dt.date | None:
    """The snapshot date a file's name states, by the spec's ``file_period`` (None if none)."""
    if spec.file_period is None:
        return None
    found = re.search(spec.file_period, file_name)
    digits = found.group(1) if found else ""
    if len(digits) not in (6, 8) or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8] or 1))
    except ValueError:  # a 13th month: the name states no date
        return None


@cache
def load_specs(spec_dir: Path = SPEC_DIR) -> dict[str, SourceSpec]:
    """All source specs by source_id, sorted by id."""
    specs = {}
    for path in sorted(Path(spec_dir).glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            spec = parse_spec(yaml.safe_load(fh))
        if spec.source_id != path.stem:
            raise ValueError(f"{path.name}: source_id {spec.source_id!r} must match the file name")
        specs[spec.source_id] = spec
    return dict(sorted(specs.items()))
