"""Risk rules on tiny inline frames: each threshold tested on both sides."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from warehouse.rules import RuleInputs, compute_signals, flag_households, load_rule_set

AS_OF = dt.date(2026, 11, 30)
RULES = load_rule_set()


def frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out["record_key"] = [f"k{i}" for i in range(len(out))]
    out["load_id"] = 1
    out["row_number"] = range(1, len(out) + 1)
    for col in out.columns:
        if col.endswith(("_on", "_at", "_date")):
            out[col] = pd.to_datetime(out[col])
    return out


def signals(**frames) -> pd.DataFrame:
    return compute_signals(RuleInputs(frames=frames), RULES, AS_OF)


def rules_of(sig: pd.DataFrame, household: str) -> set[str]:
    return set(sig.loc[sig["household_no"] == household, "rule_id"])


def income(hh: str, year: int, pc: float, net: float | None = None) -> dict:
    return {
        "household_no": hh,
        "year": year,
        "income_pc": pc,
        "income_net": pc * 3 if net is None else net,
    }


def test_income_below_line_near_line_and_drop():
    sig = signals(
        nync_income=frame(
            [
                income("below", 2026, 7999.0),
                income("at_line", 2026, 8000.0),  # at the line: near-line watch, not at risk
                income("safe", 2026, 8800.0),  # exactly +10%: not near the line any more
                income("drop", 2025, 20000.0),
                income("drop", 2026, 14000.0),  # -30%: drop
                income("small_drop", 2025, 20000.0),
                income("small_drop", 2026, 14001.0),
            ]
        )
    )
    assert rules_of(sig, "below") == {"R-INCOME"}
    assert rules_of(sig, "at_line") == {"W-NEAR-LINE"}
    assert rules_of(sig, "safe") == set()
    assert rules_of(sig, "drop") == {"R-DROP"}
    assert rules_of(sig, "small_drop") == set()
    evidence = sig.loc[sig["household_no"] == "below", "evidence"].item()
    assert "7999" in evidence and "8000" in evidence


def test_medical_threshold_depends_on_registration():
    settle = [
        {"household_no": "reg_hit", "settled_at": "2026-05-01", "out_of_pocket": 3000.0},
        {"household_no": "reg_hit", "settled_at": "2026-06-01", "out_of_pocket": 2000.0},
        {"household_no": "reg_miss", "settled_at": "2026-05-01", "out_of_pocket": 4999.0},
        {"household_no": "other_miss", "settled_at": "2026-05-01", "out_of_pocket": 19999.0},
        {"household_no": "other_hit", "settled_at": "2026-05-01", "out_of_pocket": 20000.0},
        # outside the 12-month window
        {"household_no": "old", "settled_at": "2025-11-30", "out_of_pocket": 90000.0},
    ]
    registry = [
        {"household_no": h, "registry_type": "脱贫户", "monitored_type": None}
        for h in ("reg_hit", "reg_miss")
    ]
    sig = signals(yibao_settlement=frame(settle), xczx_registry=frame(registry))
    assert rules_of(sig, "reg_hit") == {"R-MEDICAL"}
    assert rules_of(sig, "reg_miss") == set()
    assert rules_of(sig, "other_miss") == set()
    assert rules_of(sig, "other_hit") == {"R-MEDICAL"}
    assert rules_of(sig, "old") == set()
    hit = sig[sig["household_no"] == "reg_hit"].iloc[0]
    assert (hit["value"], hit["threshold"]) == (5000.0, 5000.0)
    assert hit["row_number"] == 1  # evidence points at the largest settlement


def test_serious_illness_is_a_medical_signal():
    sig = signals(
        weijian_illness=frame(
            [
                {
                    "household_no": "ill",
                    "disease": "白血病",
                    "diagnosis_date": "2026-09-01",
                    "report_month": "2026-09-01",
                },
            ]
        )
    )
    assert rules_of(sig, "ill") == {"R-MEDICAL"}


@pytest.mark.parametrize(
    "loss,rooms,expected",
    [
        (9999.0, 0, set()),
        (10000.0, 0, {"R-DISASTER"}),
        (0.0, 1, {"R-DISASTER"}),
    ],
)
def test_disaster(loss, rooms, expected):
    sig = signals(
        yingji_disaster=frame(
            [
                {
                    "household_no": "h",
                    "disaster_type": "洪涝",
                    "occurred_on": "2026-07-01",
                    "direct_loss": loss,
                    "rooms_collapsed": rooms,
                },
            ]
        )
    )
    assert rules_of(sig, "h") == expected


def test_housing_uses_the_latest_assessment():
    sig = signals(
        zhujian_housing=frame(
            [
                {"household_no": "fixed", "grade": "D", "assessed_on": "2024-01-01"},
                {"household_no": "fixed", "grade": "B", "assessed_on": "2026-01-01"},
                {"household_no": "unsafe", "grade": "C", "assessed_on": "2026-01-01"},
                {"household_no": "ok", "grade": "B", "assessed_on": "2026-01-01"},
            ]
        )
    )
    assert rules_of(sig, "fixed") == set()
    assert rules_of(sig, "unsafe") == {"R-HOUSING"}
    assert rules_of(sig, "ok") == set()


def test_rigid_spending_against_previous_year_income():
    sig = signals(
        nync_income=frame(
            [income("hit", 2025, 3000.0, net=9000.0), income("miss", 2025, 3000.0, net=9000.0)]
        ),
        yibao_settlement=frame(
            [
                {"household_no": "hit", "settled_at": "2026-03-01", "out_of_pocket": 4000.0},
                {"household_no": "miss", "settled_at": "2026-03-01", "out_of_pocket": 4000.0},
            ]
        ),
        jiaoyu_students=frame(
            [
                {"household_no": "hit", "self_paid": 5001.0},
                {"household_no": "miss", "self_paid": 5000.0},
            ]
        ),
    )
    assert "R-RIGID" in rules_of(sig, "hit")
    assert "R-RIGID" not in rules_of(sig, "miss")  # 9000 is not more than 9000


def test_grades_and_object_types():
    sig = signals(
        nync_income=frame(
            [
                income("poor", 2026, 7000.0),
                income("rich", 2026, 30000.0),
                income("reg", 2026, 7000.0),
            ]
        ),
        zhujian_housing=frame(
            [{"household_no": "rich", "grade": "D", "assessed_on": "2026-01-01"}]
        ),
        yingji_disaster=frame(
            [
                {
                    "household_no": "reg",
                    "disaster_type": "洪涝",
                    "occurred_on": "2026-07-01",
                    "direct_loss": 20000.0,
                    "rooms_collapsed": 0,
                }
            ]
        ),
        declarations=frame(
            [
                {
                    "household_no": "lead",
                    "reason": "因病",
                    "reason_text": "住院",
                    "applied_at": "2026-11-20",
                }
            ]
        ),
        xczx_registry=frame(
            [{"household_no": "reg", "registry_type": "脱贫户", "monitored_type": None}]
        ),
    )
    flags = flag_households(
        sig,
        RULES,
        RuleInputs(
            frames={
                "nync_income": frame(
                    [
                        income("poor", 2026, 7000.0),
                        income("rich", 2026, 30000.0),
                        income("reg", 2026, 7000.0),
                    ]
                ),
                "xczx_registry": frame(
                    [{"household_no": "reg", "registry_type": "脱贫户", "monitored_type": None}]
                ),
            }
        ),
        AS_OF,
    ).set_index("household_no")
    assert flags.loc["poor", "grade"] == "yellow"
    assert flags.loc["poor", "object_type"] == "边缘易致贫户"
    assert flags.loc["rich", "grade"] == "red"  # a housing gap is red on its own
    assert flags.loc["rich", "object_type"] == "突发严重困难户"
    assert flags.loc["reg", "grade"] == "red"  # two risk types
    assert flags.loc["reg", "object_type"] == "脱贫不稳定户"
    assert flags.loc["reg", "risk_types"] == "收入低于监测线;因灾"
    assert flags.loc["lead", "grade"] == "green"  # an uncorroborated lead
    assert flags.loc["lead", "risk_types"] == "因病（申报）"
    assert flags.loc["lead", "lead_date"] == dt.date(2026, 11, 20)


def test_a_visit_that_found_nothing_is_not_a_lead():
    sig = signals(
        cadre_visits=frame(
            [
                {
                    "household_no": "found",
                    "visited_on": "2026-11-01",
                    "reason": "因病",
                    "finding": "户主住院，医疗费用负担重",
                },
                {
                    "household_no": "routine",
                    "visited_on": "2026-11-01",
                    "reason": "其他",
                    "finding": "走访未发现返贫致贫风险",
                },
                {
                    "household_no": "old",
                    "visited_on": "2025-10-01",
                    "reason": "因病",
                    "finding": "住院",
                },
            ]
        )
    )
    assert rules_of(sig, "found") == {"L-VISIT"}
    assert rules_of(sig, "routine") == set()
    assert rules_of(sig, "old") == set()


def test_asset_checks_annotate_flagged_households_and_never_flag_on_their_own():
    inputs = RuleInputs(
        frames={
            "zhujian_housing": frame(
                [{"household_no": "h", "grade": "C", "assessed_on": "2026-01-01"}]
            ),
            "gongan_vehicle": frame(
                [
                    {"household_no": "h", "vehicle_type": "小型轿车", "vehicle_status": "正常"},
                    {
                        "household_no": "moto",
                        "vehicle_type": "普通二轮摩托车",
                        "vehicle_status": "正常",
                    },
                    {
                        "household_no": "scrapped",
                        "vehicle_type": "小型轿车",
                        "vehicle_status": "报废",
                    },
                ]
            ),
            "scjg_business": frame(
                [
                    {
                        "household_no": "h",
                        "entity_type": "个体工商户",
                        "registration_status": "存续",
                        "company_name": "小卖部",
                    },
                ]
            ),
            "bdc_property": frame(
                [
                    {"household_no": "h", "right_status": "现势"},
                    {"household_no": "h", "right_status": "现势"},
                    {"household_no": "one", "right_status": "现势"},
                ]
            ),
        }
    )
    sig = compute_signals(inputs, RULES, AS_OF)
    assert rules_of(sig, "h") == {"R-HOUSING", "A-VEHICLE", "A-PROPERTY"}
    assert rules_of(sig, "moto") == rules_of(sig, "scrapped") == rules_of(sig, "one") == set()
    flags = flag_households(sig, RULES, inputs, AS_OF).set_index("household_no")
    assert list(flags.index) == ["h"]
    assert flags.loc["h", "asset_check"] == "名下有车辆;多处不动产"
    assert flags.loc["h", "risk_types"] == "住房安全"
