"""The policy on the demo city: every listed household's type follows the decision table
(recomputed here from the stored signals), every type the county confirmed is kept, the
evidence of every flagged household is in the mart and in its county's workbook, the
officer-facing files are Chinese, and the national workbook has the documented columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from crosscheck.steps import run
from tests.conftest import AS_OF, PII_KEY
from warehouse.exports import (
    EVIDENCE_COLUMNS,
    NATIONAL_HOUSEHOLD_COLUMNS,
    NATIONAL_MEMBER_COLUMNS,
)
from warehouse.rules import load_rule_set

pytestmark = pytest.mark.slow
RULES = load_rule_set()


@pytest.fixture(scope="module")
def policy_run(demo_city, tmp_path_factory):
    base = tmp_path_factory.mktemp("policy_run")
    url = f"sqlite:///{base / 'w.db'}"
    summary = run(
        demo_city["landing"], url, dt.date.fromisoformat(AS_OF), base / "reports", PII_KEY
    )
    assert summary.ok
    engine = create_engine(url)

    def table(sql: str) -> pd.DataFrame:
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(text(sql)).mappings().all())

    yield {"table": table, "reports": base / "reports", "truth": demo_city["truth"]}
    engine.dispose()


def _expected_types(policy_run) -> pd.DataFrame:
    """The decision table (docs/policy.md) applied here, independently of the code, to the
    signals and registry rows the run stored: (object_type, list_category) per household."""
    table = policy_run["table"]
    flags = table(f"SELECT * FROM household_flag WHERE as_of = '{AS_OF}'")
    signals = table(f"SELECT * FROM risk_signal WHERE as_of = '{AS_OF}'")
    registry = table(
        "SELECT l.household_no, s.registry_type, s.monitored_type, s.load_id, s.row_number "
        "FROM stg_xczx_registry s JOIN record_link l "
        "ON l.source_id = 'xczx_registry' AND l.record_key = s.record_key"
    )
    registry = (
        registry.sort_values(["load_id", "row_number"])
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    expected = {}
    for flag in flags.itertuples():
        own = signals[signals["household_no"] == flag.household_no]
        risk = own[own["rule_id"].str.startswith("R-") & own["risk_code"].notna()]
        gap = risk["risk_code"].isin(["11", "12", "13"]) | (
            risk["rule_id"].eq("R-SCHOOL") & risk["value"].isna()
        )
        sudden = (risk["rule_id"].isin(RULES.object_types.sudden_rules) & ~gap).any()
        reg = registry.loc[flag.household_no] if flag.household_no in registry.index else None
        by_registration = (
            "脱贫不稳定户"
            if reg is not None and reg["registry_type"] == "脱贫户"
            else "边缘易致贫户"
        )
        position = flag.income_position
        if reg is not None and isinstance(reg["monitored_type"], str) and reg["monitored_type"]:
            row = (reg["monitored_type"], "object")
        elif risk.empty:
            row = ("", "lead")
        elif position == "below":
            row = (by_registration, "object")
        elif position == "unknown":
            row = ("", "verify")
        elif sudden:
            row = ("突发严重困难户", "object")
        elif position == "near":
            row = (by_registration, "object")
        elif gap.all():
            row = ("", "gap_referral")
        else:
            row = ("", "verify")
        expected[flag.household_no] = row
    return pd.DataFrame.from_dict(expected, orient="index", columns=["object_type", "category"])


def _county_types(policy_run) -> pd.Series:
    """The type of each household's latest 认定纳入 as the county wrote it."""
    decisions = policy_run["table"](
        "SELECT hukou_no AS household_no, decision, decided_on, object_type, load_id, row_number "
        "FROM stg_county_decisions"
    )
    confirmed = decisions[decisions["decision"].eq("认定纳入") & decisions["object_type"].notna()]
    confirmed = confirmed.sort_values(["decided_on", "load_id", "row_number"])
    return confirmed.groupby("household_no")["object_type"].last()


