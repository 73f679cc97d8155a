"""Row-level Great Expectations suites, one per source, generated from its spec.

The suite runs on the canonical batch augmented with one boolean column per check
(``_ok__<field>``), so every expectation maps a failing row straight to a reason code and
the department's column. GX 1.x is called directly (the Airflow provider conflicts with
Airflow 3); a single ephemeral context serves the whole process.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import cache

import pandas as pd

from connectors.canonical import CanonicalBatch
from connectors.spec import SourceSpec

__all__ = ["RowFailure", "build_suite", "validate_rows"]

log = logging.getLogger(__name__)

_TYPE_REASON = {
    "date": "DATE_INVALID",
    "datetime": "DATE_INVALID",
    "month": "DATE_INVALID",
    "amount": "AMOUNT_INVALID",
    "integer": "AMOUNT_INVALID",
    "code": "CODE_INVALID",
}


@dataclass(frozen=True)
class RowFailure:
    """Rows (by data row number) failing one check."""

    reason_code: str
    field: str | None
    rows: pd.Index


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def _checks(spec: SourceSpec) -> list[tuple[str, str, str | None]]:
    """(check column, reason code, field) for every row rule the spec implies."""
    checks: list[tuple[str, str, str | None]] = []
    if spec.links_by != "none":
        checks.append(("_ok__identity", "IDENTITY_MISSING", None))
    for col in spec.columns:
        if col.required:
            checks.append((f"_ok_required__{col.field}", "REQUIRED_MISSING", col.field))
        if col.type in _TYPE_REASON:
            checks.append((f"_ok__{col.field}", _TYPE_REASON[col.type], col.field))
    return checks


# Dates outside this window are typos (1885 for 1985, 2062 for 2026), not history.
DATE_RANGE = (dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31))


def _ranges(spec: SourceSpec) -> list[tuple[str, object, object, str]]:
    """(field, min, max, reason code) for every plausibility range of the spec."""
    out = []
    for col in spec.columns:
        if col.type in ("amount", "integer") and (
            col.minimum is not None or col.maximum is not None
        ):
            out.append((col.field, col.minimum, col.maximum, "AMOUNT_OUT_OF_RANGE"))
        elif col.type in ("date", "datetime", "month"):
            out.append((col.field, *DATE_RANGE, "DATE_OUT_OF_RANGE"))
    return out


_SUITES: dict[str, object] = {}


def build_suite(spec: SourceSpec):
    """The GX expectation suite of one source (built once; registered in the context)."""
    import great_expectations as gx

    if spec.source_id in _SUITES:
        return _SUITES[spec.source_id]
    context = _context()  # GX needs an active context before a suite is built

    suite = gx.ExpectationSuite(name=f"{spec.source_id}.rows")
    for column, code, fld in _checks(spec):
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeInSet(
                column=column, value_set=[True], meta={"reason_code": code, "field": fld}
            )
        )
    for fld, low, high, code in _ranges(spec):
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column=f"_value__{fld}",
                min_value=low,
                max_value=high,
                meta={"reason_code": code, "field": fld},
            )
        )
    _SUITES[spec.source_id] = context.suites.add(suite)
    return _SUITES[spec.source_id]


@cache
def _batch_definition(source_id: str):
    ctx = _context()
    ds = ctx.data_sources.add_or_update_pandas(f"rows_{source_id}")
    asset = ds.add_dataframe_asset(source_id)
    return asset.add_batch_definition_whole_dataframe("file")


def _check_frame(spec: SourceSpec, batch: CanonicalBatch) -> pd.DataFrame:
    values, invalid = batch.values, batch.invalid
    frame = pd.DataFrame(index=values.index)
    if spec.links_by != "none":
        has_id = pd.Series(False, index=values.index)
        for col in spec.columns:
            if col.type == "id_number":
                has_id |= values[col.field].notna()
        has_name = values["name"].notna() if spec.has("name") else False
        frame["_ok__identity"] = has_id | has_name
    for col in spec.columns:
        if col.required:
            # A value that was sent but failed typing is reported by its type check instead.
            frame[f"_ok_required__{col.field}"] = values[col.field].notna() | invalid[col.field]
        if col.type in _TYPE_REASON:
            frame[f"_ok__{col.field}"] = ~invalid[col.field]
    for fld, *_ in _ranges(spec):
        value = values[fld]
        frame[f"_value__{fld}"] = value if value.dtype.kind == "M" else value.astype("float64")
    return frame


def validate_rows(spec: SourceSpec, batch: CanonicalBatch) -> list[RowFailure]:
    """Run the source's suite on a batch; one RowFailure per failing expectation."""
    if len(batch) == 0:
        return []
    frame = _check_frame(spec, batch).reset_index(drop=True)
    suite = build_suite(spec)
    result = (
        _batch_definition(spec.source_id)
        .get_batch(batch_parameters={"dataframe": frame})
        .validate(suite, result_format={"result_format": "COMPLETE"})
    )
    failures = []
    row_numbers = batch.values.index
    for res in result.results:
        if res.success:
            continue
        meta = res.expectation_config.meta or {}
        positions = res.result.get("unexpected_index_list") or []
        failures.append(
            RowFailure(meta["reason_code"], meta.get("field"), row_numbers[list(positions)])
        )
    return failures
