"""Risk rules on tiny inline frames: each threshold tested on both sides."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from warehouse.rules import RULES as RULES_REGISTRY
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
    """Every signal but the authorisation notice (A-PENDING: no authorisation in these
    frames; tests/test_rolling_income.py tests it)."""
    return without_notice(compute_signals(RuleInputs(frames=frames), RULES, AS_OF))


def without_notice(sig: pd.DataFrame) -> pd.DataFrame:
    return sig[sig["rule_id"] != "A-PENDING"].reset_index(drop=True)


def rules_of(sig: pd.DataFrame, household: str) -> set[str]:
    """The rules that fired for the household, the authorisation notice aside."""
    own = sig[(sig["household_no"] == household) & (sig["rule_id"] != "A-PENDING")]
    return set(own["rule_id"])


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
                {"household_no": "hit", "self_paid": 5001.0, "school_year": "2026-2027"},
                {"household_no": "miss", "self_paid": 5000.0, "school_year": "2026-2027"},
                # a school year that ended before the 12-month window does not count
                {"household_no": "miss", "self_paid": 9000.0, "school_year": "2024-2025"},
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
    # A housing gap well above the line: a task for 住建, not a monitoring object.
    assert flags.loc["rich", "object_type"] == ""
    assert flags.loc["rich", "list_category"] == "gap_referral"
    assert flags.loc["rich", "gap_departments"] == "住建局"
    assert flags.loc["reg", "grade"] == "red"  # two risk types
    assert flags.loc["reg", "object_type"] == "脱贫不稳定户"
    # National labels in code order: 因自然灾害 (04), then 其他 (09: income below the line).
    assert flags.loc["reg", "risk_types"] == "因自然灾害;其他"
    assert flags.loc["reg", "risk_codes"] == "04;09"
    assert flags.loc["reg", "rule_ids"] == "R-INCOME;R-DISASTER"
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


def authorised(*households: str) -> pd.DataFrame:
    """Signed authorisations (承诺授权书) covering asset checks, valid on the run date."""
    return frame(
        [
            {
                "household_no": hh,
                "signed_on": "2026-06-01",
                "scope": "家庭收入、资产及社会保障信息核查",
                "valid_until": "2027-05-31",
                "auth_status": "有效",
            }
            for hh in households
        ]
    )


def test_asset_checks_annotate_flagged_households_and_never_flag_on_their_own():
    inputs = RuleInputs(
        frames={
            "xczx_authorisation": authorised("h", "moto", "scrapped", "one"),
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


# ---------------------------------------------------------------- rules reading person attributes


def person(pk: str, hh: str, birth: str, status: str = "正常", **extra) -> dict:
    return {
        "person_key": pk,
        "household_no": hh,
        "birth_date": birth,
        "status": status,
        "relation": extra.pop("relation", "子"),
        **extra,
    }


def only(sig: pd.DataFrame, *rule_ids: str) -> pd.DataFrame:
    """The signals of the rules under test (persons alone may raise R-WORK or R-LABOUR)."""
    return sig[sig["rule_id"].isin(rule_ids)]


def people(rows: list[dict]) -> pd.DataFrame:
    return frame([{"cancel_date": None, "cancel_reason": None, **r} for r in rows])


def grade_of(frames: dict, household: str, persons: pd.DataFrame | None = None) -> str:
    inputs = RuleInputs(frames=frames, persons=persons)
    sig = compute_signals(inputs, RULES, AS_OF)
    flags = flag_households(sig, RULES, inputs, AS_OF).set_index("household_no")
    return flags.loc[household, "grade"]


def student(hh: str, pk: str | None, **kw) -> dict:
    row = {
        "household_no": hh,
        "person_key": pk,
        "school_year": "2026-2027",
        "term": "第一学期",
        "stage": "初中",
        "enrolment_status": "在读",
        "self_paid": 500.0,
    }
    return {**row, **kw}


def test_school_cost_per_student_and_school_year():
    st = frame(
        [
            student("bill", "p1", stage="本科", self_paid=10000.0),
            student("under", "p2", stage="本科", self_paid=9999.0),
            # two terms of one school year add up
            student("terms", "p3", school_year="2025-2026", term="第一学期", self_paid=5000.0),
            student("terms", "p3", school_year="2025-2026", term="第二学期", self_paid=5000.0),
            # two children of 5,000 each: the threshold is per student
            student("siblings", "p4", self_paid=5000.0),
            student("siblings", "p5", self_paid=5000.0),
            # a school year that ended before the 12-month window
            student("old", "p6", school_year="2024-2025", self_paid=30000.0),
        ]
    )
    sig = signals(jiaoyu_students=st)
    assert rules_of(sig, "bill") == {"R-SCHOOL"}
    assert rules_of(sig, "under") == set()
    assert rules_of(sig, "terms") == {"R-SCHOOL"}
    assert rules_of(sig, "siblings") == set()
    assert rules_of(sig, "old") == set()
    terms = sig[sig["household_no"] == "terms"].iloc[0]
    assert (terms["value"], terms["threshold"]) == (10000.0, 10000.0)
    assert "2025-2026" in terms["evidence"]


def test_school_dropout_of_compulsory_age_from_the_register():
    persons = people(
        [
            person("c15", "age15", "2011-11-30"),  # 15 on the run date
            person("c16", "age16", "2010-11-30"),  # 16: past compulsory age
            person("c6", "age6", "2020-11-30"),
            person("c5", "age5", "2020-12-01"),  # turns 6 the day after
            person("cpause", "paused", "2014-01-01"),
            person("cback", "back", "2014-01-01"),
        ]
    )
    st = frame(
        [
            student("age15", "c15", enrolment_status="辍学"),
            student("age16", "c16", enrolment_status="辍学", stage="高中"),
            student("age6", "c6", enrolment_status="疑似辍学", stage="小学"),
            student("age5", "c5", enrolment_status="辍学", stage="学前"),
            student("paused", "cpause", enrolment_status="休学"),
            # dropped out last school year, back at school this term
            student(
                "back", "cback", school_year="2025-2026", term="第二学期", enrolment_status="辍学"
            ),
            student("back", "cback", enrolment_status="在读"),
            # not linked to a register person: the stage stands in for the age
            student("unknown", None, enrolment_status="辍学", stage="初中"),
            student("unknown_hs", None, enrolment_status="辍学", stage="高中"),
        ]
    )
    inputs = RuleInputs(frames={"jiaoyu_students": st}, persons=persons)
    sig = only(compute_signals(inputs, RULES, AS_OF), "R-SCHOOL")
    assert rules_of(sig, "age15") == {"R-SCHOOL"}
    assert rules_of(sig, "age16") == set()
    assert rules_of(sig, "age6") == {"R-SCHOOL"}
    assert rules_of(sig, "age5") == set()
    assert rules_of(sig, "paused") == set()
    assert rules_of(sig, "back") == set()
    assert rules_of(sig, "unknown") == {"R-SCHOOL"}
    assert rules_of(sig, "unknown_hs") == set()
    assert "辍学" in sig.loc[sig["household_no"] == "age15", "evidence"].item()


def test_only_the_dropout_part_of_school_is_a_gap():
    # No register persons here: they would add R-LABOUR/R-WORK and so a second risk type.
    frames = {
        "jiaoyu_students": frame(
            [
                student("drop", None, enrolment_status="辍学", stage="初中"),
                student("bill", None, stage="本科", self_paid=12000.0),
            ]
        )
    }
    assert grade_of(frames, "drop") == "red"  # 义务教育 gap
    assert grade_of(frames, "bill") == "yellow"  # one risk type, no gap


def test_disability_new_severe_valid_card():
    def card(hh, grade="一级", issued="2026-06-01", status="有效"):
        return {
            "household_no": hh,
            "person_key": hh,
            "category": "肢体残疾",
            "grade": grade,
            "issued_on": issued,
            "card_status": status,
        }

    sig = signals(
        canlian_disability=frame(
            [
                card("grade1"),
                card("grade2", grade="二级"),
                card("grade3", grade="三级"),
                card("cancelled", grade="二级", status="注销"),
                card("year_ago", issued="2025-11-30"),  # 12 months before: outside
                card("in_window", issued="2025-12-01"),
                card("future", issued="2026-12-01"),
            ]
        )
    )
    assert rules_of(sig, "grade1") == rules_of(sig, "grade2") == {"R-DISABILITY"}
    assert rules_of(sig, "grade3") == rules_of(sig, "cancelled") == set()
    assert rules_of(sig, "year_ago") == set()
    assert rules_of(sig, "in_window") == {"R-DISABILITY"}
    assert rules_of(sig, "future") == set()


MONTHS = pd.date_range("2025-12-01", "2026-11-01", freq="MS")  # the 12 months to AS_OF


def months(hh: str, pk: str, statuses, wages, since=None) -> list[dict]:
    """One renshe row per month of MONTHS (oldest first); None drops the month."""
    rows = []
    for month, status, wage in zip(MONTHS, statuses, wages, strict=True):
        if status is None:
            continue
        rows.append(
            {
                "household_no": hh,
                "person_key": pk,
                "month": month,
                "employment_status": status,
                "monthly_wage": wage,
                "unemployed_since": pd.Timestamp(since) if status == "登记失业" and since else None,
            }
        )
    return rows


def employment(rows: list[dict]) -> pd.DataFrame:
    out = frame(rows)
    out["unemployed_since"] = pd.to_datetime(out["unemployed_since"])
    return out


W = "本地就业"
U = "登记失业"


def test_work_new_unemployment():
    nan = float("nan")
    rows = [
        # registered 2026-09-01, the first day of the 3 latest months
        *months("since_in", "a", [U] * 12, [nan] * 12, since="2026-09-01"),
        *months("since_out", "b", [U] * 12, [nan] * 12, since="2026-08-31"),
        # turned unemployed in the latest month, no registration date; wage cut not reached
        *months("turned", "c", [W] * 11 + [U], [4000.0] * 11 + [nan]),
        # unemployed in September, working again in November: not unemployed any more
        *months(
            "again",
            "d",
            [W] * 9 + [U, W, W],
            [4000.0] * 9 + [nan, 4000.0, 4000.0],
            since="2026-09-05",
        ),
    ]
    sig = signals(renshe_employment=employment(rows))
    assert rules_of(sig, "since_in") == {"R-WORK"}
    assert rules_of(sig, "since_out") == set()
    assert rules_of(sig, "turned") == {"R-WORK"}
    assert rules_of(sig, "again") == set()


def test_work_wage_cut_against_the_nine_months_before():
    rows = [
        *months("cut", "a", [W] * 12, [4000.0] * 9 + [1999.0] * 3),
        *months("half", "b", [W] * 12, [4000.0] * 9 + [2000.0] * 3),  # exactly half: no cut
        # a month missing from the extract is not a month without pay
        *months("gap", "c", [W] * 9 + [None, W, W], [4000.0] * 10 + [2500.0, 2500.0]),
        # a blank wage while not working is nothing earned
        *months("idle", "d", [W] * 9 + ["未就业", W, W], [4000.0] * 9 + [None, 2500.0, 2500.0]),
    ]
    sig = signals(renshe_employment=employment(rows))
    assert rules_of(sig, "cut") == {"R-WORK"}
    assert rules_of(sig, "half") == set()
    assert rules_of(sig, "gap") == set()  # (2500 + 2500) / 2 is more than half of 4000
    assert rules_of(sig, "idle") == {"R-WORK"}  # (0 + 2500 + 2500) / 3 is not
    cut = sig[sig["household_no"] == "cut"].iloc[0]
    assert (round(cut["value"]), cut["threshold"]) == (1999, 2000.0)


def test_work_working_age_members_none_employed():
    nan = float("nan")
    persons = people(
        [
            person("i1", "idle", "1990-01-01"),
            person("i2", "idle", "1950-01-01"),  # 76: not working age
            person("w1", "works", "1990-01-01"),
            person("w2", "works", "1992-01-01"),  # no job, but another member works
            person("s1", "stale", "1990-01-01"),  # employed, but 4 months ago
            person("y1", "young", "2010-11-30"),  # 16 on the run date: working age
            person("y2", "young", "1966-11-30"),  # 60: not
            person("o1", "old", "1966-11-30"),  # no working-age member: R-LABOUR, not R-WORK
            person("d1", "dead", "1990-01-01", status="注销"),
        ]
    )
    rows = [
        *months("idle", "i1", ["未就业"] * 12, [nan] * 12),
        *months("works", "w1", [W] * 12, [3000.0] * 12),
        *months("stale", "s1", [W] * 8 + [None] * 4, [3000.0] * 8 + [nan] * 4),
        *months("young", "y2", [W] * 12, [3000.0] * 12),
    ]
    sig = compute_signals(
        RuleInputs(frames={"renshe_employment": employment(rows)}, persons=persons), RULES, AS_OF
    )
    assert rules_of(sig, "idle") == {"R-WORK"}
    assert rules_of(sig, "works") == set()
    assert rules_of(sig, "stale") == {"R-WORK"}
    assert rules_of(sig, "young") == {"R-WORK"}
    assert "R-WORK" not in rules_of(sig, "old")
    assert rules_of(sig, "dead") == set()
    idle = sig[sig["household_no"] == "idle"].iloc[0]
    assert (idle["source_id"], idle["value"]) == ("gongan_hukou", 1.0)
    # No 人社 record at all in the latest months (a late extract): no one is flagged for it.
    late = compute_signals(RuleInputs(persons=persons), RULES, AS_OF)
    assert "R-WORK" not in set(late["rule_id"])


def test_labour_death_of_a_working_age_member_and_none_left():
    def died(pk, hh, birth, on, reason="死亡"):
        return person(pk, hh, birth, status="注销", cancel_date=on, cancel_reason=reason)

    persons = people(
        [
            died("d40", "died40", "1986-01-01", "2026-03-01"),
            died("d59", "died59", "1966-03-02", "2026-03-01"),  # 59 on the day of death
            died("d60", "died60", "1966-03-01", "2026-03-01"),  # 60 that day
            died("dold", "died_long_ago", "1986-01-01", "2025-11-30"),
            died("dmove", "moved", "1986-01-01", "2026-03-01", reason="迁出"),
            *[
                person(f"{hh}_w", hh, "1990-01-01")  # a working-age member is left
                for hh in ("died40", "died59", "died60", "died_long_ago", "moved")
            ],
            person("e1", "elderly", "1966-11-30", relation="户主"),  # 60
            person("e2", "elderly", "2016-01-01"),  # 10
            person("l1", "last_worker", "1967-12-01", relation="户主"),  # 59
            died("g1", "gone", "1950-01-01", "2020-01-01"),
        ]
    )
    sig = only(compute_signals(RuleInputs(persons=persons), RULES, AS_OF), "R-LABOUR")
    assert rules_of(sig, "died40") == rules_of(sig, "died59") == {"R-LABOUR"}
    assert rules_of(sig, "died60") == set()
    assert rules_of(sig, "died_long_ago") == rules_of(sig, "moved") == set()
    assert rules_of(sig, "elderly") == {"R-LABOUR"}
    assert rules_of(sig, "last_worker") == set()
    assert rules_of(sig, "gone") == set()  # nobody left at all: not a labour shortage
    elderly = sig[sig["household_no"] == "elderly"].iloc[0]
    assert elderly["record_key"] == persons.loc[persons["person_key"] == "e1", "record_key"].item()
    death = sig[sig["household_no"] == "died40"].iloc[0]
    assert death["event_date"] == pd.Timestamp("2026-03-01")
    # Everybody of working age, nobody died: no signal at all (not even an empty row).
    working = people([person("h1", "ok", "1985-03-07"), person("h2", "ok", "1987-05-12")])
    assert compute_signals(RuleInputs(persons=working), RULES, AS_OF).empty


def test_water_gaps_on_the_latest_survey():
    def survey(hh, litres=80.0, minutes=5.0, quality="是", on="2026-08-01"):
        return {
            "household_no": hh,
            "litres_per_person_day": litres,
            "fetch_minutes": minutes,
            "quality_ok": quality,
            "checked_on": on,
        }

    rows = [
        survey("little", litres=39.0),
        survey("enough", litres=40.0),
        survey("far", minutes=21.0),
        survey("near", minutes=20.0),
        survey("dirty", quality="否"),
        survey("clean"),
        survey("fixed", litres=10.0, on="2026-02-01"),
        survey("fixed", on="2026-08-01"),
    ]
    sig = signals(shuili_water=frame(rows))
    for hh in ("little", "far", "dirty"):
        assert rules_of(sig, hh) == {"R-WATER"}, hh
    for hh in ("enough", "near", "clean", "fixed"):
        assert rules_of(sig, hh) == set(), hh
    assert "39" in sig.loc[sig["household_no"] == "little", "evidence"].item()
    assert grade_of({"shuili_water": frame(rows)}, "dirty") == "red"  # 饮水安全 gap


def test_medical_insurance_latest_year_per_person():
    def enrol(hh, pk, year, status):
        return {"household_no": hh, "person_key": pk, "year": year, "status": status}

    rows = [
        enrol("none", "a", 2026, "未参保"),
        enrol("fine", "b", 2026, "正常参保"),
        enrol("joined", "c", 2025, "未参保"),
        enrol("joined", "c", 2026, "正常参保"),
        enrol("next_year", "d", 2026, "正常参保"),
        enrol("next_year", "d", 2027, "未参保"),  # a year after the run date: not yet
        enrol("deceased", "e", 2026, "未参保"),
    ]
    persons = people([person("e", "deceased", "1940-01-01", status="注销")])
    frames = {"yibao_enrollment": frame(rows)}
    sig = compute_signals(RuleInputs(frames=frames, persons=persons), RULES, AS_OF)
    assert rules_of(sig, "none") == {"R-MEDINS"}
    assert rules_of(sig, "fine") == rules_of(sig, "joined") == set()
    assert rules_of(sig, "next_year") == set()
    assert rules_of(sig, "deceased") == set()
    assert grade_of(frames, "none") == "red"  # 基本医疗保障 gap


def test_assistance_new_case_counted_once_across_both_sources():
    def case(hh, approved, category="城乡低保"):
        return {
            "household_no": hh,
            "category": category,
            "approval_date": approved,
            "end_date": None,
            "monthly_amount": 700.0,
        }

    rows = [
        case("new", "2026-10-01"),
        case("in_window", "2025-12-01", category="临时救助"),
        case("year_ago", "2025-11-30"),
        case("old_active", "2020-05-01", category="特困供养"),
    ]
    frames = {
        "minzheng_assistance": frame(rows),
        "minzheng_db": frame([case("new", "2026-10-01"), case("db_only", "2026-11-01")]),
    }
    sig = signals(**frames)
    assert rules_of(sig, "new") == {"R-ASSIST"}
    new = sig[sig["household_no"] == "new"]
    assert len(new) == 1 and new["source_id"].item() == "minzheng_assistance"
    assert rules_of(sig, "in_window") == rules_of(sig, "db_only") == {"R-ASSIST"}
    assert rules_of(sig, "year_ago") == rules_of(sig, "old_active") == set()
    # 兜底保障 is a tag, not a risk: on its own it flags nothing; beside a risk it is shown
    # and leaves the grade alone.
    inputs = RuleInputs(frames=frames)
    flags = flag_households(compute_signals(inputs, RULES, AS_OF), RULES, inputs, AS_OF)
    assert "new" not in set(flags["household_no"])
    assert set(sig.loc[sig["rule_id"] == "R-ASSIST", "risk_type"]) == {"兜底保障"}
    assert sig.loc[sig["rule_id"] == "R-ASSIST", "risk_code"].isna().all()
    with_risk = {**frames, "nync_income": frame([income("new", 2026, 7000.0)])}
    inputs = RuleInputs(frames=with_risk)
    flags = flag_households(compute_signals(inputs, RULES, AS_OF), RULES, inputs, AS_OF)
    flag = flags.set_index("household_no").loc["new"]
    assert (flag["grade"], flag["tags"], flag["risk_types"]) == ("yellow", "兜底保障", "其他")


def test_registry_order_is_fixed():
    """The registry order decides the order of equal sort keys, so the signal numbers: a
    new rule is appended, never inserted (the demo city's risk_signal stays the same)."""
    assert [rule.__name__ for rule in RULES_REGISTRY] == [
        "rule_income",
        "rule_medical",
        "rule_disaster",
        "rule_housing",
        "rule_rigid",
        "rule_school",
        "rule_disability",
        "rule_work",
        "rule_labour",
        "rule_water",
        "rule_medins",
        "rule_assist",
        "rule_leads",
        "rule_assets",
        "rule_accident",
        "rule_industry",
    ]
