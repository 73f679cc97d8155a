"""The GX suites: real expectations on the canonical columns, parameters, kept results."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from connectors.canonical import to_canonical
from connectors.readers import RawTable
from connectors.spec import load_specs, parse_spec
from validation.suites import build_suite, suite_parameters, validate_batch, validate_rows

# A source of its own (suites are cached per source_id), covering every kind of rule.
SPEC = parse_spec(
    {
        "source_id": "test_suite_relief",
        "department": "民政局",
        "title": "测试救助",
        "grain": "household",
        "links_by": "head",
        "format": "csv",
        "cadence": "monthly",
        "row_key": ["category", "id_number", "approved_on"],
        "columns": {
            "category": {
                "header": "救助类别",
                "type": "code",
                "required": True,
                "values": ["城乡低保", "特困供养", "临时救助"],
                "aliases": {"低保": "城乡低保"},
            },
            "name": {"header": "户主姓名", "type": "name"},
            "id_number": {"header": "身份证号", "type": "id_number"},
            "members": {"header": "保障人数", "type": "integer", "min": 1, "max": 50},
            "monthly_amount": {"header": "月保障金额", "type": "amount", "max": 100000},
            "approved_on": {"header": "审批日期", "type": "date", "required": True},
            "village": {"header": "村", "type": "text"},
        },
    }
)
GOOD = {
    "救助类别": "城乡低保",
    "户主姓名": "张三",
    "身份证号": "36050219850101123X",
    "保障人数": "3",
    "月保障金额": "500",
    "审批日期": "2026-03-07",
    "村": "新村",
}


def _batch(*rows: dict, spec=SPEC):
    frame = pd.DataFrame([{**GOOD, **row} for row in rows], dtype=object)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return to_canonical(spec, RawTable(frame))


def _failures(*rows: dict, parameters=None) -> list[tuple[str, str | None, list[int]]]:
    failures, _ = validate_batch(SPEC, _batch(*rows), parameters)
    return [(f.reason_code, f.field, list(f.rows)) for f in failures]


def _by_column(suite) -> dict[tuple[str, str], object]:
    out = {}
    for exp in suite.expectations:
        kwargs = exp.configuration.kwargs
        column = kwargs.get("column") or ",".join(kwargs.get("column_list") or ["(table)"])
        out[(exp.expectation_type, column)] = exp
    return out


def test_the_suite_holds_column_expectations_from_the_spec():
    suite = build_suite(SPEC)
    exps = _by_column(suite)
    in_set = exps[("expect_column_values_to_be_in_set", "category")]
    assert in_set.configuration.kwargs["value_set"] == ["城乡低保", "特困供养", "临时救助"]
    assert ("expect_column_values_to_not_be_null", "category") in exps  # required
    assert ("expect_column_values_to_not_be_null", "approved_on") in exps  # required
    identity = exps[("expect_column_values_to_not_be_null", "name")]
    assert identity.meta["reason_code"] == "IDENTITY_MISSING"
    assert "id_number" in repr(identity.row_condition)  # a name, where no ID was given
    amount = exps[("expect_column_values_to_be_between", "monthly_amount")]
    assert amount.configuration.kwargs["max_value"] == {"$PARAMETER": "monthly_amount_max"}
    members = exps[("expect_column_values_to_be_between", "members")]
    assert members.configuration.kwargs["min_value"] == {"$PARAMETER": "members_min"}
    dates = exps[("expect_column_values_to_be_between", "approved_on")]
    assert dates.configuration.kwargs["min_value"] == {"$PARAMETER": "plausible_date_min"}
    # Values sent but unreadable: be_null on the cells typing could not read.
    for fld in ("members", "monthly_amount", "approved_on"):
        assert ("expect_column_values_to_be_null", f"_untypable__{fld}") in exps
    regex = exps[("expect_column_values_to_match_regex", "id_number")]
    assert regex.severity.value == "warning" and not regex.meta["reason_code"]
    unique = exps[("expect_compound_columns_to_be_unique", "category,id_number,approved_on")]
    assert unique.severity.value == "info" and not unique.meta["reason_code"]
    columns = exps[("expect_table_columns_to_match_set", "(table)")]
    assert columns.configuration.kwargs["column_set"] == SPEC.fields
    # No more booleans computed in pandas beforehand.
    assert not any(col.startswith("_ok") for _, col in exps)
    assert suite_parameters(SPEC) == {
        "plausible_date_min": dt.datetime(1900, 1, 1),
        "plausible_date_max": dt.datetime(2100, 12, 31),
        "members_min": 1.0,
        "members_max": 50.0,
        "monthly_amount_min": 0.0,
        "monthly_amount_max": 100000.0,
        "id_format_mostly": 0.95,
    }


@pytest.mark.parametrize("source_id", sorted(load_specs()))
def test_every_source_suite_runs_on_an_empty_file(source_id):
    spec = load_specs()[source_id]
    frame = pd.DataFrame({c.header: pd.Series([], dtype=object) for c in spec.columns})
    failures, kept = validate_batch(spec, to_canonical(spec, RawTable(frame)))
    assert failures == [] and kept["success"]
    assert kept["statistics"]["evaluated_expectations"] == len(build_suite(spec).expectations)


def test_reasons_and_their_order_per_row():
    assert _failures({}) == []
    got = _failures(
        {"户主姓名": "", "身份证号": "", "审批日期": ""},  # no identity, required date blank
        {"审批日期": "2026-13-45", "救助类别": "低保户"},  # unreadable date, unknown code
        {"救助类别": "低保", "保障人数": "0", "月保障金额": "1.2万"},  # alias; count too low
        {"审批日期": "1885-03-07", "救助类别": " "},  # implausible date; required code blank
    )
    assert got == [
        ("IDENTITY_MISSING", None, [1]),
        ("REQUIRED_MISSING", "category", [4]),
        ("CODE_INVALID", "category", [2]),
        ("REQUIRED_MISSING", "approved_on", [1]),
        ("DATE_INVALID", "approved_on", [2]),
        ("AMOUNT_OUT_OF_RANGE", "members", [3]),
        ("DATE_OUT_OF_RANGE", "approved_on", [4]),
    ]
    # The public function callers use says the same.
    assert [(f.reason_code, f.field, list(f.rows)) for f in validate_rows(SPEC, _batch({}))] == []


def test_duplicate_keys_are_counted_not_rejected():
    failures, kept = validate_batch(SPEC, _batch({}, {}))
    assert failures == []
    (unique,) = [e for e in kept["expectations"] if e["check"] == "row_key"]
    assert not unique["success"] and unique["unexpected_count"] == 2
    assert not kept["success"] and kept["max_failure_severity"] == "info"


def test_suite_parameters_change_the_outcome():
    rows = ({"月保障金额": "500"}, {"月保障金额": "80"})
    assert _failures(*rows) == []
    assert _failures(*rows, parameters={"monthly_amount_max": 100}) == [
        ("AMOUNT_OUT_OF_RANGE", "monthly_amount", [1])
    ]
    narrower = {"plausible_date_min": dt.datetime(2026, 6, 1)}
    assert _failures({"审批日期": "2026-03-07"}, parameters=narrower) == [
        ("DATE_OUT_OF_RANGE", "approved_on", [1])
    ]
    _, kept = validate_batch(SPEC, _batch({}), {"monthly_amount_max": 100})
    assert kept["parameters"]["monthly_amount_max"] == 100
    with pytest.raises(ValueError, match="monthly_amount_maxx"):
        validate_batch(SPEC, _batch({}), {"monthly_amount_maxx": 100})


def test_the_kept_result_holds_counts_never_values():
    id_like = "360502198703154321"
    rows = (
        {"保障人数": id_like},  # an ID pasted into a count: unusable number
        {"救助类别": id_like},  # ... and into a code column
        {"身份证号": id_like[:-1] + "?"},  # a malformed ID (monitoring only)
        {"身份证号": id_like[:-1] + "?"},
        {"月保障金额": "999999999"},
    )
    failures, kept = validate_batch(SPEC, _batch(*rows))
    assert {(f.reason_code, f.field) for f in failures} == {
        ("AMOUNT_INVALID", "members"),
        ("CODE_INVALID", "category"),
        ("AMOUNT_OUT_OF_RANGE", "monthly_amount"),
    }
    text = json.dumps(kept, ensure_ascii=False)
    assert json.loads(text) == kept  # JSON-serialisable as it is
    for value in (id_like, id_like[:-1], "999999999", "张三", "新村", "36050219850101123X"):
        assert value not in text
    for key in ("unexpected_list", "partial_unexpected", "unexpected_index", "observed_value"):
        assert key not in text
    assert kept["suite_name"] == "test_suite_relief.rows" and not kept["success"]
    stats = kept["statistics"]
    assert stats["evaluated_expectations"] == len(kept["expectations"])
    assert stats["successful_expectations"] == sum(e["success"] for e in kept["expectations"])
    by_check = {(e["check"], e["field"]): e for e in kept["expectations"]}
    assert by_check[("code_list", "category")]["unexpected_count"] == 1
    assert "value_set" not in by_check[("code_list", "category")]["kwargs"]
    assert by_check[("id_format", "id_number")]["unexpected_count"] == 2
    assert by_check[("range", "approved_on")]["kwargs"]["min_value"] == "1900-01-01T00:00:00"


def test_a_file_missing_columns_is_reported_by_the_file_level_expectation():
    frame = pd.DataFrame([{k: v for k, v in GOOD.items() if k != "月保障金额"}], dtype=object)
    frame.index = pd.RangeIndex(1, 2)
    batch = to_canonical(SPEC, RawTable(frame))
    failures, kept = validate_batch(SPEC, batch)
    assert failures == []
    (columns,) = [e for e in kept["expectations"] if e["check"] == "columns"]
    assert not columns["success"] and columns["missing_columns"] == ["monthly_amount"]


def test_a_name_that_is_identity_and_required_gets_both_reasons():
    spec = parse_spec(
        {
            "source_id": "test_suite_visits",
            "department": "驻村工作队",
            "title": "测试走访",
            "grain": "household",
            "links_by": "name_place",
            "format": "csv",
            "cadence": "monthly",
            "columns": {
                "name": {"header": "户主姓名", "type": "name", "required": True},
                "village": {"header": "村", "type": "text", "required": True},
            },
        }
    )
    frame = pd.DataFrame([{"户主姓名": " ", "村": "新村"}, {"户主姓名": "李四", "村": ""}])
    frame.index = pd.RangeIndex(1, 3)
    failures, kept = validate_batch(spec, to_canonical(spec, RawTable(frame)))
    assert [(f.reason_code, f.field, list(f.rows)) for f in failures] == [
        ("IDENTITY_MISSING", None, [1]),
        ("REQUIRED_MISSING", "name", [1]),
        ("REQUIRED_MISSING", "village", [2]),
    ]
    (name,) = [e for e in kept["expectations"] if e["column"] == "name"]
    assert name["reason_code"] == "IDENTITY_MISSING" and name["also"] == [
        ["REQUIRED_MISSING", "name"]
    ]


def test_a_changed_spec_gets_a_new_suite():
    fewer = SPEC.model_copy(
        update={"columns": tuple(c for c in SPEC.columns if c.field != "monthly_amount")}
    )
    assert len(build_suite(fewer).expectations) == len(build_suite(SPEC).expectations) - 2
    frame = pd.DataFrame([{k: v for k, v in GOOD.items() if k != "月保障金额"}], dtype=object)
    frame.index = pd.RangeIndex(1, 2)
    failures, kept = validate_batch(fewer, to_canonical(fewer, RawTable(frame)))
    assert failures == [] and kept["success"]
    assert kept["statistics"]["evaluated_expectations"] == len(build_suite(fewer).expectations)
    assert validate_batch(SPEC, _batch({}))[0] == []
