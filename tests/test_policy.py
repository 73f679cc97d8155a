"""The policy on tiny frames: every row of the object-type decision table (docs/policy.md)
on both sides, national risk types and codes, 兜底保障 as a tag, the county's type first."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.test_cases import _cases, _decision, _flag, _signal
from tests.test_rules import RULES, frame, income, without_notice
from warehouse.rules import RuleInputs, RuleSetError, compute_signals, flag_households
from warehouse.rules.config import RuleSet

AS_OF = dt.date(2026, 11, 30)  # line 8,000 (2026); near the line: below 8,800


def house(hh: str, grade: str = "D") -> dict:
    return {"household_no": hh, "grade": grade, "assessed_on": "2026-05-01"}


def medical(hh: str, cost: float = 20000.0) -> dict:
    return {"household_no": hh, "settled_at": "2026-05-01", "out_of_pocket": cost}


def disability(hh: str) -> dict:
    return {
        "household_no": hh,
        "person_key": hh,
        "category": "肢体残疾",
        "grade": "一级",
        "issued_on": "2026-06-01",
        "card_status": "有效",
    }


def declaration(hh: str, reason: str = "因病") -> dict:
    return {"household_no": hh, "reason": reason, "reason_text": "住院", "applied_at": "2026-11-20"}


def registry(hh: str, registry_type: str = "一般农户", monitored: str | None = None) -> dict:
    return {"household_no": hh, "registry_type": registry_type, "monitored_type": monitored}


def flags_of(**sources: list[dict]) -> pd.DataFrame:
    """flag_households on the rows given per source (each a list of dicts)."""
    frames = {source: frame(rows) for source, rows in sources.items() if rows}
    inputs = RuleInputs(frames=frames)
    signals = compute_signals(inputs, RULES, AS_OF)
    return flag_households(signals, RULES, inputs, AS_OF).set_index("household_no")


def typed(flags: pd.DataFrame, hh: str) -> tuple[str, str]:
    return flags.loc[hh, "object_type"], flags.loc[hh, "list_category"]


# --- row 3: income below the line -> by registration ------------------------------------


def test_row3_below_the_line_is_typed_by_registration():
    flags = flags_of(
        nync_income=[income("edge", 2026, 7999.0), income("exited", 2026, 7999.0)],
        xczx_registry=[registry("exited", "脱贫户")],
    )
    assert typed(flags, "edge") == ("边缘易致贫户", "object")
    assert typed(flags, "exited") == ("脱贫不稳定户", "object")
    assert flags.loc["edge", "income_position"] == "below"
    assert flags.loc["edge", "risk_types"] == "其他" and flags.loc["edge", "risk_codes"] == "09"


def test_row3_other_side_at_the_line_is_no_monitoring_object():
    # At the line: a watch signal, no risk, so no type (row 9).
    flags = flags_of(nync_income=[income("at_line", 2026, 8000.0)])
    assert typed(flags, "at_line") == ("", "lead")
    assert flags.loc["at_line", "income_position"] == "near"
    assert flags.loc["at_line", "grade"] == "green"


# --- row 4: at or above the line with a sudden difficulty -> 突发严重困难户 ---------------


def test_row4_above_the_line_with_large_medical_costs_or_a_sharp_drop_is_sudden():
    flags = flags_of(
        nync_income=[
            income("ill", 2026, 30000.0),
            income("dropped", 2025, 20000.0),
            income("dropped", 2026, 14000.0),
            income("near_ill", 2026, 8500.0),
        ],
        yibao_settlement=[medical("ill"), medical("near_ill")],
        xczx_registry=[registry("ill", "脱贫户")],  # former-poor or ordinary alike
    )
    assert typed(flags, "ill") == ("突发严重困难户", "object")
    assert flags.loc["ill", "risk_types"] == "因病" and flags.loc["ill", "risk_codes"] == "01"
    assert typed(flags, "dropped") == ("突发严重困难户", "object")
    assert typed(flags, "near_ill") == ("突发严重困难户", "object")


def test_row4_other_side_no_sudden_cause_no_sudden_type():
    # Above the line, a disability card only: not rigid spending, not an income drop.
    # Medical costs below the threshold raise nothing.
    flags = flags_of(
        nync_income=[income("disabled", 2026, 30000.0), income("small_bill", 2026, 30000.0)],
        canlian_disability=[disability("disabled")],
        yibao_settlement=[medical("small_bill", 19999.0)],
    )
    assert typed(flags, "disabled") == ("", "verify")
    assert "small_bill" not in flags.index


def test_row4_a_dropout_is_a_gap_not_a_sudden_difficulty():
    flags = flags_of(
        nync_income=[income("dropout", 2026, 30000.0)],
        jiaoyu_students=[
            {
                "household_no": "dropout",
                "person_key": "kid",
                "school_year": "2026-2027",
                "term": "第一学期",
                "stage": "初中",
                "enrolment_status": "辍学",
                "self_paid": 0.0,
            }
        ],
    )
    assert typed(flags, "dropout") == ("", "gap_referral")
    assert flags.loc["dropout", "gap_departments"] == "教育局"


# --- rows 5 and 6: a gap near the line, or well above it --------------------------------


def test_row5_a_gap_near_the_line_is_a_monitoring_object():
    flags = flags_of(
        nync_income=[income("near", 2026, 8799.0), income("near_exited", 2026, 8500.0)],
        zhujian_housing=[house("near"), house("near_exited")],
        xczx_registry=[registry("near_exited", "脱贫户")],
    )
    assert typed(flags, "near") == ("边缘易致贫户", "object")
    assert typed(flags, "near_exited") == ("脱贫不稳定户", "object")


def test_row6_a_gap_well_above_the_line_goes_to_the_responsible_department():
    flags = flags_of(
        nync_income=[income("well_above", 2026, 8800.0), income("two_gaps", 2026, 30000.0)],
        zhujian_housing=[house("well_above"), house("two_gaps", "C")],
        yibao_enrollment=[
            {"household_no": "two_gaps", "person_key": "p", "year": 2026, "status": "未参保"}
        ],
    )
    assert typed(flags, "well_above") == ("", "gap_referral")
    assert flags.loc["well_above", "gap_departments"] == "住建局"
    assert flags.loc["well_above", "grade"] == "red"  # still red: the department must act
    assert typed(flags, "two_gaps") == ("", "gap_referral")
    assert flags.loc["two_gaps", "gap_departments"] == "住建局;医疗保障局"
    assert flags.loc["two_gaps", "risk_types"] == "住房安全;基本医疗保障"
    assert flags.loc["two_gaps", "risk_codes"] == "11;13"


# --- row 7: above the line, a risk that is neither a gap nor sudden ----------------------


def test_row7_above_the_line_with_another_risk_needs_the_verification_to_type_it():
    flags = flags_of(
        nync_income=[income("gap_and_disability", 2026, 30000.0)],
        zhujian_housing=[house("gap_and_disability")],
        canlian_disability=[disability("gap_and_disability")],
    )
    assert typed(flags, "gap_and_disability") == ("", "verify")


# --- row 8: no income data ----------------------------------------------------------------


def test_row8_without_income_data_the_type_waits_for_the_verification():
    flags = flags_of(
        zhujian_housing=[house("no_income"), house("with_income")],
        yibao_settlement=[medical("no_income_ill")],
        nync_income=[income("with_income", 2026, 7000.0)],
    )
    assert typed(flags, "no_income") == ("", "verify")
    assert typed(flags, "no_income_ill") == ("", "verify")  # sudden needs income above
    assert flags.loc["no_income", "income_position"] == "unknown"
    assert typed(flags, "with_income") == ("边缘易致贫户", "object")


# --- row 9: leads and watch signals only ---------------------------------------------------


def test_row9_a_lead_alone_has_no_type_and_a_lead_with_a_risk_has_one():
    flags = flags_of(
        declarations=[declaration("lead_only", "因意外事故"), declaration("lead_and_income")],
        nync_income=[income("lead_and_income", 2026, 7000.0)],
    )
    assert typed(flags, "lead_only") == ("", "lead")
    assert flags.loc["lead_only", "risk_types"] == "因意外事故（申报）"
    assert pd.isna(flags.loc["lead_only", "risk_codes"])  # a lead is not a risk yet
    assert typed(flags, "lead_and_income") == ("边缘易致贫户", "object")
    assert flags.loc["lead_and_income", "risk_types"] == "其他;因病（申报）"


# --- row 2: the national system's type --------------------------------------------------


def test_row2_a_type_already_in_the_national_system_stands():
    flags = flags_of(
        declarations=[declaration("monitored"), declaration("not_monitored")],
        xczx_registry=[
            registry("monitored", monitored="突发严重困难户"),
            registry("not_monitored"),
        ],
    )
    assert typed(flags, "monitored") == ("突发严重困难户", "object")
    assert typed(flags, "not_monitored") == ("", "lead")


# --- row 1: the county's confirmed type ---------------------------------------------------


def _typed_decision(decision: str, day: str, object_type: str | None, row: int = 1, **kw) -> dict:
    return {**_decision(decision, day, row=row, **kw), "object_type": object_type}


def test_row1_the_type_the_county_confirmed_overrides_the_rules():
    rules_say = [_flag(object_type="突发严重困难户")]
    confirmed = [
        _typed_decision("开始核实", "2026-10-01", "突发严重困难户"),
        _typed_decision("认定纳入", "2026-10-10", "边缘易致贫户", row=2),
        _decision("落实帮扶", "2026-10-20", measures="医疗救助", row=3),
    ]
    case = _cases(rules_say, [_signal()], confirmed).loc["H1"]
    assert (case["object_type"], case["object_type_source"]) == ("边缘易致贫户", "county")


def test_row1_other_side_a_type_written_before_admission_is_not_a_decision():
    verifying = [_typed_decision("开始核实", "2026-11-20", "脱贫不稳定户")]
    case = _cases([_flag(object_type="突发严重困难户")], [_signal()], verifying).loc["H1"]
    assert (case["object_type"], case["object_type_source"]) == ("突发严重困难户", "rules")
    untyped = _cases([_flag(object_type="")], [_signal()], verifying).loc["H1"]
    assert pd.isna(untyped["object_type"]) and untyped["object_type_source"] is None


def test_row1_a_reopened_case_is_typed_afresh():
    old = [
        _typed_decision("认定纳入", "2025-12-01", "边缘易致贫户", risk_types="因灾"),
        _decision("落实帮扶", "2025-12-20", risk_types=None, measures="受灾救助", row=2),
        _decision("风险消除", "2026-08-01", risk_types="因灾", row=3),
    ]
    case = _cases([_flag(object_type="突发严重困难户")], [_signal()], old).loc["H1"]
    assert case["case_no"] == 2 and case["status"] == "lead"
    assert (case["object_type"], case["object_type_source"]) == ("突发严重困难户", "rules")


# --- national risk types in county decisions ----------------------------------------------


@pytest.mark.parametrize("written", ["因病", "01", "01；因学", " 因病 "])
def test_a_decided_risk_type_matches_by_code_label_or_alias(written):
    closed = [
        _decision("认定纳入", "2026-01-10", risk_types=written),
        _decision("落实帮扶", "2026-01-20", measures="医疗救助", row=2),
        _decision("不予纳入", "2026-11-01", risk_types=written, row=3),
    ]
    before = [_signal(event_date=pd.Timestamp("2026-10-01"))]  # 因病, weighed by the county
    case = _cases([_flag()], before, closed).loc["H1"]
    assert case["status"] == "not_admitted" and case["case_no"] == 1
    assert case["decided_risk_types"].split(";")[0] == "因病"


def test_old_labels_still_match_and_an_unknown_name_counts_as_new():
    def closed(written):
        return [
            _decision("认定纳入", "2026-01-10", risk_types=written),
            _decision("不予纳入", "2026-11-01", risk_types=written, row=2),
        ]

    # The project's earlier label of the income rule is an alias of 其他 (09).
    income_signal = [_signal(rule_id="R-INCOME")]
    kept = _cases([_flag()], income_signal, closed("收入低于监测线")).loc["H1"]
    assert kept["status"] == "not_admitted"
    assert kept["decided_risk_types"] == "其他"
    reopened = _cases([_flag()], income_signal, closed("收入少")).loc["H1"]
    assert reopened["status"] == "lead" and reopened["case_no"] == 2


def test_a_tag_never_reopens_a_case():
    closed = [
        _decision("认定纳入", "2026-01-10"),
        _decision("不予纳入", "2026-11-01", row=2),
    ]
    tag = [_signal(rule_id="R-ASSIST", event_date=pd.Timestamp("2026-11-20"))]
    case = _cases([_flag()], tag, closed).loc["H1"]
    assert case["status"] == "not_admitted" and not case["on_list"]


def test_rigid_costs_take_the_type_of_their_largest_cost():
    frames = {
        "nync_income": frame(
            [income("school", 2025, 2000.0, net=6000.0), income("school", 2026, 9000.0)]
        ),
        # 5,000 school + 2,000 medical > 6,000 last year's net income: R-RIGID, mostly school
        "jiaoyu_students": frame(
            [{"household_no": "school", "self_paid": 5000.0, "school_year": "2026-2027"}]
        ),
        "yibao_settlement": frame([medical("school", 2000.0)]),
    }
    inputs = RuleInputs(frames=frames)
    sig = without_notice(compute_signals(inputs, RULES, AS_OF))
    assert set(sig["rule_id"]) == {"R-RIGID"}
    assert (sig["risk_code"].item(), sig["risk_type"].item()) == ("02", "因学")
    flags = flag_households(sig, RULES, inputs, AS_OF).set_index("household_no")
    assert typed(flags, "school") == ("突发严重困难户", "object")
    assert (flags.loc["school", "risk_types"], flags.loc["school", "grade"]) == ("因学", "red")


# --- the rule file's code list ---------------------------------------------------------


def _with(**changes) -> dict:
    data = RULES.model_dump()
    data.update(changes)
    return data


def test_the_code_list_refuses_unknown_codes_and_a_name_for_two_types(tmp_path):
    with pytest.raises(ValueError, match="unknown risk type code 77"):
        RuleSet.model_validate(_with(risk_of_rule={**RULES.risk_of_rule, "R-WORK": "77"}))
    doubled = {**RULES.model_dump()["risk_types"], "98": {"label": "因病", "aliases": []}}
    with pytest.raises(ValueError, match="'因病' names both 01 and 98"):
        RuleSet.model_validate(_with(risk_types=doubled))
    with pytest.raises(ValueError, match="a tag is not a risk: R-ASSIST"):
        RuleSet.model_validate(_with(risk_of_rule={**RULES.risk_of_rule, "R-ASSIST": "09"}))
    path = tmp_path / "rules.yaml"
    path.write_text(
        (RULES.source_path.read_text(encoding="utf-8")).replace('R-WORK: "07"', 'R-WORK: "77"'),
        encoding="utf-8",
    )
    from warehouse.rules import load_rule_set

    with pytest.raises(RuleSetError, match="unknown risk type code 77"):
        load_rule_set(path)


def test_every_rule_of_a_risk_has_a_national_type_and_the_tag_has_none():
    risks = [r for r in RULES.labels if r.startswith("R-")]
    assert set(RULES.risk_of_rule) | set(RULES.tags) == set(risks)
    assert RULES.tags == {"R-ASSIST": "兜底保障"}
    assert [RULES.risk_label(c) for c in RULES.risk_types][:9] == [
        "因病",
        "因学",
        "因残",
        "因自然灾害",
        "因意外事故",
        "因产业项目失败",
        "因务工就业不稳",
        "缺劳动力",
        "其他",
    ]


# --- 承诺授权书: asset checks only with the household's authorisation -------------------


def authorisation(hh: str, **changes) -> dict:
    row = {
        "household_no": hh,
        "signed_on": "2026-06-01",
        "scope": "家庭收入、资产及社会保障信息核查",
        "valid_until": "2027-05-31",
        "auth_status": "有效",
    }
    return {**row, **changes}


def test_an_asset_check_without_a_valid_authorisation_shows_pending():
    households = ["signed", "none", "expired", "withdrawn", "income_only", "future", "clean"]
    flags = flags_of(
        nync_income=[income(hh, 2026, 7000.0) for hh in households],
        gongan_vehicle=[
            {"household_no": hh, "vehicle_type": "小型轿车", "vehicle_status": "正常"}
            for hh in households
            if hh != "clean"
        ],
        xczx_authorisation=[
            authorisation("signed"),
            authorisation("clean"),
            authorisation("expired", valid_until="2026-11-29"),
            authorisation("withdrawn", auth_status="撤回"),
            authorisation("income_only", scope="仅限收入核查"),
            authorisation("future", signed_on="2026-12-01"),
        ],
    )
    assert flags.loc["signed", "asset_check"] == "名下有车辆"
    assert pd.isna(flags.loc["clean", "asset_check"])  # authorised, nothing found
    for hh in ("none", "expired", "withdrawn", "income_only", "future"):
        assert flags.loc[hh, "asset_check"] == "待签署授权", hh
    # Still valid on its last day.
    last_day = flags_of(
        nync_income=[income("h", 2026, 7000.0)],
        gongan_vehicle=[
            {"household_no": "h", "vehicle_type": "小型轿车", "vehicle_status": "正常"}
        ],
        xczx_authorisation=[authorisation("h", valid_until="2026-11-30")],
    )
    assert last_day.loc["h", "asset_check"] == "名下有车辆"


def test_no_asset_data_is_read_into_signals_without_an_authorisation():
    frames = {
        "gongan_vehicle": frame(
            [
                {"household_no": hh, "vehicle_type": "小型轿车", "vehicle_status": "正常"}
                for hh in ("signed", "none")
            ]
        ),
        "xczx_authorisation": frame([authorisation("signed")]),
    }
    sig = compute_signals(RuleInputs(frames=frames), RULES, AS_OF)
    assert sorted(zip(sig["household_no"], sig["rule_id"], strict=True)) == [
        ("signed", "A-VEHICLE")
    ]


# --- policy parameters per province and year ----------------------------------------------


def test_the_2025_example_file_sets_the_2025_line():
    from warehouse.rules import DEFAULT_RULES, load_rule_set

    example = load_rule_set(DEFAULT_RULES.with_name("example_2025.yaml"))
    assert example.line(2025) == 8600.0 and RULES.line(2025) == 7800.0
    as_of = dt.date(2025, 11, 30)
    frames = {"nync_income": frame([income("h", 2025, 8300.0)])}
    with_2025 = without_notice(compute_signals(RuleInputs(frames=frames), example, as_of))
    with_default = without_notice(compute_signals(RuleInputs(frames=frames), RULES, as_of))
    assert set(with_2025["rule_id"]) == {"R-INCOME"}  # below 8,600
    assert set(with_default["rule_id"]) == {"W-NEAR-LINE"}  # above 7,800: a watch only


def test_a_line_tied_to_the_dibao_standard():
    low_income = {**RULES.model_dump()["low_income"], "line_multiple": 1.2}
    tied = RuleSet.model_validate({**RULES.model_dump(), "low_income": low_income})
    assert tied.line(2026) == 8280.0  # 1.2 x 6,900
    assert tied.line(2025) == 7920.0  # 1.2 x 6,600
    assert RULES.line(2026) == 8000.0  # not tied: monitoring_line
    frames = {"nync_income": frame([income("h", 2026, 8100.0)])}
    sig = without_notice(compute_signals(RuleInputs(frames=frames), tied, AS_OF))
    assert set(sig["rule_id"]) == {"R-INCOME"}


def test_low_income_categories_are_tags():
    # 1.5 x 6,900 = 10,350. "edge" is under it and not on 低保; "on_dibao" is on 低保 (an
    # old, active case); "above" is not under it.
    households = ["edge", "on_dibao", "above"]
    flags = flags_of(
        nync_income=[
            income("edge", 2026, 10349.0),
            income("on_dibao", 2026, 9000.0),
            income("above", 2026, 10350.0),
        ],
        zhujian_housing=[house(hh) for hh in households],
        minzheng_assistance=[
            {
                "household_no": "on_dibao",
                "category": "城乡低保",
                "approval_date": "2020-01-01",
                "end_date": None,
                "monthly_amount": 500.0,
            }
        ],
    )
    assert flags.loc["edge", "tags"] == "低保边缘家庭"
    assert pd.isna(flags.loc["on_dibao", "tags"]) and pd.isna(flags.loc["above", "tags"])


def test_rigid_cost_households_are_tagged():
    frames = {
        "nync_income": frame([income("r", 2025, 2000.0, net=6000.0), income("r", 2026, 20000.0)]),
        "yibao_settlement": frame([medical("r", 7000.0)]),
    }
    inputs = RuleInputs(frames=frames)
    flags = flag_households(compute_signals(inputs, RULES, AS_OF), RULES, inputs, AS_OF)
    assert flags.set_index("household_no").loc["r", "tags"] == "刚性支出困难家庭"


# --- 因意外事故 from the accident source --------------------------------------------------


def accident(hh: str, injury: str = "重伤", loss: float = 0.0, on: str = "2026-05-03") -> dict:
    return {
        "household_no": hh,
        "person_key": hh,
        "accident_no": f"A{hh}",
        "occurred_on": on,
        "injury": injury,
        "property_loss": loss,
    }


def test_an_accident_killing_or_seriously_injuring_a_member_is_a_sudden_risk():
    flags_input = [
        accident("injured"),
        accident("killed", "死亡"),
        accident("loss", "轻伤", 10000.0),
        accident("minor", "轻伤", 9999.0),
        accident("old", "死亡", on="2025-11-30"),  # before the 12-month window
    ]
    frames = {"gongan_accident": frame(flags_input)}
    sig = compute_signals(RuleInputs(frames=frames), RULES, AS_OF)
    hit = sig[sig["rule_id"] == "R-ACCIDENT"]
    assert sorted(hit["household_no"]) == ["injured", "killed", "loss"]
    assert set(hit["risk_type"]) == {"因意外事故"} and set(hit["risk_code"]) == {"05"}
    assert "重伤" in hit.set_index("household_no").loc["injured", "evidence"]
    flags = flags_of(gongan_accident=flags_input, nync_income=[income("injured", 2026, 30000.0)])
    assert typed(flags, "injured") == ("突发严重困难户", "object")
    assert flags.loc["injured", "grade"] == "yellow"


def test_a_work_safety_accident_of_the_emergency_bureau_feeds_the_same_rule():
    rows = [
        {**accident("killed", "死亡"), "accident_type": "建筑施工"},
        {**accident("injured", "重伤"), "accident_type": None},
        {**accident("minor", "轻伤"), "accident_type": "工矿商贸"},
        {**accident("old", "死亡", on="2025-11-29"), "accident_type": "火灾"},
    ]
    for row in rows:
        del row["property_loss"]  # the workplace's loss, not in this extract
    frames = {
        "yingji_accident": frame(rows),
        "gongan_accident": frame([accident("road", "重伤", 12000.0)]),
    }
    sig = compute_signals(RuleInputs(frames=frames), RULES, AS_OF)
    hit = sig[sig["rule_id"] == "R-ACCIDENT"].set_index("household_no")
    assert sorted(hit.index) == ["injured", "killed", "road"]
    assert set(hit["risk_code"]) == {"05"}
    assert hit.loc["killed", "source_id"] == "yingji_accident"
    assert hit.loc["killed", "evidence"] == "意外事故（2026-05-03，建筑施工）：当事人死亡"
    assert hit.loc["injured", "evidence"] == "意外事故（2026-05-03）：当事人重伤"
    assert pd.isna(hit.loc["killed", "value"]) and hit.loc["killed", "threshold"] == 10000.0
    assert (
        hit.loc["road", "evidence"] == "意外事故（2026-05-03）：当事人重伤，直接财产损失 12000 元"
    )


def test_household_numbers_are_masked_for_analysts():
    from warehouse.marts.monitoring_list import mask_household_no

    numbers = pd.Series(["360502340982", "H1", "123456789"])
    assert mask_household_no(numbers).tolist() == ["360502****82", "**", "123456*89"]
    assert mask_household_no(pd.Series([], dtype=str)).tolist() == []  # an empty list
