"""Task-sized steps for Airflow: settings from the environment, JSON-friendly results.

Each function is a transaction-safe, retryable step of ``crosscheck.pipeline``; the DAG
files only call these.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.landing import LandedFile, landed_files, sha256_file
from connectors.spec import load_specs
from crosscheck.ingest import ingest_file
from crosscheck.settings import load_settings

__all__ = [
    "apply_rules",
    "build_dims",
    "build_marts",
    "link_records",
    "load_file",
    "new_files",
    "publish_loads",
]


def _engine():
    from crosscheck.pipeline import open_warehouse

    return open_warehouse(load_settings().warehouse_url)


def new_files(source_id: str) -> list[str]:
    """Paths of the source's landed files not loaded yet (by content and name)."""
    from sqlalchemy import select

    from warehouse.models import LoadAudit

    settings = load_settings()
    engine = _engine()
    try:
        with engine.connect() as conn:
            done = set(
                conn.execute(
                    select(LoadAudit.file_sha256, LoadAudit.file_name).where(
                        LoadAudit.source_id == source_id
                    )
                ).all()
            )
    finally:
        engine.dispose()
    spec = load_specs()[source_id]
    return [
        str(f.path)
        for f in landed_files(settings.landing_dir, spec)
        if (f.sha256, f.name) not in done
    ]


def load_file(source_id: str, path: str) -> dict:
    """Ingest one file; raises on a reconciliation violation so Airflow marks it failed."""
    settings = load_settings()
    spec = load_specs()[source_id]
    file = Path(path)
    if not file.is_file():
        return {"source_id": source_id, "file_name": file.name, "status": "vanished"}
    landed = LandedFile(source_id, file, sha256_file(file), file.stat().st_size)
    engine = _engine()
    try:
        return ingest_file(engine, spec, landed, settings.pii_key).as_dict()
    finally:
        engine.dispose()


def publish_loads(source_id: str, results: list[dict]) -> dict:
    """Summarise the loads; skip (no Asset event) when nothing new reached staging."""
    from airflow.sdk.exceptions import AirflowSkipException

    loaded = sum(r.get("rows_loaded", 0) for r in results)
    summary = {
        "source_id": source_id,
        "files": len(results),
        "rows_loaded": loaded,
        "rows_quarantined": sum(r.get("rows_quarantined", 0) for r in results),
    }
    if loaded == 0:
        raise AirflowSkipException(f"{source_id}: nothing new loaded")
    return summary


def build_dims() -> dict:
    from warehouse.dims import build_dimensions

    engine = _engine()
    try:
        return build_dimensions(engine)
    finally:
        engine.dispose()


def link_records(retrain: bool = False) -> dict:
    """Link every source; ``retrain`` trains the linkage models afresh."""
    from warehouse.links import link_all

    engine = _engine()
    try:
        counts = link_all(engine, retrain=retrain)
        return {src: {k: int(v) for k, v in row.items()} for src, row in counts.iterrows()}
    finally:
        engine.dispose()


def apply_rules(as_of: dt.date) -> dict:
    from warehouse.rules import run_rules

    engine = _engine()
    try:
        flags = run_rules(engine, as_of)
        return {
            "as_of": as_of.isoformat(),
            "households": len(flags),
            "grades": flags["grade"].value_counts().to_dict(),
        }
    finally:
        engine.dispose()


def build_marts(as_of: dt.date) -> dict:
    """Marts and warehouse checks, then exports; a failed check fails the task before export."""
    from crosscheck.pipeline import build_marts_and_check, write_exports
    from warehouse.rules import load_rule_set

    settings = load_settings()
    engine = _engine()
    try:
        failed, _ = build_marts_and_check(engine, as_of, load_rule_set())
        if failed:
            raise RuntimeError(
                "warehouse checks failed: " + "; ".join(f"{c.name} ({c.failing})" for c in failed)
            )
        exports = write_exports(engine, as_of, settings.reports_dir)
        return {"exports": len(exports)}
    finally:
        engine.dispose()
