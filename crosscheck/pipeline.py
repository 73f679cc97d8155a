"""The cross-check, end to end: ingest every new file, link, apply rules, build marts, export.

The same functions serve the CLI and the Airflow tasks (which call them one step at a
time). Steps are idempotent: a file is loaded once; dimensions, links, signals of a run
date and marts are rebuilt from what is loaded, so rerunning changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, delete, insert, inspect, select

from connectors.landing import LandedFile, landed_files
from connectors.spec import SourceSpec, load_specs
from crosscheck.ingest import InvariantViolation, LoadResult, ingest_file
from matching.linker import link_all
from privacy import redact_ids
from validation.warehouse_checks import CheckResult, run_warehouse_checks
from warehouse import migrate
from warehouse.cases import build_cases, case_counts
from warehouse.db import WarehouseError, connect, ensure_schema
from warehouse.dims import build_dimensions
from warehouse.exports import write_county_exports
from warehouse.health import build_operational_marts
from warehouse.history import record_history
from warehouse.intermediate import ensure_views
from warehouse.marts import build_monitoring_list, read_monitoring_list
from warehouse.models import LoadAudit, RunLog, SourceHealth
from warehouse.reports import write_data_docs, write_feedback_packs
from warehouse.rules import RuleSet, load_rule_set, run_rules

__all__ = ["RunSummary", "cross_check", "ingest_source", "open_warehouse", "run"]

log = logging.getLogger(__name__)
Progress = Callable[[str, str], None]  # (source_id or "crosscheck", stage)


@dataclass
class RunSummary:
    as_of: dt.date
    loads: list[LoadResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    links: dict[str, dict[str, int]] = field(default_factory=dict)
    grades: dict[str, int] = field(default_factory=dict)
    households_flagged: int = 0
    exports: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)  # "source_id: freshness (due ...)"
    cases: dict[str, int] = field(default_factory=dict)  # by status, overdue, eligible...

    @property
    def ok(self) -> bool:
        return not self.failures

    def totals(self) -> dict[str, int]:
        new = [r for r in self.loads if r.status != "already_loaded"]
        return {
            "files": len(new),
            "rows_in": sum(r.rows_in for r in new),
            "loaded": sum(r.rows_loaded for r in new),
            "quarantined": sum(r.rows_quarantined for r in new),
            "duplicate": sum(r.rows_duplicate for r in new),
            "files_rejected": sum(r.status == "rejected" for r in new),
            "files_duplicate": sum(r.status == "duplicate_file" for r in new),
        }


def open_warehouse(url: str) -> Engine:
    """Connect and make sure the schema is the one this code expects.

    The embedded SQLite warehouse and a brand-new database are migrated on the spot. An
    existing PostgreSQL warehouse at an older revision is refused: migrations are a deploy
    step (``crosscheck db upgrade``), run by its owner, not by the pipeline's role.
    """
    engine = connect(url)
    try:
        fresh = not inspect(engine).has_table(LoadAudit.__tablename__)
        if engine.dialect.name == "sqlite" or fresh:
            migrate.upgrade(engine)
        elif not migrate.is_up_to_date(engine):
            current = migrate.current_revision(engine) or "none"
            raise WarehouseError(
                f"warehouse schema is at revision {current}, this code expects "
                f"{migrate.head_revision()}: run `crosscheck db upgrade --warehouse URL`"
            )
        ensure_schema(engine)  # staging tables follow the specs, outside migrations
        ensure_views(engine)  # and so do the int_ views over them
    except Exception:
        engine.dispose()
        raise
    return engine


def ingest_source(
    engine: Engine,
    spec: SourceSpec,
    landing: Path,
    pii_key: bytes,
    progress: Progress | None = None,
) -> tuple[list[LoadResult], list[str]]:
    """Ingest every file of one source; a failing file never stops the others."""
    results, failures = [], []
    for landed in landed_files(landing, spec):
        if progress:
            progress(spec.source_id, f"ingest {landed.name}")
        results_or_error = _ingest_one(engine, spec, landed, pii_key)
        if isinstance(results_or_error, str):
            failures.append(results_or_error)
        else:
            results.append(results_or_error)
    return results, failures


def _ingest_one(
    engine: Engine, spec: SourceSpec, landed: LandedFile, pii_key: bytes
) -> LoadResult | str:
    try:
        return ingest_file(engine, spec, landed, pii_key)
    except InvariantViolation as exc:
        log.error("reconciliation invariant violated: %s", exc)
        return f"{spec.source_id}/{landed.name}: {exc}"
    except Exception as exc:  # a bug must not stop other files; the file stays unclaimed
        # No traceback in the log: exception texts can quote cell values, ID numbers included.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        message = redact_ids(f"{type(exc).__name__}: {exc}")[:300]
        log.error(
            "%s %s: ingest failed at %s:%d: %s",
            spec.source_id,
            landed.name,
            frame.filename,
            frame.lineno,
            message,
        )
        return f"{spec.source_id}/{landed.name}: {message}"


def cross_check(
    engine: Engine,
    as_of: dt.date,
    reports_dir: Path,
    progress: Progress | None = None,
    retrain_linkage: bool = False,
) -> RunSummary:
    """Dimensions, links, rules, marts and exports for one run date.

    Linkage models are reused from ``match_model`` unless ``retrain_linkage``.
    """
    summary = RunSummary(as_of)
    step = progress or (lambda *_: None)
    step("crosscheck", "dimensions")
    build_dimensions(engine)
    step("crosscheck", "linking")
    counts = link_all(engine, retrain=retrain_linkage)
    summary.links = {src: {k: int(v) for k, v in row.items()} for src, row in counts.iterrows()}
    step("crosscheck", "rules")
    rules = load_rule_set()
    flags = run_rules(engine, as_of, rules)
    summary.households_flagged = len(flags)
    summary.grades = {g: int((flags["grade"] == g).sum()) for g in ("red", "yellow", "green")}
    step("crosscheck", "marts")
    failed, warned = build_marts_and_check(engine, as_of, rules)
    summary.overdue = overdue_sources(engine)
    summary.cases = case_counts(engine, as_of)
    summary.failures += [f"warehouse check failed: {c.name} ({c.failing} rows)" for c in failed]
    summary.warnings += [f"{c.name} ({c.failing})" for c in warned]
    if not failed:  # a broken warehouse is never exported
        step("crosscheck", "exports")
        summary.exports = write_exports(engine, as_of, reports_dir)
    with engine.begin() as conn:
        conn.execute(delete(RunLog).where(RunLog.as_of == as_of))
        conn.execute(
            insert(RunLog).values(
                as_of=as_of,
                finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                summary=json.dumps(
                    {"grades": summary.grades, "links": summary.links}, ensure_ascii=False
                ),
            )
        )
    return summary


def build_marts_and_check(
    engine: Engine, as_of: dt.date, rules: RuleSet
) -> tuple[list[CheckResult], list[CheckResult]]:
    """Cases, then the marts, then the warehouse checks: (failed errors, failed warnings)."""
    cases = build_cases(engine, as_of, rules)
    log.info("cases: %s", cases["status"].value_counts().to_dict())
    build_monitoring_list(engine, as_of)
    log.info("operational marts: %s", build_operational_marts(engine, as_of))
    log.info("history: %s", record_history(engine, as_of))
    checks = [c for c in run_warehouse_checks(engine, as_of) if not c.passed]
    return (
        [c for c in checks if c.severity == "error"],
        [c for c in checks if c.severity == "warn"],
    )


def overdue_sources(engine: Engine) -> list[str]:
    """Late or missing sources, as lines for the run summary."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                SourceHealth.source_id,
                SourceHealth.freshness,
                SourceHealth.due_date,
                SourceHealth.expected_period_start,
            )
            .where(SourceHealth.overdue)
            .order_by(SourceHealth.source_id)
        ).all()
    return [
        f"{r.source_id}: {r.freshness}"
        + (f" (period from {r.expected_period_start} due {r.due_date})" if r.due_date else "")
        for r in rows
    ]