def test_every_listed_type_follows_the_table_and_the_county_type_is_kept(policy_run):
    mart = policy_run["table"]("SELECT * FROM mart_monitoring_list").set_index("household_no")
    expected = _expected_types(policy_run)
    county = _county_types(policy_run)
    confirmed = mart[mart["status"].isin(["confirmed", "assisting", "eliminated"])]
    # The county's type stands on every case it confirmed.
    assert len(confirmed) > 0
    assert (confirmed["object_type"] == county.reindex(confirmed.index)).all()
    assert (confirmed["object_type_source"] == "county").all()
    assert (confirmed["list_category"] == "object").all()
    # The rules' type on every other flagged household, row by row.
    by_rules = mart[mart["object_type_source"].ne("county") & mart.index.isin(expected.index)]
    assert len(by_rules) >= 20
    want = expected.reindex(by_rules.index)
    wrong = by_rules[
        (by_rules["object_type"] != want["object_type"])
        | (by_rules["list_category"] != want["category"])
    ]
    assert wrong.empty, wrong[["object_type", "list_category", "income_position", "risk_types"]]
    # The demo city has every kind: objects of each type, gap referrals, leads, to verify.
    assert set(mart["list_category"]) == {"object", "gap_referral", "verify", "lead"}
    assert {"脱贫不稳定户", "边缘易致贫户", "突发严重困难户"} <= set(mart["object_type"])
    # Only a sudden difficulty above the line makes a 突发严重困难户 by the rules.
    sudden = by_rules[by_rules["object_type"].eq("突发严重困难户")]
    assert sudden["income_position"].isin(["near", "above"]).all() or sudden.empty


def test_risk_types_are_national_and_the_safety_net_is_a_tag(policy_run):
    mart = policy_run["table"]("SELECT * FROM mart_monitoring_list")
    labels = {kind.label for kind in RULES.risk_types.values()}
    for types in mart["risk_types"].dropna():
        for item in filter(None, types.split(";")):
            assert item.split("（")[0] in labels, item
    assert "兜底保障" not in ";".join(mart["risk_types"].dropna())
    tags = {t for joined in mart["tags"].dropna() for t in joined.split(";")}
    assert tags == {"兜底保障", "低保边缘家庭", "刚性支出困难家庭"}


def test_evidence_of_every_flagged_household_in_the_mart_and_the_workbooks(policy_run):
    table = policy_run["table"]
    mart = table("SELECT * FROM mart_monitoring_list")
    evidence = table("SELECT * FROM mart_monitoring_evidence")
    signals = table(
        f"SELECT household_no, signal_no FROM risk_signal WHERE as_of = '{AS_OF}' "
        "AND household_no IN (SELECT household_no FROM mart_monitoring_list)"
    )
    flagged = mart[mart["evidence_count"] > 0]
    assert set(flagged["household_no"]) <= set(evidence["household_no"])
    assert sorted(zip(evidence["household_no"], evidence["signal_no"], strict=True)) == sorted(
        zip(signals["household_no"], signals["signal_no"], strict=True)
    )
    counted = evidence[evidence["kind"].isin(["risk", "lead", "watch"])].groupby("household_no")
    assert (
        counted.size().reindex(flagged["household_no"]).to_numpy()
        == flagged["evidence_count"].to_numpy()
    ).all()
    assert evidence["department"].notna().all()
    # Every row names its file; the authorisation notice only when the household has an
    # authorisation row (expired, withdrawn or narrower), else there is no file to name.
    notice = evidence["rule_id"].eq("A-PENDING")
    assert evidence.loc[~notice, "file_name"].notna().all()
    assert (
        evidence.loc[notice & evidence["file_name"].isna(), "evidence"]
        .str.endswith("（尚无承诺授权书）")
        .all()
    )
    assert evidence["member_id_masked"].dropna().str.fullmatch(r"\d{6}\*{8}[\dX]{4}").all()
    truth = pd.read_csv(policy_run["truth"] / "persons.csv", dtype=str)
    ids = set(truth["id_number"])
    assert not ids & set(evidence.astype(str).to_numpy().ravel())

    seen = []
    for book_path in (policy_run["reports"] / "counties").rglob("*.xlsx"):
        book = load_workbook(book_path, read_only=True)
        rows = list(book["证据"].values)
        assert rows[0] == tuple(EVIDENCE_COLUMNS.values())
        seen += [r[0] for r in rows[1:]]
        values = {v for sheet in book.worksheets for row in sheet.values for v in row}
        assert not values & {"red", "yellow", "green", "True", "False", "lead", "verifying"}
        assert not values & ids
    assert sorted(seen) == sorted(evidence["household_no"])


