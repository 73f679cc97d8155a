"""Row-level Great Expectations suites, one per source, generated from its spec.

The expectations run on the canonical (typed) columns themselves:

- the file has every canonical column (``expect_table_columns_to_match_set``);
- a row names someone: an ID number or a name (``not_be_null`` on the name, among the rows
  without any ID number);
- a required field is not blank (``not_be_null``; for a date, amount or count, among the
  rows whose cell typing could read: the others are reported by the type check);
- codes are in the spec's code list (``be_in_set``): the code column holds the canonical code,
  or the cell as sent where it is none of the codes, so that this expectation finds them;
- a date, amount or count that was sent could be read (``be_null`` on ``_untypable__<field>``:
  the cells typing could not read, as sent; typing turns them into null in the canonical
  column, which alone cannot tell them from blank cells);
- amounts, counts and dates are in their plausible range (``be_between``, bounds as suite
  parameters);
- monitoring only (severity warning/info, never a reason to reject a row): ID numbers look
  like ID numbers (``match_regex``, ``mostly`` as a parameter) and the row key is unique in
  the file (duplicates are counted as duplicates by the load, not quarantined).

Each source has a Checkpoint (one ValidationDefinition: its suite on a whole-dataframe
batch); thresholds are passed at validation time as expectation parameters. GX 1.x is
called directly (the Airflow provider conflicts with Airflow 3); a single ephemeral context
serves the whole process. GX's own store of results keeps nothing (a result holds the failing
values, which can be ID numbers); what is kept is validate_batch's value-free summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from connectors.canonical import CanonicalBatch
from connectors.spec import SourceSpec
from connectors.textops import scalar_text

__all__ = [
    "DATE_RANGE",
    "ID_FORMAT_MOSTLY",
    "RowFailure",
    "build_suite",
    "checkpoint",
    "reasons_of",
    "suite_parameters",
    "validate_batch",
    "validate_rows",
]

log = logging.getLogger(__name__)

_TYPE_REASON = {
    "date": "DATE_INVALID",
    "datetime": "DATE_INVALID",
    "month": "DATE_INVALID",
    "amount": "AMOUNT_INVALID",
    "integer": "AMOUNT_INVALID",
    "code": "CODE_INVALID",
}
_DATES = ("date", "datetime", "month")
TEXT = pd.StringDtype("pyarrow")
_NUMBERS = ("amount", "integer")

# Dates outside this window are typos (1885 for 1985, 2062 for 2026), not history.
DATE_RANGE = (dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31))
# Share of ID cells that should look like an 18-digit (or old 15-digit) ID number; below it
# the file is worth a look (the rows still load: matching tells the ID's status per row).
ID_FORMAT_MOSTLY = 0.95
_ID_REGEX = r"^ *(?:[0-9]{17}[0-9Xx]|[0-9]{15}) *$"  # no \s, so pyarrow runs it (RE2)

# What a kept result may say about an expectation's outcome: counts, never values.
_KEPT_RESULT_KEYS = (
    "element_count",
    "missing_count",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_nonmissing",
)
# Kwargs that hold data rather than configuration (the codes live in the spec).
_DROPPED_KWARGS = ("batch_id", "value", "value_set")

_RESULT_FORMAT = {
    "result_format": "COMPLETE",  # unexpected_index_list: every failing row
    "partial_unexpected_count": 0,
    "return_unexpected_index_query": False,
}


@dataclass(frozen=True)
class RowFailure:
    """Rows (by data row number) failing one check."""

    reason_code: str
    field: str | None
    rows: pd.Index


def _untypable(field: str) -> str:
    return f"_untypable__{field}"


def _param_min(field: str) -> str:
    return f"{field}_min"


def _param_max(field: str) -> str:
    return f"{field}_max"


def suite_parameters(spec: SourceSpec) -> dict[str, Any]:
    """The default value of every parameter of the source's suite (thresholds, by name)."""
    params: dict[str, Any] = {}
    if any(c.type in _DATES for c in spec.columns):
        params["plausible_date_min"], params["plausible_date_max"] = DATE_RANGE
    for col in spec.columns:
        if col.type in _NUMBERS:
            if col.minimum is not None:
                params[_param_min(col.field)] = col.minimum
            if col.maximum is not None:
                params[_param_max(col.field)] = col.maximum
        elif col.type == "id_number" and col.id_form == "plain":
            params["id_format_mostly"] = ID_FORMAT_MOSTLY
    return params


