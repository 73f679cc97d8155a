"""Exports for counties: the monitoring list per county, village posting lists, changes.

- ``counties/<county>/monitoring_list_<date>.xlsx``: one sheet per township, every cell
  text (masked IDs stay text, Excel never turns them into numbers).
- ``posting/<county>/<township>/<village>_公示_<date>.csv``: what a village may post
  (name, village, object type, risk type) for households under home verification; never
  ID numbers, phones, bank accounts or health details.
- ``changes_<date>.csv``: households new, escalated or resolved since the previous run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from warehouse.db import read_frame
from warehouse.marts import read_monitoring_list
from warehouse.models import DimHousehold, HouseholdCase, HouseholdFlag
from warehouse.rules import load_rule_set

__all__ = ["write_county_exports"]

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
}
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


def _write_county_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for township, rows in frame.groupby(frame["乡镇"].fillna("未知"), sort=True):
        ws = wb.create_sheet(_safe(township)[:31])
        ws.append(list(rows.columns))
        for row in rows.astype(object).where(rows.notna(), None).itertuples(index=False):
            ws.append([None if v is None else str(v) for v in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


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


def write_county_exports(engine: Engine, as_of: dt.date, reports_dir: Path) -> list[Path]:
    """Write the county workbooks, village posting lists and the change list."""
    mart = read_monitoring_list(engine)
    written: list[Path] = []
    listing = mart[list(LIST_COLUMNS)].assign(
        status=mart["status"].map(load_rule_set()["cases"]["status_labels"]),
        overdue=mart["overdue"].map({True: "是", False: "否"}),
        elimination_check=mart["elimination_check"].map(_CHECK_LABELS),
    )
    listing = listing.rename(columns=LIST_COLUMNS)
    for county, rows in listing.groupby(listing["县(市、区)"].fillna("未知"), sort=True):
        path = reports_dir / "counties" / _safe(county) / f"monitoring_list_{as_of:%Y%m%d}.xlsx"
        _write_county_xlsx(rows, path)
        written.append(path)
    posted = mart[mart["status"].isin(POSTED_STATUSES)]
    posting = posted[["county", "township", *POSTING_COLUMNS]]
    for (county, township, village), rows in posting.groupby(
        [
            posting["county"].fillna("未知"),
            posting["township"].fillna("未知"),
            posting["village"].fillna("未知"),
        ],
        sort=True,
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
    changes = _changes(engine, as_of)
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
    return written