def test_the_list_for_counties_is_chinese(policy_run):
    listed = pd.read_csv(
        policy_run["reports"] / f"monitoring_list_{AS_OF.replace('-', '')}.csv",
        encoding="utf-8-sig",
        dtype=str,
    )
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in header) for header in listed.columns)
    assert set(listed["预警等级"]) <= {"红", "黄", "绿"}
    assert set(listed["认定逾期"].dropna()) <= {"是", "否"}
    assert "线索待核实" in set(listed["状态"])
    assert set(listed["名单类别"]) == {"监测对象", "部门补短板", "待核实认定", "线索"}


def test_the_national_workbook_has_the_documented_columns(policy_run):
    books = sorted((policy_run["reports"] / "national").rglob("*.xlsx"))
    assert books
    households, members = 0, 0
    for path in books:
        book = load_workbook(path, read_only=True)
        assert book.sheetnames == ["户信息", "成员信息"]
        rows = list(book["户信息"].values)
        assert rows[0] == tuple(NATIONAL_HOUSEHOLD_COLUMNS.values())
        for row in rows[1:]:
            record = dict(zip(rows[0], row, strict=True))
            assert record["监测对象类别代码"] in {"1", "2", "3"}
            assert record["风险消除状态代码"] in {"1", "2"}
        people = list(book["成员信息"].values)
        assert people[0] == tuple(NATIONAL_MEMBER_COLUMNS.values())
        households += len(rows) - 1
        members += len(people) - 1
    cases = policy_run["table"](
        f"SELECT status FROM household_case WHERE as_of = '{AS_OF}' "
        "AND status IN ('confirmed', 'assisting', 'eliminated')"
    )
    # Every confirmed object, and the eliminations of a single run (all new in it).
    assert households == len(cases) and members >= households


def test_asset_checks_only_with_a_signed_authorisation(policy_run):
    table = policy_run["table"]
    # The flagged households of the list (open cases no longer flagged are not checked).
    mart = table(
        "SELECT household_no, asset_check, evidence_count FROM mart_monitoring_list "
        "WHERE household_no IN "
        f"(SELECT household_no FROM household_flag WHERE as_of = '{AS_OF}')"
    )
    auth = table(
        "SELECT l.household_no, s.signed_on, s.valid_until, s.scope, s.auth_status "
        "FROM stg_xczx_authorisation s JOIN record_link l "
        "ON l.source_id = 'xczx_authorisation' AND l.record_key = s.record_key"
    )
    valid = auth[
        (pd.to_datetime(auth["signed_on"]) <= pd.Timestamp(AS_OF))
        & (pd.to_datetime(auth["valid_until"]) >= pd.Timestamp(AS_OF))
        & auth["auth_status"].eq("有效")
        & ~auth["scope"].str.contains("仅限收入")
    ]
    authorised = mart["household_no"].isin(valid["household_no"])
    assert authorised.any() and (~authorised).any()
    assert (mart.loc[~authorised, "asset_check"] == "待签署授权").all()
    assert not mart.loc[authorised, "asset_check"].eq("待签署授权").any()
    assert mart.loc[authorised, "asset_check"].notna().any()  # some checks found something
    evidence = table(
        "SELECT household_no, rule_id, evidence FROM mart_monitoring_evidence WHERE kind = 'asset'"
    )
    data = evidence[evidence["rule_id"] != "A-PENDING"]
    assert len(data) and set(data["household_no"]) <= set(valid["household_no"])
    signals = table(
        "SELECT household_no FROM risk_signal WHERE rule_id LIKE 'A-%' AND rule_id <> 'A-PENDING'"
    )
    assert set(signals["household_no"]) <= set(valid["household_no"])
    # Instead of the data: the notice, in the evidence (and the 证据 sheet, explain) of
    # every listed household with signals that has no valid authorisation.
    notice = evidence[evidence["rule_id"] == "A-PENDING"]
    with_signals = mart[mart["evidence_count"] > 0]
    waiting = with_signals.loc[
        ~with_signals["household_no"].isin(valid["household_no"]), "household_no"
    ]
    assert len(waiting) and sorted(notice["household_no"]) == sorted(waiting)
    assert (
        notice["evidence"]
        .str.startswith("待签署授权：名下有车辆、企业法定代表人、多处不动产、财政供养人员（")
        .all()
    )


