"""Rolling 12-month income from 人社 monthly wages, 因产业项目失败 (R-INDUSTRY) and the
authorisation per gated source: rules on tiny inline frames, exact values."""

from __future__ import annotations

import pandas as pd

from tests.test_rules import AS_OF, RULES, W, employment, frame, months
from warehouse.rules import RuleInputs, compute_signals, flag_households
from warehouse.rules.config import RuleSet
from warehouse.rules.rolling import income_by_year, rolling_wages

NAN = float("nan")
WINDOW = "近12个月（2025-12至2026-11）"
MONTHLY = "人社局就业失业月度数据 2025-12至2026-11"


def annual(hh: str, year: int, pc: float, wage: float, members: int = 3) -> dict:
    return {
        "household_no": hh,
        "year": year,
        "members": members,
        "income_wage": wage,
        "income_net": pc * members,
        "income_pc": pc,
    }


def _signals(rules: RuleSet = RULES, **frames) -> pd.DataFrame:
    return compute_signals(RuleInputs(frames=frames), rules, AS_OF)


def _evidence(sig: pd.DataFrame, hh: str, rule_id: str) -> list[str]:
    own = sig[(sig["household_no"] == hh) & (sig["rule_id"] == rule_id)]
    return own["evidence"].tolist()


def _rolling_frames() -> dict[str, pd.DataFrame]:
    rows = [
        # twelve months of 500: 6,000 replaces the annual 15,000
        *months("full", "f1", [W] * 12, [500.0] * 12),
        # ten known months of 600 (2026-03 and 2026-05 missing): 6,000 x 12 / 10 = 7,200
        *months("gap", "g1", [W] * 3 + [None] + [W] + [None] + [W] * 6, [600.0] * 12),
        # five known months only: the annual wage stands
        *months("short", "s1", [None] * 7 + [W] * 5, [900.0] * 12),
        # twelve months not working, no wage: a wage of 0
        *months("idle", "i1", ["未就业"] * 12, [NAN] * 12),
        # two members: 12 x 400 + 12 x 300 = 8,400
        *months("two", "t1", [W] * 12, [400.0] * 12),
        *months("two", "t2", [W] * 12, [300.0] * 12),
        # only the latest annual row is 2025: 12 x 250 = 3,000 with 2025's other income
        *months("old_year", "o1", [W] * 12, [250.0] * 12),
    ]
    before = {  # a month before the window does not count
        "household_no": "outside",
        "person_key": "x1",
        "month": pd.Timestamp("2025-11-01"),
        "employment_status": W,
        "monthly_wage": 100.0,
        "unemployed_since": None,
    }
    return {
        "renshe_employment": employment([*rows, before]),
        "nync_income": frame(
            [
                annual("full", 2026, 9000.0, 15000.0),
                annual("gap", 2026, 10000.0, 20000.0),
                annual("short", 2026, 7000.0, 9000.0),
                annual("idle", 2026, 9000.0, 6000.0),
                annual("two", 2026, 9000.0, 9000.0),
                annual("old_year", 2025, 9000.0, 9000.0),
                annual("outside", 2026, 7000.0, 9000.0),
            ]
        ),
    }


def test_wage_income_is_the_sum_of_the_last_twelve_months_with_the_annual_rest():
    inputs = RuleInputs(frames=_rolling_frames())
    wages = rolling_wages(inputs, RULES, AS_OF)
    assert wages["wage"].drop("short").round(2).to_dict() == {
        "full": 6000.0,
        "gap": 7200.0,
        "idle": 0.0,
        "old_year": 3000.0,
        "two": 8400.0,
    }
    assert pd.isna(wages.loc["short", "wage"]) and "outside" not in wages.index
    assert bool(wages.loc["short", "fallback"]) and not wages["fallback"].drop("short").any()
    inc = income_by_year(inputs, RULES, AS_OF).set_index(["household_no", "year"])
    # per capita: the annual figure + (rolling wage - annual wage) / members
    assert round(inc.loc[("full", 2026), "income_pc"], 2) == 6000.0  # 9000 + (6000-15000)/3
    assert round(inc.loc[("gap", 2026), "income_pc"], 2) == 5733.33  # 10000 + (7200-20000)/3
    assert round(inc.loc[("idle", 2026), "income_pc"], 2) == 7000.0  # 9000 + (0-6000)/3
    assert round(inc.loc[("two", 2026), "income_pc"], 2) == 8800.0  # 9000 + (8400-9000)/3
    assert round(inc.loc[("old_year", 2026), "income_pc"], 2) == 7000.0  # 9000 + (3000-9000)/3
    assert inc.loc[("old_year", 2025), "income_pc"] == 9000.0  # the annual row stays
    assert inc.loc[("short", 2026), "income_pc"] == 7000.0
    assert inc.loc[("outside", 2026), "income_pc"] == 7000.0


