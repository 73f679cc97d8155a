"""Explain one household: its flag, every signal with its evidence, masked throughout.

Backs ``crosscheck explain HOUSEHOLD_NO``: what a county officer needs to verify a warning
at the household's door (a warning is a lead to verify, never a verdict).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, select

from privacy import redact_ids
from warehouse.db import read_frame
from warehouse.exports import CATEGORY_LABELS
from warehouse.models import (
    DimHousehold,
    DimPerson,
    HouseholdCase,
    HouseholdFlag,
    LoadAudit,
    RiskSignal,
)
from warehouse.rules import load_rule_set

__all__ = ["explain_household"]


def explain_household(engine: Engine, household_no: str, as_of: dt.date | None = None) -> str:
    """A plain-text report of the household at the run date (default: its latest)."""
    with engine.connect() as conn:
        house = conn.execute(
            select(DimHousehold).where(DimHousehold.household_no == household_no)
        ).first()
        if house is None:
            return f"户号 {household_no}：户籍中没有这一户"
        if as_of is None:
            as_of = conn.execute(
                select(func.max(RiskSignal.as_of)).where(RiskSignal.household_no == household_no)
            ).scalar()
        flag = conn.execute(
            select(HouseholdFlag).where(
                HouseholdFlag.household_no == household_no, HouseholdFlag.as_of == as_of
            )
        ).first()
        case = conn.execute(
            select(HouseholdCase).where(
                HouseholdCase.household_no == household_no, HouseholdCase.as_of == as_of
            )
        ).first()
        members = read_frame(
            conn,
            select(
                DimPerson.name,
                DimPerson.id_masked,
                DimPerson.relation,
                DimPerson.birth_date,
                DimPerson.status,
                DimPerson.cancel_reason,
            )
            .where(DimPerson.household_no == household_no)
            .order_by(DimPerson.relation),
        )
        signals = read_frame(
            conn,
            select(
                RiskSignal.rule_id,
                RiskSignal.risk_type,
                RiskSignal.source_id,
                LoadAudit.file_name,
                RiskSignal.row_number,
                RiskSignal.event_date,
                RiskSignal.value,
                RiskSignal.threshold,
                RiskSignal.evidence,
            )
            .join(LoadAudit, LoadAudit.load_id == RiskSignal.load_id, isouter=True)
            .where(
                RiskSignal.household_no == household_no,
                RiskSignal.as_of == as_of,
            )
            .order_by(RiskSignal.signal_no),
        )
    lines = [
        f"户号 {household_no}  {house.county or ''} {house.township or ''} "
        f"{house.village or ''}  户主 {house.head_name or ''} {house.head_id_masked or ''}"
    ]
    if flag is None:
        lines.append(f"截至 {as_of}：未列入监测名单" if as_of else "尚无风险信号")
    else:
        category = CATEGORY_LABELS.get(flag.list_category or "", "")
        lines.append(
            f"截至 {as_of}：{flag.object_type or '未定类型'}（{category}），{flag.grade}，"
            f"风险类型 {flag.risk_types}"
            + (f"（代码 {flag.risk_codes}）" if flag.risk_codes else "")
            + (f"；标签：{flag.tags}" if flag.tags else "")
            + (f"；资产核查：{flag.asset_check}" if flag.asset_check else "")
        )
    if case is not None:
        lines += _case_lines(case)
    lines.append("家庭成员：")
    for m in members.itertuples():
        state = "" if m.status != "注销" else f"（注销：{m.cancel_reason or ''}）"
        lines.append(
            f"  {m.relation or ''} {m.name or ''} {m.id_masked or ''} {m.birth_date or ''}{state}"
        )
    lines.append("信号与证据：")
    for s in signals.itertuples():
        where = f"{s.source_id}/{s.file_name} 第{s.row_number}行" if s.file_name else s.source_id
        crossed = (
            f"（数值 {s.value:.0f}，阈值 {s.threshold:.0f}）"
            if s.value is not None
            and s.threshold is not None
            and s.value == s.value
            and s.threshold == s.threshold
            else ""
        )
        lines.append(f"  [{s.rule_id}] {s.risk_type}：{s.evidence}{crossed}  — {where}")
    return redact_ids("\n".join(lines))


def _case_lines(case) -> list[str]:
    """The household's case: status, deadline, measures, elimination check, conflicts."""
    label = load_rule_set()["cases"]["status_labels"].get(case.status, case.status)
    reopened = "（新风险重新开启）" if case.reopened else ""
    head = f"案件：第{case.case_no}件{reopened}，{label}（自 {case.status_since}）"
    if case.decision_due is not None:
        head += f"，认定截止 {case.decision_due}" + ("（已逾期）" if case.overdue else "")
    lines = [head]
    if case.object_type_source == "county":
        lines.append(f"  县级认定类型：{case.object_type}")
    if case.measures:
        lines.append(f"  已落实帮扶措施：{case.measures}")
    if case.suggested_measures:
        lines.append(f"  建议帮扶措施：{case.suggested_measures}")
    if case.elimination_check == "eligible":
        lines.append("  风险消除条件：符合")
    elif case.elimination_check == "not_eligible":
        lines.append(f"  风险消除条件：不符合（{case.elimination_blockers}）")
    if case.decision_conflict:
        lines.append(f"  县级决定需复核：{case.decision_conflict}")
    return lines
