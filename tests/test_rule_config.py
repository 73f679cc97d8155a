"""The rule-set file: typed, unknown keys refused with the file, key path and allowed keys."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from warehouse.rules import (
    DEFAULT_RULES,
    RULE_IDS,
    RuleInputs,
    RuleSet,
    RuleSetError,
    compute_signals,
    load_rule_set,
)

DEFAULT_TEXT = DEFAULT_RULES.read_text(encoding="utf-8")

# The smallest file the code accepts: every key present, lists as short as they may be.
MINIMAL = """\
province: 测试省
monitoring_line: {2024: 6000}
near_line_margin: 0.2
income_drop_ratio: 0.5
window_months: 6
medical: {registered_threshold: 1000, other_threshold: 2000}
disaster: {min_loss: 500, min_rooms_collapsed: 2}
housing: {unsafe_grades: [D]}
working_age: [18, 60]
school:
  min_self_paid: 3000
  year_start_month: 9
  term_order: [上学期, 下学期]
  dropout_status: [辍学]
  compulsory_age: [6, 15]
  compulsory_stages: [小学, 初中]
  dropout_is_gap: false
disability: {grades: [一级], valid_status: [有效]}
work:
  employed_status: [务工]
  unemployed_status: [登记失业]
  recent_months: 2
  baseline_months: 6
  wage_drop_ratio: 0.4
labour: {death_reasons: [死亡]}
water: {min_litres_per_person_day: 35, max_fetch_minutes: 30, unsafe_quality: [否]}
medins: {not_enrolled_status: [未参保]}
assist: {sources: [minzheng_assistance], categories: [城乡低保]}
decision_days: 10
cases:
  status_by_decision: {认定纳入: confirmed}
  closing: [eliminated]
  open: [confirmed]
  elimination:
    min_months_since_confirmed: 3
    min_measures: 0
    income_stable_months: 3
    income_rules: [R-INCOME]
    rigid_rules: []
  status_labels: {lead: 线索}
measures:
  by_risk: {}
  with_labour: []
  with_labour_edge: []
  without_labour: []
  everyone: []
leads: {no_finding_patterns: [无异常]}
assets:
  vehicle_types: []
  vehicle_active_status: []
  company_types: []
  company_active_status: []
  min_active_properties: 3
labels: {R-INCOME: 收入低}
gap_rules: []
risk_types: {"01": {label: 因病}}
risk_of_rule: {}
tags: {}
object_types: {sudden_rules: []}
authorisation:
  source: xczx_authorisation
  asset_scope: [全部]
  gated_sources: {gongan_vehicle: [车辆]}
  valid_status: [有效]
  pending_label: 待授权
low_income:
  dibao_standard: {2024: 5000}
  edge_multiple: 1.5
  dibao_categories: [城乡低保]
  edge_tag: 低保边缘
  rigid_tag: 刚性支出困难
accident: {sources: [gongan_accident], injuries: [死亡], min_loss: 1}
rolling_income:
  enabled: false
  source: renshe_employment
  months: 12
  min_months: 6
  no_wage_status: [登记失业]
industry: {sources: [declarations], reasons: [因产业失败]}
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(RuleSetError) as caught:
        load_rule_set(path)
    message = str(caught.value)
    assert message.startswith(f"rules file {path}: ")
    return message


def test_default_loads_typed_with_its_path_and_hash():
    rules = load_rule_set()
    assert isinstance(rules, RuleSet)
    assert rules.source_path == DEFAULT_RULES.resolve()
    assert rules.sha256 == hashlib.sha256(DEFAULT_RULES.read_bytes()).hexdigest()
    assert load_rule_set(DEFAULT_RULES).sha256 == rules.sha256
    assert rules.line(2026) == 8000.0
    assert rules.line(2030) == 8000.0  # the latest line set before the year
    assert rules.line(2020) == 7800.0  # before every line: the earliest
    assert rules.working_age == (16, 59)
    assert set(rules.labels) == set(RULE_IDS)
    # Attribute and item access read the same values (the rest of the code uses items).
    assert rules["medical"]["registered_threshold"] == rules.medical.registered_threshold
    assert rules["cases"]["status_labels"]["lead"] == "线索待核实"
    assert rules.label("R-MEDICAL") == "因病"
    assert rules.label("X-UNKNOWN") == "X-UNKNOWN"


def test_rule_set_is_read_only():
    rules = load_rule_set()
    with pytest.raises(ValueError, match="frozen"):
        rules.window_months = 6
    with pytest.raises(KeyError):
        rules["no_such_section"]


def test_unknown_top_level_key_is_refused_naming_file_key_and_allowed(tmp_path):
    message = refused(tmp_path, DEFAULT_TEXT + "gap_rulez: [R-HOUSING]\n")
    assert "unknown key 'gap_rulez' at the top level" in message
    assert "allowed: accident, assets, assist, authorisation, cases, decision_days," in message
    assert "gap_rules" in message.split("allowed:")[1]


