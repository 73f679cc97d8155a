"""``mart_monitoring_evidence`` -- grain: one row per signal behind a household on the
monitoring list at the latest run date (``risk_signal`` of that date).

Each row says who (the member the record was linked to, with the masked ID), what (kind,
national risk type, the rule's Chinese evidence with value and threshold) and where from
(department, file, row). Row-level security as on the list (``warehouse.access``): a
county officer's BI sees the evidence of the county's households. No raw ID numbers: the
evidence text is redacted again on the way in.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete, select

from connectors.spec import load_specs
from privacy import redact_ids
from warehouse.db import bulk_insert, read_frame
from warehouse.models import (
    DimPerson,
    LoadAudit,
    MonitoringEvidence,
    MonitoringList,
    RecordLink,
    RiskSignal,
)
from warehouse.partition import in_county, is_county

__all__ = [
    "KIND_LABELS",
    "build_monitoring_evidence",
    "evidence_kind",
    "read_monitoring_evidence",
]

# What a signal is, for the officer (the column keeps the code; exports show these).
KIND_LABELS = {
    "risk": "风险",
    "lead": "线索",
    "tag": "标签",
    "watch": "观察",
    "asset": "资产核查",
}


def evidence_kind(rule_ids: pd.Series, risk_codes: pd.Series) -> pd.Series:
    """risk | lead | tag | watch | asset. A risk rule's signal without a national risk
    code is a tag (the rule file's ``tags``: 兜底保障), as the run that stored it decided."""
    kind = rule_ids.str[:2].map({"R-": "risk", "L-": "lead", "W-": "watch", "A-": "asset"})
    return kind.where(~(kind.eq("risk") & risk_codes.isna()), "tag")


def build_monitoring_evidence(engine: Engine, as_of: dt.date, county: str | None = None) -> int:
    """Replace mart_monitoring_evidence with the signals of the households on the list (the
    city's, or one ``county``'s rows only)."""
    with engine.connect() as conn:
        listed = read_frame(
            conn,
            select(
                MonitoringList.household_no,
                MonitoringList.county,
                MonitoringList.township,
                MonitoringList.village,
                MonitoringList.head_name,
            ).where(is_county(MonitoringList.county, county)),
        )
        signals = read_frame(
            conn,
            select(
                RiskSignal.household_no,
                RiskSignal.signal_no,
                RiskSignal.rule_id,
                RiskSignal.risk_code,
                RiskSignal.risk_type,
                RiskSignal.evidence,
                RiskSignal.source_id,
                RiskSignal.record_key,
                LoadAudit.file_name,
                RiskSignal.row_number,
                RiskSignal.event_date,
                RiskSignal.value,
                RiskSignal.threshold,
            )
            .join(LoadAudit, LoadAudit.load_id == RiskSignal.load_id, isouter=True)
            .where(RiskSignal.as_of == as_of, in_county(RiskSignal.household_no, county)),
        )
        members = read_frame(
            conn,
            select(
                RecordLink.source_id,
                RecordLink.record_key,
                DimPerson.name.label("member_name"),
                DimPerson.id_masked.label("member_id_masked"),
            ).join(DimPerson, DimPerson.person_key == RecordLink.person_key),
        )
    evidence = signals.merge(listed, on="household_no").merge(
        members, on=["source_id", "record_key"], how="left"
    )
    specs = load_specs()
    evidence["department"] = evidence["source_id"].map(
        {source_id: spec.department for source_id, spec in specs.items()}
    )
    evidence["kind"] = evidence_kind(evidence["rule_id"], evidence["risk_code"])
    evidence["evidence"] = evidence["evidence"].fillna("").map(redact_ids)
    evidence["as_of"] = as_of
    # A signal without a row (the authorisation notice) leaves the row number blank: keep
    # the column integer (PostgreSQL's COPY refuses "2.0" for an integer).
    evidence["row_number"] = pd.to_numeric(evidence["row_number"]).astype("Int64")
    evidence = evidence[[c.name for c in MonitoringEvidence.__table__.c]].sort_values(
        ["household_no", "signal_no"]
    )
    with engine.begin() as conn:
        conn.execute(delete(MonitoringEvidence).where(is_county(MonitoringEvidence.county, county)))
        bulk_insert(conn, MonitoringEvidence.__table__, evidence)
    return len(evidence)


def read_monitoring_evidence(engine: Engine, county: str | None = None) -> pd.DataFrame:
    """The evidence of the listed households (the city's, or one ``county``'s); the row
    number an integer, blank for a signal without a row (the authorisation notice)."""
    with engine.connect() as conn:
        evidence = read_frame(
            conn,
            select(MonitoringEvidence)
            .where(is_county(MonitoringEvidence.county, county))
            .order_by(
                MonitoringEvidence.county,
                MonitoringEvidence.household_no,
                MonitoringEvidence.signal_no,
            ),
        )
    evidence["row_number"] = pd.to_numeric(evidence["row_number"]).astype("Int64")
    return evidence