@cache
def _unkept_results_store():
    from great_expectations.data_context.store import ValidationResultsStore

    class UnkeptResultsStore(ValidationResultsStore):
        """GX's store of validation results, keeping nothing.

        A stored result holds the failing values (ID numbers among them) and serialising a
        result with every failing row costs more than the validation itself. What is kept
        of a run is validate_batch's value-free summary, in the warehouse.
        """

        def set(self, key, value, **kwargs):
            return None

    UnkeptResultsStore.__module__ = __name__
    return UnkeptResultsStore


def __getattr__(name: str):
    # GX builds a store from its module and class names; the class needs GX, imported lazily.
    if name == "UnkeptResultsStore":
        return _unkept_results_store()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.add_store("unkept_results", {"class_name": "UnkeptResultsStore", "module_name": __name__})
    ctx.validation_results_store_name = "unkept_results"
    return ctx


def _identity_columns(spec: SourceSpec) -> list[str]:
    cols = [c.field for c in spec.columns if c.type == "id_number"]
    return cols + (["name"] if spec.has("name") else [])


def _expectations(spec: SourceSpec) -> list:
    """The suite's expectations, in the order their reasons are reported for a row."""
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations

    def meta(rank: int | None, code: str | None, fld: str | None, check: str) -> dict:
        return {"rank": rank, "reason_code": code, "field": fld, "check": check}

    rows: list = []  # expectations that reject rows, in the order a row's reasons are listed
    rank = 0

    def add(expectation) -> None:
        nonlocal rank
        kwargs = expectation.configuration.kwargs
        same = next(
            (e for e in rows if type(e) is type(expectation) and e.configuration.kwargs == kwargs),
            None,
        )
        if same is None:
            rows.append(expectation)
        else:
            # One expectation with two reasons (a name that is both the identity and a
            # required field): GX keeps only one of two identical expectations.
            same.meta.setdefault("also", []).append(expectation.meta)
        rank += 1

    if spec.links_by != "none":
        identity = _identity_columns(spec)
        if not identity:
            raise ValueError(f"{spec.source_id}: links_by {spec.links_by!r} needs an ID or name")
        *others, target = identity
        condition = None
        for other in others:
            cond = Column(other).is_null()
            condition = cond if condition is None else condition & cond
        add(
            E.ExpectColumnValuesToNotBeNull(
                column=target,
                row_condition=condition,
                meta=meta(rank, "IDENTITY_MISSING", None, "identity"),
            )
        )
    for col in spec.columns:
        # Dates, amounts, counts: typing nulls what it cannot read (kept in _untypable__).
        typed = col.type in _TYPE_REASON and col.type != "code"
        if col.required:
            add(
                E.ExpectColumnValuesToNotBeNull(
                    column=col.field,
                    # A value typing could not read is reported by the type check instead.
                    row_condition=Column(_untypable(col.field)).is_null() if typed else None,
                    meta=meta(rank, "REQUIRED_MISSING", col.field, "required"),
                )
            )
        if typed:
            add(
                E.ExpectColumnValuesToBeNull(
                    column=_untypable(col.field),
                    meta=meta(rank, _TYPE_REASON[col.type], col.field, "typed"),
                )
            )
        elif col.type == "code":
            add(
                E.ExpectColumnValuesToBeInSet(
                    column=col.field,
                    value_set=list(col.values),
                    meta=meta(rank, "CODE_INVALID", col.field, "code_list"),
                )
            )
    for col in spec.columns:
        low = high = None
        if col.type in _NUMBERS:
            code = "AMOUNT_OUT_OF_RANGE"
            if col.minimum is not None:
                low = {"$PARAMETER": _param_min(col.field)}
            if col.maximum is not None:
                high = {"$PARAMETER": _param_max(col.field)}
        elif col.type in _DATES:
            code = "DATE_OUT_OF_RANGE"
            low, high = {"$PARAMETER": "plausible_date_min"}, {"$PARAMETER": "plausible_date_max"}
        if low is None and high is None:
            continue
        add(
            E.ExpectColumnValuesToBeBetween(
                column=col.field,
                min_value=low,
                max_value=high,
                meta=meta(rank, code, col.field, "range"),
            )
        )

    monitoring: list = [
        E.ExpectTableColumnsToMatchSet(
            column_set=spec.fields,
            exact_match=False,
            meta=meta(None, None, None, "columns"),
        )
    ]
    for col in spec.columns:
        if col.type == "id_number" and col.id_form == "plain":
            monitoring.append(
                E.ExpectColumnValuesToMatchRegex(
                    column=col.field,
                    regex=_ID_REGEX,
                    mostly={"$PARAMETER": "id_format_mostly"},
                    severity="warning",
                    meta=meta(None, None, col.field, "id_format"),
                )
            )
    if spec.row_key:
        key = list(spec.row_key)
        # Duplicates within a file load as duplicates (the newest row per key is kept):
        # counted here, never a reason to reject a row.
        about = {"severity": "info", "meta": meta(None, None, None, "row_key")}
        monitoring.append(
            E.ExpectColumnValuesToBeUnique(column=key[0], **about)
            if len(key) == 1
            else E.ExpectCompoundColumnsToBeUnique(column_list=key, **about)
        )
    return rows + monitoring


