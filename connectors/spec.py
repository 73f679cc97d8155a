"""Source specs: one YAML file per department extract, data not code.

A spec says how a department writes its file (format, encoding, headers) and how each
header maps to a canonical field with a type. Onboarding a new source means adding a
YAML file to ``connectors/sources/``; no Python changes.

Specs are pydantic models that refuse unknown keys: a typo (``requird: true``) stops the
load with one message naming the file, the key, where it sits and the keys allowed there,
instead of being silently ignored. The YAML helpers at the end (``read_config_yaml``,
``describe_validation_error``) serve the other configuration files too.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import re
from collections import Counter
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "FIELD_TYPES",
    "SPEC_DIR",
    "ColumnSpec",
    "SourceSpec",
    "SpecError",
    "SqlSource",
    "describe_validation_error",
    "display_path",
    "file_period",
    "load_spec_file",
    "load_specs",
    "parse_spec",
    "read_config_yaml",
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
ID_FORMS = ("plain", "disability_card", "student_no")
FORMATS = ("csv", "xlsx", "jsonl", "sql")
LINKS_BY = ("person", "head", "name_place", "none")
CADENCES = ("daily", "weekly", "monthly", "quarterly", "term", "yearly", "event", "on_demand")


class SpecError(ValueError):
    """A source spec is malformed; the message names the file, the key and what is allowed."""


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; one of {', '.join(allowed)}")
    return value


def _default_if_blank(cls: type[BaseModel], v: Any, info: ValidationInfo) -> Any:
    """A blank YAML value (``description:``) means the field's default, as it did before."""
    if v is None:
        return cls.model_fields[info.field_name].get_default(call_default_factory=True)
    return v


class ColumnSpec(BaseModel):
    """One canonical field: the department's header and how to type its values.

    In YAML the field is the key of the ``columns`` mapping, and the plausible range is
    written ``min``/``max``.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        coerce_numbers_to_str=True,  # header: 2024, values: [1, 2] are text
    )

    field: str
    header: str
    type: str = "text"
    required: bool = False
    id_form: str = "plain"  # plain | disability_card | student_no
    multiplier: float = 1.0
    values: tuple[str, ...] = ()
    aliases: dict[str, str] = Field(default_factory=dict)
    # Plausible range of amounts and integers (inclusive).
    minimum: float | None = Field(default=None, alias="min")
    maximum: float | None = Field(default=None, alias="max")
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _money_not_negative(cls, data: Any) -> Any:
        # Money is never negative unless the spec says so (min: null, e.g. net business income).
        if (
            isinstance(data, Mapping)
            and data.get("type") == "amount"
            and "min" not in data
            and "minimum" not in data
        ):
            data = {**data, "min": 0.0}
        return data

    @field_validator("values", "aliases", "description", mode="before")
    @classmethod
    def _blank_is_default(cls, v: Any, info: ValidationInfo) -> Any:
        return _default_if_blank(cls, v, info)

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        return _one_of("type", v, FIELD_TYPES)

    @field_validator("id_form")
    @classmethod
    def _known_id_form(cls, v: str) -> str:
        return _one_of("id_form", v, ID_FORMS)

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.type == "code" and not self.values:
            raise ValueError("a code column needs values")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"min {self.minimum:g} is above max {self.maximum:g}")
        return self

    @property
    def is_identity(self) -> bool:
        return self.type == "id_number"


class SqlSource(BaseModel):
    """Where a ``format: sql`` source is read: a table or view, and optionally the URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = None
    url: str | None = None