def test_income_rules_read_the_rolling_income_and_say_which_months_and_source():
    sig = _signals(**_rolling_frames())
    rest = "，其余收入取农业农村局2026年核算"
    assert _evidence(sig, "full", "R-INCOME") == [
        f"{WINDOW}人均纯收入 6000 元，低于监测线 8000 元；工资性收入按{MONTHLY} 计 6000 元"
        f"（1名成员，12个月齐全）{rest}"
    ]
    assert _evidence(sig, "gap", "R-INCOME") == [
        f"{WINDOW}人均纯收入 5733 元，低于监测线 8000 元；工资性收入按{MONTHLY} 计 7200 元"
        f"（1名成员，缺 2026-03、2026-05 按该成员已有月份月均补足）{rest}"
    ]
    assert _evidence(sig, "short", "R-INCOME") == [
        "2026年人均纯收入 7000 元，低于监测线 8000 元；"
        f"{MONTHLY} 有成员已知月份仅 5 个月（少于 6 个月），工资性收入仍取年度核算"
    ]
    assert _evidence(sig, "idle", "R-INCOME")[0].startswith(f"{WINDOW}人均纯收入 7000 元")
    # 8,800 is exactly +10%: no longer near the line
    assert set(sig.loc[sig["household_no"] == "two", "rule_id"]) == set()
    assert _evidence(sig, "old_year", "R-INCOME") == [
        f"{WINDOW}人均纯收入 7000 元，低于监测线 8000 元；工资性收入按{MONTHLY} 计 3000 元"
        "（1名成员，12个月齐全），其余收入取农业农村局2025年核算"
    ]
    # no monthly rows in the window: the annual row as delivered
    assert _evidence(sig, "outside", "R-INCOME") == ["2026年人均纯收入 7000 元，低于监测线 8000 元"]


def test_rolling_income_drives_the_income_position_and_a_drop():
    frames = {
        "renshe_employment": employment(months("fell", "a", [W] * 12, [100.0] * 12)),
        "nync_income": frame(
            [annual("fell", 2025, 20000.0, 30000.0), annual("fell", 2026, 20000.0, 30000.0)]
        ),
        "declarations": frame(
            [
                {
                    "household_no": "fell",
                    "reason": "因病",
                    "reason_text": "住院",
                    "applied_at": "2026-11-20",
                }
            ]
        ),
    }
    sig = _signals(**frames)
    # 20000 + (1200 - 30000) / 3 = 10400: 48% below last year's 20,000, above the line
    drop = sig[sig["rule_id"] == "R-DROP"].iloc[0]
    assert (round(drop["value"], 2), drop["threshold"]) == (10400.0, 14000.0)
    assert drop["evidence"].startswith("人均纯收入由 20000 元降至 10400 元；工资性收入按")
    inputs = RuleInputs(frames=frames)
    flags = flag_households(compute_signals(inputs, RULES, AS_OF), RULES, inputs, AS_OF)
    assert flags.set_index("household_no").loc["fell", "income_position"] == "above"


def test_rolling_income_off_or_a_shorter_window_in_the_rules_file():
    data = RULES.model_dump()
    data["rolling_income"] = {**data["rolling_income"], "enabled": False}
    off = RuleSet.model_validate(data)
    sig = _signals(off, **_rolling_frames())
    assert _evidence(sig, "full", "R-INCOME") == []  # the annual 9,000 stands
    data["rolling_income"] = {
        **data["rolling_income"],
        "enabled": True,
        "months": 3,
        "min_months": 3,
    }
    three = RuleSet.model_validate(data)
    wages = rolling_wages(RuleInputs(frames=_rolling_frames()), three, AS_OF)
    assert wages.loc["full", "wage"] == 1500.0  # 2026-09 .. 2026-11
    assert "2026-09至2026-11" in wages.loc["full", "note"]