def write_exports(engine: Engine, as_of: dt.date, reports_dir: Path) -> list[str]:
    """The monitoring list for counties and a feedback pack per processed file for departments."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    written = []
    mart = read_monitoring_list(engine)
    path = reports_dir / f"monitoring_list_{as_of:%Y%m%d}.csv"
    # UTF-8 with BOM so that Excel opens Chinese text correctly.
    mart.to_csv(path, index=False, encoding="utf-8-sig")
    written.append(str(path))
    written += [str(p) for p in write_county_exports(engine, as_of, reports_dir)]
    written.append(str(write_data_docs(engine, reports_dir)))
    written += [str(folder) for folder in write_feedback_packs(engine, reports_dir)]
    return written


def run(
    landing: Path,
    warehouse_url: str,
    as_of: dt.date,
    reports_dir: Path,
    pii_key: bytes,
    progress: Progress | None = None,
    retrain_linkage: bool = False,
) -> RunSummary:
    """Ingest every new file of every source, then cross-check as of the date."""
    engine = open_warehouse(warehouse_url)
    try:
        loads, failures = [], []
        for spec in load_specs().values():
            res, fails = ingest_source(engine, spec, landing, pii_key, progress)
            loads += res
            failures += fails
        summary = cross_check(engine, as_of, reports_dir, progress, retrain_linkage)
        summary.loads = loads
        summary.failures = failures + summary.failures
        return summary
    finally:
        engine.dispose()