# Built once per source and registered in the context; rebuilt if the spec changes.
_SUITES: dict[str, tuple[SourceSpec, object]] = {}
_CHECKPOINTS: dict[str, tuple[SourceSpec, object]] = {}


def build_suite(spec: SourceSpec):
    """The GX expectation suite of one source (registered in the context)."""
    import great_expectations as gx

    cached = _SUITES.get(spec.source_id)
    if cached is None or cached[0] != spec:
        context = _context()  # GX needs an active context before a suite is built
        suite = gx.ExpectationSuite(name=f"{spec.source_id}.rows")
        for expectation in _expectations(spec):
            suite.add_expectation(expectation)
        _SUITES[spec.source_id] = cached = (spec, context.suites.add_or_update(suite))
    return cached[1]


def checkpoint(spec: SourceSpec):
    """The source's Checkpoint: its suite on a whole-dataframe batch, failing rows listed."""
    import great_expectations as gx

    cached = _CHECKPOINTS.get(spec.source_id)
    if cached is None or cached[0] != spec:
        ctx = _context()
        source = ctx.data_sources.add_or_update_pandas(f"rows_{spec.source_id}")
        asset = source.add_dataframe_asset(spec.source_id)
        batch_definition = asset.add_batch_definition_whole_dataframe("file")
        definition = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=f"{spec.source_id}.rows", data=batch_definition, suite=build_suite(spec)
            )
        )
        built = ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"{spec.source_id}.checkpoint",
                validation_definitions=[definition],
                result_format=_RESULT_FORMAT,
            )
        )
        _CHECKPOINTS[spec.source_id] = cached = (spec, built)
    return cached[1]


def _cells_as_text(raw: pd.Series, where: pd.Series) -> pd.Series:
    """The cells as sent, as the text typing read them, where ``where`` holds; null elsewhere.

    Categorical: a few distinct texts, so GX copies and hashes small integer codes.
    """
    mask = where.to_numpy(dtype=bool)
    texts = pd.Index([str(scalar_text(v)) for v in raw[mask].tolist()], dtype=object)
    categories = texts.unique()
    codes = np.full(len(raw), -1, dtype=np.int32)
    codes[mask] = categories.get_indexer(texts)
    return pd.Series(pd.Categorical.from_codes(codes, categories), index=raw.index)


def _categorical(values: pd.Series) -> pd.Series:
    """The same values as a categorical (pyarrow's dictionary encoding for arrow strings)."""
    codes, uniques = pd.factorize(values)
    return pd.Series(pd.Categorical.from_codes(codes, uniques), index=values.index)


def _frame(spec: SourceSpec, batch: CanonicalBatch) -> pd.DataFrame:
    """The canonical columns the file has, with the helper columns; positional index.

    Text-like columns are categorical: GX copies the whole frame for nearly every
    expectation (and hashes it once), which costs far less on small integer codes than on
    strings or Python objects.
    """
    missing = {c.field for c in batch.missing_columns}
    values, invalid, raw = batch.values, batch.invalid, batch.raw
    columns: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.field in missing:
            continue
        value, bad = values[col.field], invalid[col.field]
        if col.type == "code":
            # The code, or the cell as sent where it is none of the codes.
            if bad.any():
                value = value.astype(object).where(~bad, _cells_as_text(raw[col.field], bad))
            columns[col.field] = _categorical(value)
        elif col.type in ("text", "name", "id_number"):
            # ID numbers as sent: the normalised ID is matching's business.
            columns[col.field] = _categorical(value)
        elif col.type == "integer":
            # Exact below 2**53 (typing refuses larger); GX compares nullable integers
            # (Int64) row by row in Python, float64 at once.
            columns[col.field] = value.astype("float64")
        else:
            columns[col.field] = value
    for col in spec.columns:
        if col.type in _TYPE_REASON and col.type != "code" and col.field not in missing:
            columns[_untypable(col.field)] = _cells_as_text(raw[col.field], invalid[col.field])
    return pd.DataFrame(columns, index=values.index).reset_index(drop=True)