class SourceSpec(BaseModel):
    """A department extract: where it lands, how to read it, what its rows mean."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    source_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    department: str
    title: str
    grain: str
    links_by: str
    format: str
    cadence: str
    columns: tuple[ColumnSpec, ...] = Field(min_length=1)
    encoding: str = "auto"
    due_day: int | None = Field(default=None, ge=1, le=31)
    due_month: int | None = Field(default=None, ge=1, le=12)
    row_key: tuple[str, ...] = ()
    period_field: str | None = None  # which column dates a file's period (freshness checks)
    # For snapshots that carry no date column: a regex whose group is the YYYYMM[DD] the file
    # name states (户籍人口_202611.csv); stored per row as ``file_period`` and used like a
    # period, so a late, older snapshot never overwrites a newer one.
    file_period: str | None = None
    sql: SqlSource | None = None
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _columns_from_mapping(cls, data: Any) -> Any:
        """YAML writes ``columns`` as a mapping field -> column; the model keeps a tuple."""
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), Mapping):
            return data
        columns = []
        for fld, raw in data["columns"].items():
            if not isinstance(raw, Mapping):
                raise ValueError(
                    f"column {fld!r} must be a mapping such as {{header: ..., type: text}}"
                )
            if "field" in raw:
                raise ValueError(
                    f"column {fld!r}: the field is the key of the mapping, not 'field'"
                )
            columns.append({"field": fld, **raw})
        return {**data, "columns": columns}

    @field_validator("row_key", "description", mode="before")
    @classmethod
    def _blank_is_default(cls, v: Any, info: ValidationInfo) -> Any:
        return _default_if_blank(cls, v, info)

    @field_validator("links_by")
    @classmethod
    def _known_links_by(cls, v: str) -> str:
        return _one_of("links_by", v, LINKS_BY)

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        return _one_of("format", v, FORMATS)

    @field_validator("cadence")
    @classmethod
    def _known_cadence(cls, v: str) -> str:
        return _one_of("cadence", v, CADENCES)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        if v != "auto":
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r}; 'auto' or a codec name") from None
        return v

    @field_validator("file_period")
    @classmethod
    def _one_group(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                groups = re.compile(v).groups
            except re.error as exc:
                raise ValueError(f"file_period {v!r} is not a regex: {exc}") from None
            if groups != 1:
                raise ValueError(
                    "file_period must be a regex with one group (YYYYMM[DD], YYYYQn or YYYY)"
                )
        return v

    @model_validator(mode="after")
    def _fields_exist(self) -> SourceSpec:
        fields = self.fields
        if len(set(fields)) != len(fields):
            twice = sorted(f for f, n in Counter(fields).items() if n > 1)
            raise ValueError(f"columns name a field twice: {twice}")
        unknown = [k for k in self.row_key if k not in fields]
        if unknown:
            raise ValueError(f"row_key names unknown fields {unknown}")
        if self.period_field is not None and self.period_field not in fields:
            raise ValueError(f"period_field names an unknown field {self.period_field!r}")
        if self.format == "sql" and (self.sql is None or not self.sql.table):
            raise ValueError("a sql source needs sql: {table: <table or view>}")
        return self

    @property
    def sql_table(self) -> str | None:
        return None if self.sql is None else self.sql.table

    @property
    def sql_url(self) -> str | None:
        return None if self.sql is None else self.sql.url

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


def parse_spec(data: Any, source: str = "source spec") -> SourceSpec:
    """Build a SourceSpec from the YAML mapping, checking keys and vocabulary.

    ``source`` names the file in the message of the ``SpecError`` raised on any problem.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: expected a mapping of keys (source_id, columns, ...)")
    try:
        return SourceSpec.model_validate(data)
    except ValidationError as exc:
        columns = data.get("columns")
        names = list(columns.items()) if isinstance(columns, Mapping) else []

        def label(loc: tuple) -> str | None:
            if not (len(loc) == 2 and loc[0] == "columns" and isinstance(loc[1], int)):
                return None
            if loc[1] >= len(names):
                return None
            fld, raw = names[loc[1]]
            header = raw.get("header") if isinstance(raw, Mapping) else None
            return f"{fld}: {header}" if header is not None else str(fld)

        raise SpecError(
            describe_validation_error(
                exc, SourceSpec, source, label=label, hidden={ColumnSpec: {"field"}}
            )
        ) from None


_STATED_PERIOD = re.compile(r"(\d{4})(?:(\d{2})(\d{2})?|Q([1-4]))?")


def file_period(spec: SourceSpec, file_name: str) -> dt.date | None:
    """The start of the period a file's name states, by the spec's ``file_period`` (None if
    none): ``20261130``, ``202611`` (a month), ``2026Q3`` (a quarter) or ``2026`` (a year)."""
    if spec.file_period is None:
        return None
    found = re.search(spec.file_period, file_name)
    stated = _STATED_PERIOD.fullmatch(found.group(1)) if found else None
    if stated is None:
        return None
    year, month, day, quarter = stated.groups()
    if quarter:
        month = str(3 * int(quarter) - 2)
    try:
        return dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:  # a 13th month: the name states no date
        return None


