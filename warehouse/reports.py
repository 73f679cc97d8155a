"""Reports read from the warehouse: department feedback packs and the offline data docs.

The queries live here; rendering and writing live in ``validation.feedback`` and
``validation.data_docs``, which take plain data (validation lies upstream of the
warehouse and does not read it).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from connectors.spec import load_specs
from validation import data_docs, feedback
from warehouse.db import read_frame
from warehouse.models import LoadAudit, Quarantine, ValidationResult, staging_table

__all__ = ["write_data_docs", "write_feedback_packs"]


def _outcome(audit) -> feedback.FileOutcome:
    return feedback.FileOutcome(
        load_id=audit.load_id,
        source_id=audit.source_id,
        file_name=audit.file_name,
        file_sha256=audit.file_sha256,
        status=audit.status,
        rows_in=audit.rows_in,
        rows_loaded=audit.rows_loaded,
        rows_quarantined=audit.rows_quarantined,
        rows_duplicate=audit.rows_duplicate,
        finished_at=audit.finished_at,
        reason_code=audit.reason_code,
        message=audit.message,
    )


def _quarantined(engine: Engine, load_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(Quarantine).where(Quarantine.load_id == load_id).order_by(Quarantine.row_number),
        )


def _warnings(engine: Engine, source_id: str, load_id: int) -> pd.DataFrame:
    """Rows of a load that were staged with a warning: row_number, row_warning, id_masked."""
    stg = staging_table(load_specs()[source_id])
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(stg.c.row_number, stg.c.row_warning, stg.c.id_masked).where(
                stg.c.load_id == load_id, stg.c.row_warning.is_not(None)
            ),
        )


def write_feedback_packs(engine: Engine, reports_dir: Path) -> list[Path]:
    """A pack for every processed file that has none yet; returns the folders written."""
    specs = load_specs()
    with engine.connect() as conn:
        audits = conn.execute(select(LoadAudit).order_by(LoadAudit.load_id)).all()
    written = []
    for audit in audits:
        spec = specs.get(audit.source_id)
        if spec is None:
            continue
        folder = feedback.pack_folder(
            reports_dir, spec.department, spec.source_id, audit.file_name, audit.file_sha256
        )
        if (folder / "summary.html").exists():
            continue
        feedback.write_pack(
            folder,
            _outcome(audit),
            spec,
            _quarantined(engine, audit.load_id),
            _warnings(engine, spec.source_id, audit.load_id),
        )
        written.append(folder)
    return written


def _latest_validation(conn) -> pd.DataFrame:
    """The kept validation result of each source's latest validated file."""
    latest = (
        select(ValidationResult.source_id, func.max(ValidationResult.load_id).label("load_id"))
        .group_by(ValidationResult.source_id)
        .subquery()
    )
    return read_frame(
        conn,
        select(
            ValidationResult.source_id,
            ValidationResult.load_id,
            LoadAudit.file_name,
            LoadAudit.file_sha256,
            ValidationResult.suite_name,
            ValidationResult.success,
            ValidationResult.evaluated_expectations,
            ValidationResult.successful_expectations,
        )
        .join(latest, ValidationResult.load_id == latest.c.load_id)
        .join(LoadAudit, LoadAudit.load_id == ValidationResult.load_id)
        .order_by(ValidationResult.source_id),
    )


def write_data_docs(engine: Engine, reports_dir: Path) -> Path:
    """Write ``<reports>/data_docs/index.html``; returns its path."""
    with engine.connect() as conn:
        loads = read_frame(
            conn,
            select(
                LoadAudit.source_id,
                func.count().label("files"),
                func.sum(LoadAudit.rows_in).label("rows_in"),
                func.sum(LoadAudit.rows_quarantined).label("rejected"),
            ).group_by(LoadAudit.source_id),
        )
        reasons = read_frame(
            conn,
            select(Quarantine.source_id, Quarantine.reason_code, func.count().label("n"))
            .group_by(Quarantine.source_id, Quarantine.reason_code)
            .order_by(Quarantine.source_id, Quarantine.reason_code),
        )
        latest = _latest_validation(conn)
    return data_docs.write_page(reports_dir, loads, reasons, latest)