def _parameters(spec: SourceSpec, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    params = suite_parameters(spec)
    unknown = sorted(set(overrides or {}) - set(params))
    if unknown:
        raise ValueError(
            f"{spec.source_id}: unknown suite parameters {unknown}; known: {sorted(params)}"
        )
    params.update(overrides or {})
    return params


def _json_value(value: Any) -> Any:
    """A JSON-safe copy of a kwarg or statistic (datetimes as ISO text, NaN as null)."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_value(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "value"):  # enums (severity)
        return _json_value(value.value)
    return str(value)


def reasons_of(meta: dict | None) -> list[dict]:
    """The row reasons an expectation stands for: rank, reason_code, field, check."""
    meta = meta or {}
    return [m for m in (meta, *meta.get("also", ())) if m.get("reason_code")]


def _raised(res) -> bool:
    """Whether an expectation could not be evaluated (GX reports it per metric)."""
    info = res.exception_info or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("exception_message") for v in info.values())


def _columns_of(config) -> list[str]:
    kwargs = config.kwargs
    return list(kwargs.get("column_list") or [kwargs.get("column")])


def _kept(spec: SourceSpec, suite_result, params: dict, rows: int) -> dict:
    """What to keep of a run: statistics per expectation, never the failing values."""
    expectations = []
    for res in suite_result.results:
        config = res.expectation_config
        meta = config.meta or {}
        kwargs = {k: v for k, v in config.kwargs.items() if k not in _DROPPED_KWARGS}
        entry = {
            "type": config.type,
            "column": kwargs.get("column") or kwargs.get("column_list"),
            "kwargs": _json_value(kwargs),
            "severity": _json_value(config.severity),
            "check": meta.get("check"),
            "reason_code": meta.get("reason_code"),
            "field": meta.get("field"),
            **(
                {"also": [[m["reason_code"], m["field"]] for m in meta["also"]]}
                if "also" in meta
                else {}
            ),
            "success": bool(res.success),
            **{k: _json_value(res.result[k]) for k in _KEPT_RESULT_KEYS if k in res.result},
        }
        if meta.get("check") == "columns":
            mismatched = (res.result.get("details") or {}).get("mismatched") or {}
            entry["missing_columns"] = sorted(
                c for c in mismatched.get("missing", []) if c in spec.fields
            )
        if _raised(res):
            entry["exception"] = True
        expectations.append(entry)
    return {
        "suite_name": suite_result.suite_name,
        "checkpoint": f"{spec.source_id}.checkpoint",
        "source_id": spec.source_id,
        "success": bool(suite_result.success),
        "max_failure_severity": _json_value(suite_result.get_max_severity_failure()),
        "rows": rows,
        "statistics": _json_value(dict(suite_result.statistics)),
        "parameters": _json_value(params),
        "expectations": expectations,
    }


def validate_batch(
    spec: SourceSpec, batch: CanonicalBatch, parameters: Mapping[str, Any] | None = None
) -> tuple[list[RowFailure], dict]:
    """Run the source's Checkpoint on a batch.

    Returns one RowFailure per failing rejecting expectation (in reason order) and the
    result to keep: suite, success, statistics and per expectation its kwargs and counts,
    JSON-serialisable and without any value of the batch. ``parameters`` override the
    suite's thresholds (see ``suite_parameters``).
    """
    params = _parameters(spec, parameters)
    frame = _frame(spec, batch)
    run = checkpoint(spec).run(batch_parameters={"dataframe": frame}, expectation_parameters=params)
    (suite_result,) = run.run_results.values()

    missing = {c.field for c in batch.missing_columns}
    failures: list[tuple[int, RowFailure]] = []
    row_numbers = batch.values.index
    for res in suite_result.results:
        meta = res.expectation_config.meta or {}
        if _raised(res):
            if missing:
                continue  # columns are absent: the file-level check reports it
            columns = _columns_of(res.expectation_config)
            raise RuntimeError(
                f"{spec.source_id}: {res.expectation_config.type} on {columns} could not "
                "be evaluated (a bug, not a data problem)"
            )
        if res.success:
            continue
        rows = row_numbers[list(res.result.get("unexpected_index_list") or [])]
        for reason in reasons_of(meta):
            failures.append(
                (reason["rank"], RowFailure(reason["reason_code"], reason["field"], rows))
            )
    failures.sort(key=lambda pair: pair[0])
    return [f for _, f in failures], _kept(spec, suite_result, params, len(batch))


def validate_rows(spec: SourceSpec, batch: CanonicalBatch) -> list[RowFailure]:
    """Run the source's suite on a batch; one RowFailure per failing expectation."""
    if len(batch) == 0:
        return []
    return validate_batch(spec, batch)[0]