def test_accidents_from_both_accident_sources(policy_run, demo_city):
    """R-ACCIDENT from 公安交警 road accidents and 应急管理局 work-safety accidents: one
    signal per landed casualty within the window (the demo's IDs are clean here)."""

    def landed(source: str, encoding: str) -> pd.DataFrame:
        files = sorted((demo_city["landing"] / source).glob("*.csv"))
        return pd.concat([pd.read_csv(f, encoding=encoding, dtype=str) for f in files])

    window = pd.Timestamp(AS_OF) - pd.DateOffset(years=1)
    road = landed("gongan_accident", "gb18030")
    road = road[
        (pd.to_datetime(road["事故发生日期"]) > window)
        & (
            road["伤亡情况"].isin(["死亡", "重伤"])
            | (road["直接财产损失(元)"].astype(float) >= 10000)
        )
    ]
    work = landed("yingji_accident", "utf-8")
    work_recent = work[pd.to_datetime(work["发生日期"]) > window]
    work_serious = work_recent[work_recent["伤亡程度"].isin(["死亡", "重伤"])]
    signals = policy_run["table"](
        f"SELECT * FROM risk_signal WHERE as_of = '{AS_OF}' AND rule_id = 'R-ACCIDENT'"
    )
    by_source = signals.groupby("source_id").size().to_dict()
    assert len(road) > 0 and len(work_serious) > 0
    assert by_source == {"gongan_accident": len(road), "yingji_accident": len(work_serious)}
    # The demo city's work-safety casualties (seed 7, 250 households): one recent death or
    # serious injury; the others minor or older than the window.
    assert (len(work), len(work_serious)) == (2, 1)
    assert set(signals["risk_code"]) == {"05"} and set(signals["risk_type"]) == {"因意外事故"}
    work_signal = signals[signals["source_id"] == "yingji_accident"].iloc[0]
    kind, day, hurt = work_serious.iloc[0][["事故类别", "发生日期", "伤亡程度"]]
    day = pd.Timestamp(day).strftime("%Y-%m-%d")
    assert work_signal["evidence"] == f"意外事故（{day}，{kind}）：当事人{hurt}"
    # Only households planted with hardship (the clean ones had minor or old accidents).
    truth = pd.read_csv(demo_city["truth"] / "hardship.csv", dtype=str)
    assert set(signals["household_no"]) <= set(truth["household_no"])


def test_income_rules_use_the_rolling_twelve_months_of_monthly_wages(policy_run):
    """The demo's current-year 工资性收入 is the sum of 人社's monthly wages over the 12
    months to the run date, so the rolling income equals the delivered per-capita income:
    every income signal of a household with monthly wage rows states the window and the
    source, with the value of the 2026 nync_income row."""
    table = policy_run["table"]
    signals = table(
        f"SELECT household_no, rule_id, value, evidence FROM risk_signal WHERE as_of = '{AS_OF}' "
        "AND rule_id IN ('R-INCOME', 'W-NEAR-LINE', 'R-DROP') ORDER BY household_no, rule_id"
    )
    income = table(
        "SELECT l.household_no, s.income_pc FROM stg_nync_income s JOIN record_link l "
        "ON l.source_id = 'nync_income' AND l.record_key = s.record_key WHERE s.year = 2026"
    ).set_index("household_no")["income_pc"]
    monthly = set(
        table(
            "SELECT DISTINCT l.household_no FROM stg_renshe_employment s JOIN record_link l "
            "ON l.source_id = 'renshe_employment' AND l.record_key = s.record_key"
        )["household_no"]
    )
    rolled = signals["evidence"].str.contains(
        "工资性收入按人社局就业失业月度数据 2025-12至2026-11 计 ", regex=False
    )
    # Measured on the demo city (seed 7, 250 households): 2 R-INCOME and 2 R-DROP, all of
    # households with monthly wages, all twelve months present.
    assert sorted(signals["rule_id"]) == ["R-DROP", "R-DROP", "R-INCOME", "R-INCOME"]
    assert rolled.all() and set(signals["household_no"]) <= monthly
    assert signals["evidence"].str.contains("12个月齐全", regex=False).all()
    below = signals[signals["rule_id"] == "R-INCOME"]
    assert below["evidence"].str.startswith("近12个月（2025-12至2026-11）人均纯收入 ").all()
    for row in signals.itertuples():
        assert round(row.value, 2) == round(income[row.household_no], 2), row.household_no
