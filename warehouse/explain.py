"""Explain one household: its flag, every signal with its evidence, masked throughout.

Backs ``crosscheck explain HOUSEHOLD_NO``: what a county officer needs to verify a warning
at the household's door (a warning is a lead to verify, never a verdict).

Two readers: the pipeline (or an administrator) reads the warehouse's own tables
(``explain_household``, any run date); a county officer may read only the officer marts
(``mart_monitoring_list`` and ``mart_monitoring_evidence``, their county's rows under
row-level security: ``warehouse.access``), so for a role that cannot read the household
dimension ``explain_household`` answers from those marts (``explain_from_marts``): the
latest run's list row and evidence, the members the evidence names. Asset data shows
only as the list shows it (待签署授权 without the household's authorisation).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, select, text

from privacy import redact_ids
from warehouse.db import read_frame
from warehouse.exports import CATEGORY_LABELS
from warehouse.models import (
    DimHousehold,
    DimPerson,
    HouseholdCase,
    HouseholdFlag,
    LoadAudit,
    MonitoringEvidence,
    MonitoringList,
    RiskSignal,
)
from warehouse.rules import load_rule_set

__all__ = ["explain_from_marts", "explain_household"]


def _reads_restricted(engine: Engine) -> bool:
    """Whether the connected role may read the household dimension (the pipeline, an
    administrator); a county officer may not (PostgreSQL grants; SQLite has no roles)."""
    if engine.dialect.name != "postgresql":
        return True
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT has_table_privilege(current_user, :t, 'SELECT')"),
                {"t": DimHousehold.__tablename__},
            ).scalar()
        )


def explain_household(engine: Engine, household_no: str, as_of: dt.date | None = None) -> str:
    """A plain-text report of the household at the run date (default: its latest). A role
    that may not read the warehouse's own tables (a county officer) gets
    ``explain_from_marts``."""
    if not _reads_restricted(engine):
        return explain_from_marts(engine, household_no, as_of)
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
        lines.append(_flag_line(flag, as_of))
    if case is not None:
        lines += _case_lines(case)
    lines.append("家庭成员：")
    for m in members.itertuples():
        state = "" if m.status != "注销" else f"（注销：{m.cancel_reason or ''}）"
        lines.append(
            f"  {m.relation or ''} {m.name or ''} {m.id_masked or ''} {m.birth_date or ''}{state}"
        )
    lines.append("信号与证据：")
    lines += [_signal_line(s) for s in signals.itertuples()]
    return redact_ids("\n".join(lines))


def _flag_line(flag, as_of) -> str:
    category = CATEGORY_LABELS.get(flag.list_category or "", "")
    return (
        f"截至 {as_of}：{flag.object_type or '未定类型'}（{category}），{flag.grade}，"
        f"风险类型 {flag.risk_types}"
        + (f"（代码 {flag.risk_codes}）" if flag.risk_codes else "")
        + (f"；标签：{flag.tags}" if flag.tags else "")
        + (f"；资产核查：{flag.asset_check}" if flag.asset_check else "")
    )


def _known(value) -> bool:
    return value is not None and value == value  # not None, not NaN


def _signal_line(s) -> str:
    row = f" 第{int(s.row_number)}行" if _known(s.row_number) else ""
    where = f"{s.source_id}/{s.file_name}{row}" if s.file_name else s.source_id
    department = getattr(s, "department", None)  # the evidence mart names it
    where = f"{department} {where}" if department else where
    crossed = (
        f"（数值 {s.value:.0f}，阈值 {s.threshold:.0f}）"
        if _known(s.value) and _known(s.threshold)
        else ""
    )
    return f"  [{s.rule_id}] {s.risk_type}：{s.evidence}{crossed}  — {where}"


def explain_from_marts(engine: Engine, household_no: str, as_of: dt.date | None = None) -> str:
    """The household's report from the officer marts only (the latest run's list row and
    evidence; under row-level security a county officer reads their county's rows): what
    a ``county_officer`` role may read. Another run date than the marts' is not there."""
    with engine.connect() as conn:
        row = conn.execute(
            select(MonitoringList).where(MonitoringList.household_no == household_no)
        ).first()
        evidence = read_frame(
            conn,
            select(MonitoringEvidence)
            .where(MonitoringEvidence.household_no == household_no)
            .order_by(MonitoringEvidence.signal_no),
        )
    if row is None:
        return f"户号 {household_no}：不在本县最新监测名单上（或无权查看这一户）"
    if as_of is not None and as_of != row.as_of:
        return (
            f"户号 {household_no}：监测名单只有 {row.as_of} 的名单与证据，"
            f"{as_of} 的情况请向数据管理员查询"
        )
    lines = [
        f"户号 {household_no}  {row.county or ''} {row.township or ''} "
        f"{row.village or ''}  户主 {row.head_name or ''} {row.head_id_masked or ''}",
        _flag_line(row, row.as_of),
    ]
    if row.case_no is not None:
        lines += _case_lines(row)
    named = evidence.dropna(subset=["member_name"]).drop_duplicates(
        ["member_name", "member_id_masked"]
    )
    lines.append("证据涉及的家庭成员：")
    for m in named.itertuples():
        lines.append(f"  {m.member_name} {m.member_id_masked or ''}")
    lines.append("信号与证据：")
    lines += [_signal_line(s) for s in evidence.itertuples()]
    return redact_ids("\n".join(lines))


def _case_lines(case) -> list[str]:
    """The household's case: status, deadline, measures, elimination check, conflicts."""
    label = load_rule_set()["cases"]["status_labels"].get(case.status, case.status)
    reopened = "（新风险重新开启）" if getattr(case, "reopened", False) else ""
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