def test_misspelt_nested_key_is_refused_once_with_the_key_it_meant(tmp_path):
    text = DEFAULT_TEXT.replace("  registered_threshold: 5000", "  registerd_threshold: 5000")
    message = refused(tmp_path, text)
    assert message == (
        f"rules file {tmp_path / 'rules.yaml'}: unknown key 'registerd_threshold' under "
        "'medical' (did you mean 'registered_threshold'?); "
        "allowed: other_threshold, registered_threshold"
    )


def test_unknown_key_two_levels_down_names_the_path(tmp_path):
    text = DEFAULT_TEXT.replace("    min_measures: 1", "    min_measures: 1\n    grace_days: 3")
    message = refused(tmp_path, text)
    assert "unknown key 'grace_days' under 'cases.elimination'" in message
    assert "allowed: income_rules, income_stable_months, min_measures," in message


def test_missing_key_is_named(tmp_path):
    data = yaml.safe_load(DEFAULT_TEXT)
    del data["disaster"]["min_loss"]
    message = refused(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    assert message.endswith("missing key 'min_loss' under 'disaster'")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "registered_threshold: 5000",
            "registered_threshold: 五千",
            "'medical.registered_threshold': Input should be a valid number",
        ),
        ("working_age: [16, 59]", "working_age: 16", "'working_age': Input should be a valid"),
        ("unsafe_grades: [C, D]", "unsafe_grades: [C, 4]", "'housing.unsafe_grades[1]'"),
        ("  2026: 8000", "  二〇二六: 8000", "'monitoring_line': key '二〇二六'"),
        ("year_start_month: 9", "year_start_month: 13", "'school.year_start_month'"),
    ],
)
def test_wrong_type_is_refused_with_the_key_path_and_value(tmp_path, old, new, expected):
    assert old in DEFAULT_TEXT
    message = refused(tmp_path, DEFAULT_TEXT.replace(old, new))
    assert expected in message
    assert "\n" not in message  # one problem, one line


def test_a_section_given_as_a_value_lists_its_keys(tmp_path):
    text = DEFAULT_TEXT.replace("housing:\n  unsafe_grades: [C, D]", "housing: [C, D]")
    assert "'housing' must be a section with the keys unsafe_grades" in refused(tmp_path, text)


def test_unknown_rule_id_is_refused(tmp_path):
    text = DEFAULT_TEXT.replace("gap_rules: [R-HOUSING,", "gap_rules: [R-HOUSNG,")
    message = refused(tmp_path, text)
    assert "'gap_rules': unknown rule id 'R-HOUSNG'; known: R-INCOME, R-DROP," in message


def test_several_problems_are_listed_one_per_line(tmp_path):
    text = DEFAULT_TEXT.replace("window_months: 12", "window_months: twelve") + "extra: 1\n"
    message = refused(tmp_path, text)
    assert message.splitlines()[0].endswith(": 2 problems:")
    assert "  - 'window_months': Input should be a valid integer" in message
    assert "  - unknown key 'extra' at the top level" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "expected a mapping of settings, got nothing"),
        (b"- a\n- b\n", "expected a mapping of settings, got list"),
        (b"province: [1,\n", "not valid YAML at line 2, column 1"),
        ("province: é\n".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, expected):
    path = tmp_path / "rules.yaml"
    path.write_bytes(content)
    with pytest.raises(RuleSetError, match=expected):
        load_rule_set(path)


def test_rule_set_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="rules file"):
        load_rule_set(write(tmp_path, "province: x\n"))


def test_minimal_custom_file_loads_and_drives_the_rules(tmp_path):
    path = write(tmp_path, MINIMAL, "province.yaml")
    rules = load_rule_set(path)
    assert rules.source_path == path.resolve()
    assert rules.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rules.sha256 != load_rule_set().sha256
    assert rules.line(2026) == 6000.0
    assert rules.working_age == (18, 60)
    assert rules.school.dropout_is_gap is False
    assert rules.label("R-DROP") == "R-DROP"  # no label set: the rule id

    income = pd.DataFrame(
        {
            "household_no": ["below", "near"],
            "year": [2026, 2026],
            "income_pc": [5999.0, 7000.0],
            "income_net": [18000.0, 21000.0],
            "record_key": ["k0", "k1"],
            "load_id": 1,
            "row_number": [1, 2],
        }
    )
    signals = compute_signals(
        RuleInputs(frames={"nync_income": income}), rules, dt.date(2026, 11, 30)
    )
    # Each with the notice that its vehicle check waits for an authorisation (none given).
    notice = signals[signals["rule_id"] == "A-PENDING"]
    assert notice["evidence"].tolist() == ["待授权：A-VEHICLE（尚无承诺授权书）"] * 2  # no label
    signals = signals[signals["rule_id"] != "A-PENDING"]
    found = dict(zip(signals["household_no"], signals["rule_id"], strict=True))
    assert found == {"below": "R-INCOME", "near": "W-NEAR-LINE"}  # line 6000, margin 20%
    assert signals.loc[signals["rule_id"] == "R-INCOME", "risk_type"].item() == "收入低"
