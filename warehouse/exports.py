"""Exports for counties: the monitoring list per county, village posting lists, changes,
and the import workbook for the national information system. Everything an officer opens
is in Chinese, headers and values (红/黄/绿, 线索待核实, 是/否).

- ``monitoring_list_<date>.csv``: the whole list in Chinese (every column of the mart).
- ``counties/<county>/monitoring_list_<date>.xlsx``: one sheet per township and a 证据 sheet
  (every signal behind each household: member with masked ID, risk type, evidence,
  department, file, row, value, threshold); every cell text (masked IDs stay text).
- ``posting/<county>/<township>/<village>_公示_<date>.csv``: what a village may post
  (name, village, object type, risk type) for households under home verification; never
  ID numbers, phones, bank accounts or health details.
- ``changes_<date>.csv``: households new, escalated or resolved since the previous run.
- ``national/<county>/national_import_<date>.xlsx``: confirmed monitoring objects and the
  ones that changed, one sheet of households and one of members, codes not free text
  (``write_national_export``; columns in docs/policy.md). Reproducible for any past run
  date from the warehouse's history.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from warehouse.db import read_frame
from warehouse.marts import read_monitoring_list
from warehouse.marts.monitoring_evidence import KIND_LABELS, read_monitoring_evidence
from warehouse.models import (
    DimHousehold,
    DimHouseholdHistory,
    DimPerson,
    DimPersonHistory,
    HouseholdCase,
    HouseholdFlag,
)
from warehouse.rules import RuleSet, load_rule_set

__all__ = [
    "EVIDENCE_COLUMNS",
    "LIST_COLUMNS",
    "NATIONAL_HOUSEHOLD_COLUMNS",
    "NATIONAL_MEMBER_COLUMNS",
    "chinese_list",
    "write_city_exports",
    "write_county_export",
    "write_national_export",
]

LIST_COLUMNS = {
    "household_no": "户号",
    "county": "县(市、区)",
    "township": "乡镇",
    "village": "村",
    "head_name": "户主姓名",
    "head_id_masked": "户主身份证号（脱敏）",
    "object_type": "监测对象类型",
    "risk_types": "风险类型",
    "grade": "预警等级",
    "asset_check": "资产核查",
    "first_flagged_at": "首次预警日期",
    "evidence_count": "证据条数",
    "status": "状态",
    "status_since": "状态日期",
    "decision_due": "认定截止日期",
    "overdue": "认定逾期",
    "measures": "已落实帮扶措施",
    "suggested_measures": "建议帮扶措施",
    "elimination_check": "风险消除条件",
    "elimination_blockers": "未满足的条件",
    "decision_conflict": "县级决定需复核",
    "list_category": "名单类别",
    "object_type_source": "类型来源",
    "income_position": "收入状况",
    "risk_codes": "风险类型代码",
    "tags": "标签",
    "gap_departments": "补短板责任部门",
    "case_no": "案件序号",
    "as_of": "数据日期",
}
# Officer-facing values of the mart's coded columns.
GRADE_LABELS = {"red": "红", "yellow": "黄", "green": "绿"}
CATEGORY_LABELS = {
    "object": "监测对象",
    "gap_referral": "部门补短板",
    "verify": "待核实认定",
    "lead": "线索",
}
TYPE_SOURCE_LABELS = {"county": "县级认定", "rules": "规则判定"}
POSITION_LABELS = {
    "below": "低于监测线",
    "near": "略高于监测线",
    "above": "高于监测线",
    "unknown": "无收入数据",
}
YES_NO = {True: "是", False: "否"}
EVIDENCE_COLUMNS = {
    "household_no": "户号",
    "township": "乡镇",
    "village": "村",
    "head_name": "户主姓名",
    "member_name": "成员姓名",
    "member_id_masked": "成员身份证号（脱敏）",
    "kind": "类别",
    "risk_code": "风险类型代码",
    "risk_type": "风险类型",
    "evidence": "证据",
    "department": "来源部门",
    "file_name": "文件",
    "row_number": "行号",
    "event_date": "发生日期",
    "value": "数值",
    "threshold": "阈值",
}
EVIDENCE_SHEET = "证据"
# Only households whose home verification has started are posted in the village (公示):
# an unverified data warning is a lead to check, not something to show the neighbours.
POSTED_STATUSES = ("verifying",)
_CHECK_LABELS = {"eligible": "符合", "not_eligible": "不符合"}
POSTING_COLUMNS = {
    "head_name": "户主姓名",
    "village": "村",
    "object_type": "监测对象类型",
    "risk_types": "风险类型",
}
_GRADE_RANK = {"green": 1, "yellow": 2, "red": 3}


def _safe(name: object) -> str:
    text = str(name) if name is not None and name == name else "未知"
    return "".join(c for c in text if c not in '/\\:*?"<>|') or "未知"


def _append_rows(ws, rows: pd.DataFrame) -> None:
    ws.append(list(rows.columns))
    for row in rows.astype(object).where(rows.notna(), None).itertuples(index=False):
        ws.append([None if v is None else str(v) for v in row])


def _write_county_xlsx(frame: pd.DataFrame, evidence: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for township, rows in frame.groupby(frame["乡镇"].fillna("未知"), sort=True):
        _append_rows(wb.create_sheet(_safe(township)[:31]), rows)
    _append_rows(wb.create_sheet(EVIDENCE_SHEET), evidence)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def _number(values: pd.Series) -> pd.Series:
    """Amounts as officers write them: whole yuan without '.0'; blank when unknown."""
    numbers = pd.to_numeric(values, errors="coerce").round(2)
    text = numbers.map(lambda v: f"{v:.2f}".rstrip("0").rstrip("."), na_action="ignore")
    return text.astype(object)


def chinese_list(mart: pd.DataFrame, rules: RuleSet | None = None) -> pd.DataFrame:
    """The monitoring list as officers read it: Chinese headers and values."""
    rules = rules or load_rule_set()
    listing = mart[list(LIST_COLUMNS)].assign(
        grade=mart["grade"].map(GRADE_LABELS),
        status=mart["status"].map(rules["cases"]["status_labels"]),
        overdue=mart["overdue"].map(lambda v: YES_NO.get(bool(v)) if v == v else None),
        elimination_check=mart["elimination_check"].map(_CHECK_LABELS),
        list_category=mart["list_category"].map(CATEGORY_LABELS),
        object_type_source=mart["object_type_source"].map(TYPE_SOURCE_LABELS),
        income_position=mart["income_position"].map(POSITION_LABELS),
    )
    return listing.rename(columns=LIST_COLUMNS)


def chinese_evidence(evidence: pd.DataFrame) -> pd.DataFrame:
    """The evidence rows as officers read them: Chinese headers and values."""
    out = evidence[list(EVIDENCE_COLUMNS)].assign(
        kind=evidence["kind"].map(KIND_LABELS),
        value=_number(evidence["value"]),
        threshold=_number(evidence["threshold"]),
    )
    return out.rename(columns=EVIDENCE_COLUMNS)


def _changes(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    with engine.connect() as conn:
        previous = conn.execute(
            select(func.max(HouseholdFlag.as_of)).where(HouseholdFlag.as_of < as_of)
        ).scalar()
        now = read_frame(
            conn,
            select(HouseholdFlag.household_no, HouseholdFlag.grade, HouseholdFlag.risk_types).where(
                HouseholdFlag.as_of == as_of
            ),
        )
        before = (
            read_frame(
                conn,
                select(
                    HouseholdFlag.household_no, HouseholdFlag.grade, HouseholdFlag.risk_types
                ).where(HouseholdFlag.as_of == previous),
            )
            if previous
            else pd.DataFrame(columns=["household_no", "grade", "risk_types"])
        )
        cases = read_frame(
            conn,
            select(HouseholdCase.as_of, HouseholdCase.household_no, HouseholdCase.status).where(
                HouseholdCase.as_of.in_([as_of, previous]), HouseholdCase.on_list
            ),
        )
        places = read_frame(
            conn,
            select(
                DimHousehold.household_no,
                DimHousehold.county,
                DimHousehold.township,
                DimHousehold.village,
            ),
        )
    both = now.merge(before, on="household_no", how="outer", suffixes=("", "_before"))
    rank, rank_before = both["grade"].map(_GRADE_RANK), both["grade_before"].map(_GRADE_RANK)
    change = pd.Series(pd.NA, index=both.index, dtype="string")
    change[rank.notna() & rank_before.isna()] = "新增"
    change[rank.isna() & rank_before.notna()] = "风险消除或不再预警"
    change[rank.notna() & rank_before.notna() & (rank > rank_before)] = "升级"
    change[rank.notna() & rank_before.notna() & (rank < rank_before)] = "降级"
    # A household whose grade held but whose case moved (e.g. confirmed, eliminated).
    by_household = cases.set_index("household_no").rename_axis(None)
    status = by_household.loc[by_household["as_of"] == as_of, "status"]
    status_before = by_household.loc[by_household["as_of"] == previous, "status"]
    labels = load_rule_set()["cases"]["status_labels"]
    both = both.merge(
        pd.DataFrame({"status": status.map(labels), "status_before": status_before.map(labels)}),
        left_on="household_no",
        right_index=True,
        how="outer",
    )
    change = change.reindex(both.index)
    moved = both["status"].ne(both["status_before"]) & both["status_before"].notna()
    change[change.isna() & moved] = "状态变化"
    both["change"] = change
    out = both[both["change"].notna()].merge(places, on="household_no", how="left")
    out["previous_run"] = previous
    return out.sort_values(["county", "township", "village", "household_no"])


def write_county_export(
    engine: Engine, as_of: dt.date, reports_dir: Path, county: str
) -> list[Path]:
    """One county's workbook (the list with its evidence sheet) and its villages' posting
    lists: all a county officer acts on, written by the county's own step."""
    mart = read_monitoring_list(engine, county)
    written: list[Path] = []
    if len(mart):
        listing = chinese_list(mart, load_rule_set())
        evidence = chinese_evidence(read_monitoring_evidence(engine, county))
        path = reports_dir / "counties" / _safe(county) / f"monitoring_list_{as_of:%Y%m%d}.xlsx"
        _write_county_xlsx(listing, evidence, path)
        written.append(path)
    posted = mart[mart["status"].isin(POSTED_STATUSES)]
    posting = posted[["township", *POSTING_COLUMNS]]
    for (township, village), rows in posting.groupby(
        [posting["township"].fillna("未知"), posting["village"].fillna("未知")], sort=True
    ):
        path = (
            reports_dir
            / "posting"
            / _safe(county)
            / _safe(township)
            / f"{_safe(village)}_公示_{as_of:%Y%m%d}.csv"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        rows[list(POSTING_COLUMNS)].rename(columns=POSTING_COLUMNS).to_csv(
            path, index=False, encoding="utf-8-sig"
        )
        written.append(path)
    return written


def write_city_exports(engine: Engine, as_of: dt.date, reports_dir: Path) -> list[Path]:
    """The city's Chinese list (every county), the change list and the national-system
    import workbooks."""
    rules = load_rule_set()
    mart = read_monitoring_list(engine)
    written: list[Path] = []
    listing = chinese_list(mart, rules)
    # The list "for counties" in Chinese, under the name the run summary gives it.
    path = reports_dir / f"monitoring_list_{as_of:%Y%m%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    listing.to_csv(path, index=False, encoding="utf-8-sig")
    written.append(path)
    changes = _changes(engine, as_of)
    changes["grade"] = changes["grade"].map(GRADE_LABELS)
    changes["grade_before"] = changes["grade_before"].map(GRADE_LABELS)
    path = reports_dir / f"changes_{as_of:%Y%m%d}.csv"
    changes.rename(
        columns={
            "household_no": "户号",
            "county": "县(市、区)",
            "township": "乡镇",
            "village": "村",
            "change": "变化",
            "grade": "预警等级",
            "grade_before": "上次等级",
            "risk_types": "风险类型",
            "risk_types_before": "上次风险类型",
            "previous_run": "上次运行日期",
            "status": "状态",
            "status_before": "上次状态",
        }
    ).to_csv(path, index=False, encoding="utf-8-sig")
    written.append(path)
    written += write_national_export(engine, as_of, reports_dir, rules)
    return written


# ----------------------------------------------------------------- national-system import

# The national information system's fields, in its order (docs/policy.md lists them).
NATIONAL_HOUSEHOLD_COLUMNS = {
    "household_no": "户号",
    "county": "县(市、区)",
    "township": "乡镇",
    "village": "村",
    "head_name": "户主姓名",
    "head_id_masked": "户主证件号码（脱敏）",
    "members": "家庭人口数",
    "object_type_code": "监测对象类别代码",
    "object_type": "监测对象类别",
    "risk_codes": "风险类型代码",
    "risk_types": "风险类型",
    "confirmed_at": "识别纳入日期",
    "elimination_code": "风险消除状态代码",
    "elimination": "风险消除状态",
    "closed_at": "风险消除日期",
    "measures": "帮扶措施",
    "change": "本期变化",
    "as_of": "数据日期",
}
NATIONAL_MEMBER_COLUMNS = {
    "household_no": "户号",
    "name": "姓名",
    "id_masked": "证件号码（脱敏）",
    "relation": "与户主关系",
    "sex": "性别",
    "birth_date": "出生日期",
    "status": "户籍状态",
}
# Object types and elimination states by code (the 2021 guidance's order).
OBJECT_TYPE_CODES = {"脱贫不稳定户": "1", "边缘易致贫户": "2", "突发严重困难户": "3"}
ELIMINATION_CODES = {"未消除": "1", "已消除": "2"}
# Monitoring objects the county has confirmed: helped, or eliminated (kept in the system).
NATIONAL_STATUSES = ("confirmed", "assisting", "eliminated")


def _national_objects(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """Confirmed monitoring objects at a run date (household_case of that date)."""
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(
                HouseholdCase.household_no,
                HouseholdCase.status,
                HouseholdCase.object_type,
                HouseholdCase.decided_risk_types,
                HouseholdCase.confirmed_at,
                HouseholdCase.closed_at,
                HouseholdCase.measures,
            ).where(
                HouseholdCase.as_of == as_of,
                HouseholdCase.status.in_(NATIONAL_STATUSES),
                HouseholdCase.object_type.is_not(None),
            ),
        )


def national_objects(engine: Engine, as_of: dt.date, rules: RuleSet) -> pd.DataFrame:
    """Households for the national system at ``as_of``: every confirmed monitoring object
    with what changed since the run before (新增纳入, 类别变化, 风险类型变化, 风险消除, 无变化),
    places and members as the warehouse's history held them on that date."""
    with engine.connect() as conn:
        previous = conn.execute(
            select(func.max(HouseholdCase.as_of)).where(HouseholdCase.as_of < as_of)
        ).scalar()
    now = _national_objects(engine, as_of)
    before = _national_objects(engine, previous) if previous else now.iloc[0:0]
    names = rules.risk_names
    now["risk_codes"] = now["decided_risk_types"].map(
        lambda text: ";".join(
            dict.fromkeys(names[item] for item in str(text or "").split(";") if item in names)
        ),
    )
    now["risk_types"] = now["risk_codes"].map(
        lambda codes: ";".join(rules.risk_label(c) for c in codes.split(";") if c)
    )
    now["elimination"] = now["status"].eq("eliminated").map({True: "已消除", False: "未消除"})
    prior = before.set_index("household_no")
    known = now["household_no"].isin(prior.index)
    old = prior.reindex(now["household_no"])
    change = pd.Series("无变化", index=now.index, dtype=object)
    same_types = old["decided_risk_types"].fillna("").to_numpy() == now[
        "decided_risk_types"
    ].fillna("")
    change[known.to_numpy() & ~same_types] = "风险类型变化"
    change[known.to_numpy() & (old["object_type"].to_numpy() != now["object_type"])] = "类别变化"
    eliminated_now = now["status"].eq("eliminated").to_numpy()
    change[known.to_numpy() & eliminated_now & old["status"].ne("eliminated").to_numpy()] = (
        "风险消除"
    )
    change[~known.to_numpy()] = "新增纳入"
    now["change"] = change
    # Eliminated long ago and unchanged: already in the national system as it is.
    now = now[~(eliminated_now & change.eq("无变化").to_numpy())]
    return now.assign(
        object_type_code=now["object_type"].map(OBJECT_TYPE_CODES),
        elimination_code=now["elimination"].map(ELIMINATION_CODES),
        as_of=as_of,
    )


def _members_on(
    engine: Engine, as_of: dt.date, households: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members of the households as the register stood at ``as_of`` (history intervals)."""
    h = DimPersonHistory
    with engine.connect() as conn:
        members = read_frame(
            conn,
            select(
                h.household_no,
                h.relation,
                h.status,
                DimPerson.name,
                DimPerson.id_masked,
                DimPerson.sex,
                DimPerson.birth_date,
            )
            .join(DimPerson, DimPerson.person_key == h.person_key)
            .where(h.valid_from <= as_of, h.valid_to.is_(None) | (h.valid_to > as_of)),
        )
        places = read_frame(
            conn,
            select(
                DimHouseholdHistory.household_no,
                DimHouseholdHistory.county,
                DimHouseholdHistory.township,
                DimHouseholdHistory.village,
                DimHouseholdHistory.members,
                DimHouseholdHistory.head_person_key,
            ).where(
                DimHouseholdHistory.valid_from <= as_of,
                DimHouseholdHistory.valid_to.is_(None) | (DimHouseholdHistory.valid_to > as_of),
            ),
        )
        heads = read_frame(
            conn,
            select(
                DimPerson.person_key.label("head_person_key"),
                DimPerson.name.label("head_name"),
                DimPerson.id_masked.label("head_id_masked"),
            ),
        )
    members = members[members["household_no"].isin(households)]
    places = places[places["household_no"].isin(households)].merge(
        heads, on="head_person_key", how="left"
    )
    return members, places


def write_national_export(
    engine: Engine, as_of: dt.date, reports_dir: Path, rules: RuleSet | None = None
) -> list[Path]:
    """``national/<county>/national_import_<date>.xlsx`` per county: sheet 户信息 (one row per
    household) and sheet 成员信息 (one row per member). Any past run date works: it reads
    the cases, places and members the warehouse held on that date."""
    from openpyxl import Workbook

    rules = rules or load_rule_set()
    objects = national_objects(engine, as_of, rules)
    members, places = _members_on(engine, as_of, objects["household_no"])
    objects = objects.merge(places, on="household_no", how="left")
    objects = objects.sort_values(["county", "township", "village", "household_no"])
    members = members.sort_values(["household_no", "relation", "name"], kind="stable")
    written = []
    for county, rows in objects.groupby(objects["county"].fillna("未知"), sort=True):
        wb = Workbook(write_only=True)
        households = rows[list(NATIONAL_HOUSEHOLD_COLUMNS)].rename(
            columns=NATIONAL_HOUSEHOLD_COLUMNS
        )
        _append_rows(wb.create_sheet("户信息"), households)
        people = members[members["household_no"].isin(rows["household_no"])]
        _append_rows(
            wb.create_sheet("成员信息"),
            people[list(NATIONAL_MEMBER_COLUMNS)].rename(columns=NATIONAL_MEMBER_COLUMNS),
        )
        path = reports_dir / "national" / _safe(county) / f"national_import_{as_of:%Y%m%d}.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
        written.append(path)
    return written
