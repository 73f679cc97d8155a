"""The case lifecycle on tiny frames: each transition, the deadlines, reopening, elimination."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from warehouse.cases import CaseInputs, derive_cases, suggest_measures
from warehouse.rules import load_rule_set

AS_OF = dt.date(2026, 11, 30)
RULES = load_rule_set()


def _flag(household_no="H1", as_of=AS_OF, risk_types="因病", object_type="边缘易致贫户", lead=None):
    return {
        "as_of": as_of,
        "household_no": household_no,
        "object_type": object_type,
        "risk_types": risk_types,
        "lead_date": lead,
    }


def _signal(household_no="H1", rule_id="R-MEDICAL", event_date=None):
    return {
        "household_no": household_no,
        "rule_id": rule_id,
        "risk_type": RULES.label(rule_id),
        "event_date": event_date,
    }


def _decision(decision, decided_on, household_no="H1", risk_types="因病", measures=None, row=1):
    return {
        "household_no": household_no,
        "decision": decision,
        "decided_on": decided_on,
        "risk_types": risk_types,
        "measures": measures,
        "object_type": None,
        "load_id": 1,
        "row_number": row,
    }


def _persons(household_no="H1", births=("1980-05-01", "1950-01-01")):
    return pd.DataFrame(
        {
            "household_no": household_no,
            "birth_date": pd.to_datetime(list(births)),
            "status": "正常",
        }
    )


def _cases(
    flags=(),
    signals=(),
    decisions=(),
    persons=None,
    income=None,
    as_of=AS_OF,
) -> pd.DataFrame:
    inputs = CaseInputs(
        flags=pd.DataFrame(
            list(flags), columns=["as_of", "household_no", "object_type", "risk_types", "lead_date"]
        ),
        signals=pd.DataFrame(
            list(signals), columns=["household_no", "rule_id", "risk_type", "event_date"]
        ),
        decisions=pd.DataFrame(
            list(decisions),
            columns=[
                "household_no",
                "decision",
                "decided_on",
                "risk_types",
                "measures",
                "object_type",
                "load_id",
                "row_number",
            ],
        ),
        persons=_persons() if persons is None else persons,
        income=(
            pd.DataFrame({"household_no": ["H1"], "year": [2026], "income_pc": [12000.0]})
            if income is None
            else income
        ),
    )
    return derive_cases(inputs, RULES, as_of).set_index("household_no")


def test_a_flagged_household_without_decision_is_a_lead_due_in_15_days():
    case = _cases(flags=[_flag(lead=dt.date(2026, 11, 20))], signals=[_signal()]).loc["H1"]
    assert case["status"] == "lead" and case["case_no"] == 1 and case["on_list"]
    assert case["opened_at"] == dt.date(2026, 11, 20)
    assert case["decision_due"] == dt.date(2026, 12, 5)
    assert not case["overdue"]


@pytest.mark.parametrize(
    ("lead", "overdue"),
    [(dt.date(2026, 11, 15), False), (dt.date(2026, 11, 14), True)],
)
def test_a_lead_is_overdue_the_day_after_its_15_day_deadline(lead, overdue):
    case = _cases(flags=[_flag(lead=lead)], signals=[_signal()]).loc["H1"]
    assert case["decision_due"] == lead + dt.timedelta(days=15)
    assert bool(case["overdue"]) is overdue


def test_decisions_move_the_case_through_its_statuses():
    steps = [
        ("开始核实", "2026-03-01", "verifying"),
        ("认定纳入", "2026-03-10", "confirmed"),
        ("落实帮扶", "2026-04-01", "assisting"),
    ]
    flags, signals = [_flag()], [_signal()]
    decided = []
    for decision, on, status in steps:
        decided.append(_decision(decision, on, row=len(decided) + 1))
        case = _cases(flags, signals, decided).loc["H1"]
        assert case["status"] == status
        assert case["status_since"] == dt.date.fromisoformat(on)
        assert case["opened_at"] == dt.date(2026, 3, 1)  # the first decision predates the flag
    assert case["confirmed_at"] == dt.date(2026, 3, 10)
    assert pd.isna(case["decision_due"]) and not case["overdue"]  # decided: no deadline


def test_a_decision_after_the_run_date_is_not_seen_yet():
    case = _cases([_flag()], [_signal()], [_decision("认定纳入", "2026-12-01")]).loc["H1"]
    assert case["status"] == "lead"


def test_not_admitted_leaves_the_list_and_old_evidence_never_reopens_it():
    decided = [_decision("开始核实", "2026-11-01"), _decision("不予纳入", "2026-11-10", row=2)]
    signals = [_signal(event_date=pd.Timestamp("2026-11-09"))]
    case = _cases([_flag()], signals, decided).loc["H1"]
    assert case["status"] == "not_admitted" and case["case_no"] == 1
    assert not case["on_list"]
    assert case["closed_at"] == dt.date(2026, 11, 10)


def test_a_risk_dated_after_the_closing_decision_reopens_a_new_case():
    decided = [_decision("开始核实", "2026-11-01"), _decision("不予纳入", "2026-11-10", row=2)]
    signals = [_signal(event_date=pd.Timestamp("2026-11-11"))]
    case = _cases([_flag()], signals, decided).loc["H1"]
    assert case["status"] == "lead" and case["case_no"] == 2 and case["reopened"]
    assert case["on_list"]
    assert case["opened_at"] == dt.date(2026, 11, 11)


def test_a_risk_type_the_county_never_decided_on_reopens_an_eliminated_case():
    decided = [
        _decision("认定纳入", "2025-12-01", risk_types="因灾"),
        _decision("落实帮扶", "2025-12-20", measures="受灾救助", row=2),
        _decision("风险消除", "2026-08-01", risk_types="因灾", row=3),
    ]
    undated = [_signal(rule_id="R-INCOME")]  # income: no event date
    case = _cases([_flag(risk_types="收入低于监测线")], undated, decided).loc["H1"]
    assert case["status"] == "lead" and case["case_no"] == 2 and case["reopened"]
    same_type = [_signal(rule_id="R-DISASTER", event_date=pd.Timestamp("2026-01-05"))]
    case = _cases([_flag(risk_types="因灾")], same_type, decided).loc["H1"]
    assert case["status"] == "eliminated" and case["case_no"] == 1
    # Not reopened (the county weighed that loss), but the loss still counts as an open
    # rigid cost: the elimination is kept on the list for a second look.
    assert case["decision_conflict"] == "刚性支出未化解即标注风险消除" and case["on_list"]
    # An eliminated case stays closed when nothing is signalled any more.
    case = _cases([], [], decided).loc["H1"]
    assert case["status"] == "eliminated" and not case["on_list"]


def test_an_open_case_stays_on_the_list_when_no_longer_flagged():
    decided = [_decision("认定纳入", "2026-01-10"), _decision("落实帮扶", "2026-02-01", row=2)]
    case = _cases([], [], decided).loc["H1"]
    assert case["status"] == "assisting" and case["on_list"]


def _helped(confirmed_on="2026-05-30", measures="医疗救助", **kwargs):
    decided = [_decision("认定纳入", confirmed_on)]
    if measures:
        decided.append(_decision("落实帮扶", confirmed_on, measures=measures, row=2))
    return _cases(decisions=decided, **kwargs).loc["H1"]


def test_elimination_needs_six_months_since_confirmation():
    assert _helped("2026-05-30")["elimination_check"] == "eligible"
    early = _helped("2026-06-01")
    assert early["elimination_check"] == "not_eligible"
    assert early["elimination_blockers"] == "认定未满6个月"


def test_elimination_needs_a_measure_and_income_above_the_line():
    assert "未落实帮扶措施" in _helped(measures=None)["elimination_blockers"]
    line = RULES.line(2026)
    at_line = pd.DataFrame({"household_no": ["H1"], "year": [2026], "income_pc": [line]})
    below = at_line.assign(income_pc=line - 1)
    assert _helped(income=at_line)["elimination_check"] == "eligible"
    assert "收入未稳定高于监测线" in _helped(income=below)["elimination_blockers"]
    no_data = at_line.iloc[0:0]
    assert "缺少收入数据" in _helped(income=no_data)["elimination_blockers"]


def test_an_income_signal_in_the_last_six_months_blocks_elimination():
    recent = [_flag(as_of=dt.date(2026, 6, 15), risk_types="收入低于监测线")]
    older = [_flag(as_of=dt.date(2026, 5, 15), risk_types="收入低于监测线")]
    assert "收入未稳定" in _helped(flags=recent)["elimination_blockers"]
    assert _helped(flags=older)["elimination_check"] == "eligible"


def test_open_rigid_costs_gaps_and_current_risks_block_elimination():
    medical = _helped(signals=[_signal(rule_id="R-MEDICAL")], flags=[_flag()])
    assert "刚性支出未化解" in medical["elimination_blockers"]
    water = _helped(signals=[_signal(rule_id="R-WATER")], flags=[_flag(risk_types="饮水安全")])
    assert "三保障或饮水安全未保障" in water["elimination_blockers"]
    assert "仍有风险预警" in water["elimination_blockers"]


def test_a_household_without_working_age_labour_is_never_eligible():
    elderly = _persons(births=("1950-01-01", "1955-06-01"))
    case = _helped(persons=elderly)
    assert case["working_age_members"] == 0
    assert case["elimination_check"] == "not_eligible"
    assert "家庭无劳动力" in case["elimination_blockers"]
    # Aged 59 on the run date still counts as labour; 60 does not.
    assert _helped(persons=_persons(births=("1967-11-30",)))["working_age_members"] == 1
    assert _helped(persons=_persons(births=("1966-11-30",)))["working_age_members"] == 0


def test_a_county_elimination_the_rules_forbid_is_kept_as_a_conflict_on_the_list():
    decided = [
        _decision("认定纳入", "2026-01-10"),
        _decision("落实帮扶", "2026-01-20", measures="低保", row=2),
        _decision("风险消除", "2026-10-01", row=3),
    ]
    elderly = _persons(births=("1950-01-01",))
    case = _cases(decisions=decided, persons=elderly).loc["H1"]
    assert case["status"] == "eliminated"
    assert "无劳动力户不得标注风险消除" in case["decision_conflict"]
    assert case["on_list"]
    hasty = [*decided[:2], _decision("风险消除", "2026-06-01", row=3)]
    case = _cases(decisions=hasty).loc["H1"]
    assert case["decision_conflict"] == "认定未满6个月即标注风险消除"
    proper = _cases(decisions=decided).loc["H1"]
    assert pd.isna(proper["decision_conflict"]) and not proper["on_list"]


def test_suggested_measures_follow_the_risk_and_the_labour_situation():
    risks = pd.DataFrame({"household_no": ["A", "B", "C"], "rule_id": ["R-MEDICAL"] * 3})
    labour = pd.Series([2, 0, 1], index=["A", "B", "C"])
    types = pd.Series(["脱贫不稳定户", "脱贫不稳定户", "边缘易致贫户"], index=["A", "B", "C"])
    out = suggest_measures(risks, labour, types, RULES).str.split(";")
    for household in "ABC":
        assert out[household][:2] == ["医疗救助", "大病保险倾斜"]
        assert {"防贫保险", "社会救助"} <= set(out[household])
    assert "技能培训" in out["A"] and "低保" not in out["A"]
    assert "低保" in out["B"] and "技能培训" not in out["B"]
    assert "小额信贷" in out["C"] and "小额信贷" not in out["A"]