# --- 因产业项目失败 ---------------------------------------------------------------------


def test_industry_failure_from_a_declaration_or_a_visit_is_a_risk_of_type_06():
    sig = _signals(
        declarations=frame(
            [
                {
                    "household_no": "pigs",
                    "reason": "因产业失败",
                    "reason_text": "养猪亏本",
                    "applied_at": "2026-10-03 09:12:00",
                },
                {
                    "household_no": "ill",
                    "reason": "因病",
                    "reason_text": "住院",
                    "applied_at": "2026-10-03 10:00:00",
                },
                {
                    "household_no": "old",
                    "reason": "因产业失败",
                    "reason_text": "蜜橘滞销",
                    "applied_at": "2025-11-29 10:00:00",
                },  # outside the 12 months
            ]
        ),
        cadre_visits=frame(
            [
                {
                    "household_no": "oranges",
                    "reason": "因产业失败",
                    "finding": "蜜橘滞销，收入大减",
                    "visited_on": "2026-09-15",
                },
                {
                    "household_no": "fine",
                    "reason": "因产业失败",
                    "finding": "未发现困难",
                    "visited_on": "2026-09-15",
                },
            ]
        ),
    )
    hit = sig[sig["rule_id"] == "R-INDUSTRY"].set_index("household_no")
    assert sorted(hit.index) == ["oranges", "pigs"]
    assert set(hit["risk_code"]) == {"06"} and set(hit["risk_type"]) == {"因产业项目失败"}
    assert hit.loc["pigs", "evidence"] == "农户申报（2026-10-03，因产业失败）：养猪亏本"
    assert (
        hit.loc["oranges", "evidence"] == "走访发现（2026-09-15，因产业失败）：蜜橘滞销，收入大减"
    )
    assert hit.loc["pigs", "event_date"] == pd.Timestamp("2026-10-03")


def test_industry_failure_grades_yellow_and_keeps_the_lead_date():
    frames = {
        "declarations": frame(
            [
                {
                    "household_no": "h",
                    "reason": "因产业失败",
                    "reason_text": "养猪亏本",
                    "applied_at": "2026-11-20",
                }
            ]
        ),
        "nync_income": frame([annual("h", 2026, 7000.0, 9000.0)]),
    }
    inputs = RuleInputs(frames=frames)
    flags = flag_households(compute_signals(inputs, RULES, AS_OF), RULES, inputs, AS_OF)
    row = flags.set_index("household_no").loc["h"]
    # Two risk types (其他 from the income, 06): red; a monitoring object by registration.
    assert row["risk_codes"] == "06;09"
    assert row["risk_types"] == "因产业项目失败;其他;因产业项目失败（申报）"
    assert row["grade"] == "red"
    assert (row["object_type"], row["list_category"]) == ("边缘易致贫户", "object")
    assert row["lead_date"] == pd.Timestamp("2026-11-20").date()
    alone = flag_households(
        compute_signals(RuleInputs(frames={"declarations": frames["declarations"]}), RULES, AS_OF),
        RULES,
        RuleInputs(frames={"declarations": frames["declarations"]}),
        AS_OF,
    ).set_index("household_no")
    assert alone.loc["h", "grade"] == "yellow"
    assert (alone.loc["h", "object_type"], alone.loc["h", "list_category"]) == ("", "verify")


# --- authorisation per gated source -----------------------------------------------------


def _auth(hh: str, scope: str) -> dict:
    return {
        "household_no": hh,
        "signed_on": "2026-06-01",
        "scope": scope,
        "valid_until": "2027-05-31",
        "auth_status": "有效",
    }