def load_spec_file(path: Path) -> SourceSpec:
    """One spec file; its ``source_id`` must be its file name."""
    source = display_path(path)
    spec = parse_spec(read_config_yaml(Path(path).read_text(encoding="utf-8"), source), source)
    if spec.source_id != Path(path).stem:
        raise SpecError(f"{source}: source_id {spec.source_id!r} must match the file name")
    return spec


@cache
def load_specs(spec_dir: Path = SPEC_DIR) -> dict[str, SourceSpec]:
    """All source specs by source_id, sorted by id."""
    specs = {}
    for path in sorted(Path(spec_dir).glob("*.yaml")):
        spec = load_spec_file(path)
        specs[spec.source_id] = spec
    return dict(sorted(specs.items()))


# ---------------------------------------------------------------------- configuration files


def display_path(path: str | Path) -> str:
    """A path as a message shows it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _DuplicateKey(yaml.constructor.ConstructorError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key written twice in one mapping (the last would win)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base class says so
                    continue
                if duplicate:
                    raise _DuplicateKey(
                        None, None, f"key {key!r} is written twice", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


def read_config_yaml(text: str, source: str, error: type[Exception] = SpecError) -> Any:
    """Parse a configuration file's YAML; ``error`` names ``source`` and the line on failure."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        what = "" if isinstance(exc, _DuplicateKey) else "not valid YAML: "
        raise error(f"{source}: {what}{problem}{where}") from None


def _fields_of(cls: Any) -> dict[str, Any]:
    return getattr(cls, "__pydantic_fields__", None) or {}


def _inner_model(annotation: Any) -> Any:
    """The model class inside an annotation (``tuple[Level, ...]``, ``SqlSource | None``)."""
    if isinstance(annotation, type) and _fields_of(annotation):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _model_at(root: Any, loc: tuple) -> Any:
    cls = root
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a tuple or list: same model
        fields = _fields_of(cls)
        info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if info is None:
            return None
        cls = _inner_model(info.annotation)
    return cls


def _keys_of(cls: Any, hidden: Mapping[Any, set[str]]) -> list[str]:
    skip = hidden.get(cls, set())
    return [
        info.alias or name
        for name, info in _fields_of(cls).items()
        if name not in skip and (info.alias or name) not in skip
    ]


def _path(loc: tuple, label: Callable[[tuple], str | None]) -> str:
    out = ""
    for i, part in enumerate(loc):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        name = label(loc[: i + 1])
        if name:
            out += f" ({name})"
    return out


def describe_validation_error(
    exc: ValidationError,
    root: Any,
    source: str,
    *,
    label: Callable[[tuple], str | None] = lambda loc: None,
    hidden: Mapping[Any, set[str]] | None = None,
) -> str:
    """One readable line per problem, each naming ``source`` and where the key sits.

    ``root`` is the model (or pydantic dataclass) that was validated: it tells which keys
    are allowed where an unknown one was found. ``label`` may name an item of a list
    (``columns[3] (household_no: 户号)``); ``hidden`` drops fields the YAML does not write.
    """
    hidden = hidden or {}
    errors = exc.errors(include_url=False)
    lines, guessed = [], set()
    for err in errors:  # unknown keys first: a typo also makes the key it meant missing
        loc = tuple(err["loc"])
        if err["type"] not in ("extra_forbidden", "unexpected_keyword_argument"):
            continue
        key, parent = loc[-1], loc[:-1]
        where = f"in {_path(parent, label)}" if parent else "at the top level"
        allowed = _keys_of(_model_at(root, parent), hidden)
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        guessed.update((parent, c) for c in close)
        lines.append(f"unknown key {key!r} {where}{hint}; allowed keys: {', '.join(allowed)}")
    for err in errors:
        loc, kind = tuple(err["loc"]), err["type"]
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):
            continue
        if kind in ("missing", "missing_argument"):
            key, parent = loc[-1], loc[:-1]
            if (parent, key) not in guessed:
                where = f"in {_path(parent, label)}" if parent else "at the top level"
                lines.append(f"missing key {key!r} {where}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = (
            f" (got {value!r})"
            if kind != "value_error" and isinstance(value, str | int | float | bool)
            else ""
        )
        lines.append(f"{_path(loc, label)}: {msg}{shown}" if loc else msg)
    return "\n".join(f"{source}: {line}" for line in lines)