def test_an_authorisation_covers_only_the_sources_its_scope_names():
    households = ["all", "cars_only", "property_only", "none"]
    frames = {
        "nync_income": frame([annual(hh, 2026, 7000.0, 9000.0) for hh in households]),
        "gongan_vehicle": frame(
            [
                {"household_no": hh, "vehicle_type": "小型轿车", "vehicle_status": "正常"}
                for hh in households
            ]
        ),
        "bdc_property": frame(
            [{"household_no": hh, "right_status": "现势"} for hh in households for _ in (1, 2)]
        ),
        "caizheng_payroll": frame(
            [{"household_no": hh, "staff_category": "事业"} for hh in households]
        ),
        "xczx_authorisation": frame(
            [
                _auth("all", "家庭收入、资产及社会保障信息核查"),
                _auth("cars_only", "车辆登记信息核查"),
                _auth("property_only", "不动产登记信息核查"),
                _auth("none", "仅限收入核查"),
            ]
        ),
    }
    inputs = RuleInputs(frames=frames)
    sig = compute_signals(inputs, RULES, AS_OF)
    assets = sig[sig["rule_id"].str.startswith("A-")]
    assert sorted(zip(assets["household_no"], assets["rule_id"], strict=True)) == [
        ("all", "A-PAYROLL"),
        ("all", "A-PROPERTY"),
        ("all", "A-VEHICLE"),
        ("cars_only", "A-PENDING"),
        ("cars_only", "A-VEHICLE"),
        ("none", "A-PENDING"),
        ("property_only", "A-PENDING"),
        ("property_only", "A-PROPERTY"),
    ]
    # The notice names the checks waiting for an authorisation, never their data, and
    # comes last among the household's signals.
    notice = sig[sig["rule_id"] == "A-PENDING"].set_index("household_no")
    assert notice.loc["cars_only", "evidence"] == (
        "待签署授权：企业法定代表人、多处不动产、财政供养人员"
        "（现有承诺授权书在核查日无效或范围不含这些核查）"
    )
    assert notice.loc["none", "evidence"] == (
        "待签署授权：名下有车辆、企业法定代表人、多处不动产、财政供养人员"
        "（现有承诺授权书在核查日无效或范围不含这些核查）"
    )
    assert set(notice["source_id"]) == {"xczx_authorisation"}
    assert set(notice["risk_type"]) == {"待签署授权"} and notice["risk_code"].isna().all()
    assert sig.groupby("household_no")["rule_id"].last().to_dict() == {
        "all": "R-INCOME",
        "cars_only": "A-PENDING",
        "none": "A-PENDING",
        "property_only": "A-PENDING",
    }
    flags = flag_households(sig, RULES, inputs, AS_OF).set_index("household_no")
    assert flags.loc["all", "asset_check"] == "名下有车辆;财政供养人员;多处不动产"
    assert flags.loc["cars_only", "asset_check"] == (
        "名下有车辆;待签署授权（企业法定代表人、多处不动产、财政供养人员）"
    )
    assert flags.loc["property_only", "asset_check"] == (
        "多处不动产;待签署授权（名下有车辆、企业法定代表人、财政供养人员）"
    )
    assert flags.loc["none", "asset_check"] == "待签署授权"


def test_no_authorisation_at_all_and_no_notice_without_a_risk_lead_or_watch():
    frames = {
        "nync_income": frame([annual("poor", 2026, 7000.0, 9000.0)]),
        "gongan_vehicle": frame(
            [
                {"household_no": hh, "vehicle_type": "小型轿车", "vehicle_status": "正常"}
                for hh in ("poor", "rich")
            ]
        ),
        "minzheng_assistance": frame(
            [{"household_no": "tagged", "category": "城乡低保", "approval_date": "2026-06-01"}]
        ),
    }
    sig = compute_signals(RuleInputs(frames=frames), RULES, AS_OF)
    # A tag alone (兜底保障) or an asset alone is not listed: no notice for them.
    assert list(zip(sig["household_no"], sig["rule_id"], strict=True)) == [
        ("poor", "R-INCOME"),
        ("poor", "A-PENDING"),
        ("tagged", "R-ASSIST"),
    ]
    notice = sig[sig["rule_id"] == "A-PENDING"].iloc[0]
    assert notice["evidence"] == (
        "待签署授权：名下有车辆、企业法定代表人、多处不动产、财政供养人员（尚无承诺授权书）"
    )
    assert pd.isna(notice["load_id"]) and pd.isna(notice["row_number"])


def test_without_a_household_size_the_annual_row_stands():
    row = {**annual("nosize", 2026, 0.0, 0.0), "members": None, "income_net": 0.0}
    frames = {
        "renshe_employment": employment(months("nosize", "n1", [W] * 12, [800.0] * 12)),
        "nync_income": frame([row]),
    }
    inc = income_by_year(RuleInputs(frames=frames), RULES, AS_OF)
    assert inc[["household_no", "year", "income_pc", "period"]].to_dict("records") == [
        {"household_no": "nosize", "year": 2026, "income_pc": 0.0, "period": "2026年"}
    ]
