"""The steps of the cross-check, the one place both the CLI and the Airflow tasks call.

The data flows through them in order:

1. ``ingest_file`` (per landed file, once): claim by content -> read (``connectors.readers``)
   -> map and type (``connectors.canonical``) -> row checks (``validation.suites``) ->
   quarantine (``validation.quarantine``) -> identify (``matching.identity``) -> load in one
   transaction (``warehouse.load``).
2. ``cross_check`` (per run date), in three stages: ``link_city`` (dimensions from the
   register -> record links, ``warehouse.links`` over ``matching.linker`` -> the checks the
   lists depend on), ``check_county`` per county (risk rules -> cases -> the county's list
   -> its exports; ``warehouse.partition``), ``publish`` (marts over every county, history,
   warehouse checks, the city's exports and feedback -> ``run_log``).

Every step is idempotent (a file is loaded once; links, signals, marts of a run date are
rebuilt from what is loaded) and takes the run date as a parameter: nothing here reads the
machine's clock for logic. ``crosscheck run`` and the Airflow DAGs (``dags/``) call these
same functions, so the warehouse does not depend on who ran the steps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, func, insert, inspect, select

from connectors.canonical import to_canonical
from connectors.filecheck import schema_problem, sniff_format, wrong_format_message
from connectors.landing import (
    Known,
    LandedFile,
    LandingRefused,
    Skipped,
    scan_source,
)
from connectors.limits import DEFAULT_LIMITS, Limits
from connectors.readers import FileRejected, read_file
from connectors.spec import SourceSpec, load_specs
from privacy import redact_ids
from validation.quarantine import quarantine_frame, whole_file_quarantine
from validation.reasons import reason_text
from validation.suites import RowFailure, validate_batch
from warehouse import migrate
from warehouse.cases import build_cases, case_counts
from warehouse.checks import (
    CheckResult,
    county_list_checks,
    lineage_checks,
    run_warehouse_checks,
)
from warehouse.db import (
    WarehouseError,
    check_writable,
    connect,
    ddl_transaction,
    ensure_schema,
    run_lock,
    whole_run_lock,
)
from warehouse.dims import build_dimensions
from warehouse.exports import write_city_exports, write_county_export
from warehouse.history import record_history
from warehouse.intermediate import ensure_views, view_name
from warehouse.links import link_all
from warehouse.load import (
    InvariantViolation,
    LoadResult,
    earlier_claim,
    load_rows,
    record_audit,
    staging_rows,
)
from warehouse.marts import (
    build_deidentified_list,
    build_monitoring_list,
    build_operational_marts,
)
from warehouse.models import (
    CountyRun,
    HouseholdFlag,
    LoadAudit,
    MatchReview,
    RecordLink,
    RunLog,
    SourceHealth,
    staging_table,
)
from warehouse.partition import counties as county_names  # the per-county partitions
from warehouse.reports import write_data_docs, write_feedback_packs
from warehouse.rules import DEFAULT_RULES, RuleSet, load_rule_set, run_rules

__all__ = [
    "CountyFailed",
    "RunSummary",
    "check_county",
    "county_names",
    "cross_check",
    "cross_check_due",
    "deploy_warehouse",
    "ingest_file",
    "ingest_source",
    "ingest_through",
    "known_files",
    "link_city",
    "new_files",
    "open_warehouse",
    "prepare_warehouse",
    "publish",
    "review_decisions",
    "run",
    "unchanged_summary",
    "up_to_date",
    "warehouse",
    "wave_settled",
]

REGISTER_SOURCE = "gongan_hukou"  # persons and households: nothing links without it

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
    skipped: list[Skipped] = field(default_factory=list)  # landed entries not claimed, why
    counties: dict[str, dict[str, int]] = field(default_factory=dict)  # flagged, listed
    unchanged: bool = False  # nothing new since the last cross-check: not recomputed

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


# --------------------------------------------------------------------------- warehouse


def deploy_warehouse(engine: Engine) -> None:
    """The deploy step (``crosscheck db upgrade``): migrations, staging tables, ``int_`` views.

    Run once per deploy by the warehouse's owner, never by a task racing other tasks. One
    transaction: a deploy killed half-way leaves the warehouse as it was.
    """
    with ddl_transaction(engine) as conn:
        migrate.upgrade(conn)
        ensure_schema(conn)  # staging tables follow the specs, outside migrations
        ensure_views(conn)  # and so do the int_ views over them


def _has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table(LoadAudit.__tablename__)


def undeployed(engine: Engine) -> list[str]:
    """What this code needs that the warehouse lacks (empty: deployed and up to date)."""
    if not _has_schema(engine):
        return ["no schema"]
    if not migrate.is_up_to_date(engine):
        current = migrate.current_revision(engine) or "none"
        return [f"schema at revision {current}, this code expects {migrate.head_revision()}"]
    inspector = inspect(engine)
    tables, views = set(inspector.get_table_names()), set(inspector.get_view_names())
    missing = [f"table {staging_table(s).name}" for s in load_specs().values()]
    missing = [m for m in missing if m.split()[1] not in tables]
    missing += [f"view {view_name(s)}" for s in load_specs().values() if view_name(s) not in views]
    for spec in load_specs().values():  # a spec that gained a field needs its column
        table = staging_table(spec)
        if table.name in tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            missing += [
                f"column {table.name}.{c.name}" for c in table.columns if c.name not in have
            ]
    return missing


def open_warehouse(url: str, *, deploy: bool | None = None) -> Engine:
    """Connect, and make sure the warehouse is the one this code expects.

    ``deploy``: whether to run the deploy step on the spot. By default only the embedded
    SQLite warehouse and a brand-new database are deployed here (the CLI's convenience);
    Airflow tasks pass ``deploy=False`` and fail at once on a warehouse that is not
    deployed, naming what is missing: migrations are a deploy step (``crosscheck db
    upgrade``), never a race between tasks.
    """
    engine = connect(url)
    try:
        prepare_warehouse(engine, deploy=deploy)
    except Exception:
        engine.dispose()
        raise
    return engine


def prepare_warehouse(engine: Engine, *, deploy: bool | None = None) -> None:
    """``open_warehouse`` on an engine already connected: writable, deployed, up to date."""
    check_writable(engine)  # a read-only warehouse is refused before anything is read
    if deploy is False:  # an Airflow task: check, never change
        if problems := undeployed(engine):
            raise WarehouseError(
                f"warehouse not deployed for this code ({'; '.join(problems[:5])}): "
                "run `crosscheck db upgrade --warehouse URL`"
            )
    elif deploy or engine.dialect.name == "sqlite" or not _has_schema(engine):
        with run_lock(engine, exclusive=True):  # two deploys never race on a fresh database
            deploy_warehouse(engine)
    else:  # the CLI on an existing PostgreSQL warehouse: its owner migrates it
        if not migrate.is_up_to_date(engine):
            current = migrate.current_revision(engine) or "none"
            raise WarehouseError(
                f"warehouse schema is at revision {current}, this code expects "
                f"{migrate.head_revision()}: run `crosscheck db upgrade --warehouse URL`"
            )
        ensure_schema(engine)  # a spec that gained a field is not a migration
        ensure_views(engine)


@contextmanager
def warehouse(url: str, *, deploy: bool | None = None) -> Iterator[Engine]:
    """``open_warehouse`` for the length of a block (an Airflow task, a CLI command)."""
    engine = open_warehouse(url, deploy=deploy)
    try:
        yield engine
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- ingest


def new_files(
    engine: Engine,
    spec: SourceSpec,
    landing: Path,
    *,
    now: dt.datetime | None = None,
    settle_seconds: float = 0.0,
    skipped: list[Skipped] | None = None,
) -> list[LandedFile]:
    """The source's complete, safe landed files not loaded yet (by content and name).

    ``now`` is the wall-clock time of the scan (operational, not logic): files modified
    after it, or still changing within ``settle_seconds``, are not claimed yet. Entries
    refused (links, files outside the zone, unreadable, partial uploads) are appended to
    ``skipped`` with their reason.
    """
    files, refused = scan_source(
        landing, spec, now, settle_seconds=settle_seconds, known=known_files(engine, spec)
    )
    if skipped is not None:
        skipped += refused
    with engine.connect() as conn:
        done = set(
            conn.execute(
                select(LoadAudit.file_sha256, LoadAudit.file_name).where(
                    LoadAudit.source_id == spec.source_id
                )
            ).all()
        )
    return [f for f in files if (f.sha256, f.name) not in done]


def known_files(engine: Engine, spec: SourceSpec) -> Known:
    """The source's claimed files by (name, size, mtime_ns): a scan does not read them again."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                LoadAudit.file_name,
                LoadAudit.file_size,
                LoadAudit.file_mtime_ns,
                LoadAudit.file_sha256,
            ).where(LoadAudit.source_id == spec.source_id, LoadAudit.file_mtime_ns.is_not(None))
        ).all()
    return {(name, int(size), int(mtime)): sha for name, size, mtime, sha in rows}


def ingest_through(
    engine: Engine,
    spec: SourceSpec,
    landing: Path,
    file_name: str,
    pii_key: bytes,
    as_of: dt.date,
    limits: Limits = DEFAULT_LIMITS,
) -> list[LoadResult]:
    """Load the source's new files up to ``file_name`` (inclusive), in file-name order.

    Which file first delivers a record (loaded vs duplicate, corrections) depends on the
    order files are applied, so every runner applies a source's files in name order: an
    Airflow task mapped to one file loads any earlier new file first (a parallel task that
    gets there first makes it ``already_loaded`` here).
    """
    with run_lock(engine, exclusive=False):  # never while a cross-check runs
        return [
            ingest_file(engine, spec, landed, pii_key, as_of, limits)
            for landed in new_files(engine, spec, landing)
            if landed.name <= file_name
        ]


def ingest_file(
    engine: Engine,
    spec: SourceSpec,
    landed: LandedFile,
    pii_key: bytes,
    as_of: dt.date,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Process one landed file exactly once; returns what happened to its rows.

    ``as_of`` is the run date: an ID whose birth date lies after it is not a valid ID.
    ``limits`` bound what the file may cost (size, rows, columns, field length, zip parts).
    Raises ``LandingRefused`` when the path is no longer the file that was listed.
    """
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # audit metadata, not logic
    result = LoadResult(spec.source_id, landed.name, "loaded")
    seen = earlier_claim(engine, spec.source_id, landed)
    if any(row.file_name == landed.name for row in seen):
        result.status = "already_loaded"
        return result
    if seen:
        # Same bytes under another name: a re-drop, not new data.
        result.status = "duplicate_file"
        result.rows_in = result.rows_duplicate = seen[0].rows_in
        result.message = reason_text("FILE_DUPLICATE") + f"（{seen[0].file_name}）"
        return record_audit(engine, landed, started, result)

    # Read: the format the department wrote, in its encoding.
    wrong_format = wrong_format_message(spec.format, sniff_format(landed.path, landed))
    if wrong_format:
        result.status, result.reason_code = "rejected", "FILE_WRONG_FORMAT"
        result.message = wrong_format
        return record_audit(engine, landed, started, result)
    try:
        table = read_file(
            landed.path,
            spec.format,
            encoding=spec.encoding,
            sql_table=spec.sql_table,
            sql_url=spec.sql_url,
            limits=limits,
            landed=landed,
        )
    except FileRejected as exc:
        result.status, result.reason_code, result.message = "rejected", exc.code, exc.message
        return record_audit(engine, landed, started, result)
    if table.frame.empty and not table.broken_rows:
        result.status, result.reason_code = "empty", "FILE_EMPTY"
        result.message = reason_text("FILE_EMPTY")
        return record_audit(engine, landed, started, result, table.encoding)

    # Map the department's headers to the canonical fields and type the values.
    batch = to_canonical(spec, table)
    result.rows_in = len(batch)
    if batch.missing_columns:
        headers = list(map(str, table.frame.columns))
        code, detail = schema_problem(spec, batch.missing_columns, batch.extra_columns, headers)
        quarantined = whole_file_quarantine(spec, batch, code, detail)
        result.status, result.reason_code = "rejected", code
        result.message = reason_text(code, value=detail)
        return load_rows(
            engine, spec, landed, started, result, batch, quarantined, None, None, table.encoding
        )

    # Check every row; failing rows go to quarantine with their reasons.
    failures, validation = validate_batch(spec, batch)  # the result is kept with the load
    if table.broken_rows:
        # A row that could not be split into fields has one reason only: how it is broken.
        broken = pd.Index(sorted(table.broken_rows))
        failures = [RowFailure(f.reason_code, f.field, f.rows.difference(broken)) for f in failures]
        failures += [RowFailure(c, None, rows) for c, rows in table.broken_by_code().items()]
    quarantined = quarantine_frame(spec, batch, failures)

    # Identify the rest (normalised ID, pseudonymous key) and load them in one transaction.
    keep = batch.values.index.difference(pd.Index(quarantined["row_number"]))
    stg, ident = staging_rows(spec, batch, keep, pii_key, as_of)
    return load_rows(
        engine,
        spec,
        landed,
        started,
        result,
        batch,
        quarantined,
        stg,
        ident,
        table.encoding,
        validation,
    )


def ingest_source(
    engine: Engine,
    spec: SourceSpec,
    landing: Path,
    pii_key: bytes,
    as_of: dt.date,
    progress: Progress | None = None,
    *,
    now: dt.datetime | None = None,
    settle_seconds: float = 0.0,
    limits: Limits = DEFAULT_LIMITS,
    skipped: list[Skipped] | None = None,
    full: bool = False,
) -> tuple[list[LoadResult], list[str]]:
    """Ingest every file of one source; a failing file never stops the others.

    Entries of the landing zone that are not claimed (see ``new_files``) go to ``skipped``.
    Files claimed before are known by name, size and mtime and not read again, unless
    ``full`` (every file is read and hashed).
    """
    results, failures = [], []
    known = None if full else known_files(engine, spec)
    files, refused = scan_source(landing, spec, now, settle_seconds=settle_seconds, known=known)
    for landed in files:
        if progress:
            progress(spec.source_id, f"ingest {landed.name}")
        outcome = _ingest_guarded(engine, spec, landed, pii_key, as_of, limits)
        if isinstance(outcome, str):
            failures.append(outcome)
        elif isinstance(outcome, Skipped):
            refused.append(outcome)
        else:
            results.append(outcome)
    if skipped is not None:
        skipped += refused
    return results, failures


def _ingest_guarded(
    engine: Engine,
    spec: SourceSpec,
    landed: LandedFile,
    pii_key: bytes,
    as_of: dt.date,
    limits: Limits,
) -> LoadResult | Skipped | str:
    try:
        with run_lock(engine, exclusive=False):  # never while a cross-check runs
            return ingest_file(engine, spec, landed, pii_key, as_of, limits)
    except LandingRefused as exc:  # swapped or changed since listed: not claimed, next run
        return exc.skipped(spec.source_id)
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


def wave_settled(engine: Engine, landing: Path) -> str | None:
    """None when a landing wave has settled and the cross-check may run, else why not.

    Settled: every file in the landing zone is claimed (no source still has a file to
    load, loads in flight included: their audit row commits last) and the 公安 register is
    loaded. Files are matched by source, name and size.
    """
    with engine.connect() as conn:
        claimed = set(
            conn.execute(
                select(LoadAudit.source_id, LoadAudit.file_name, LoadAudit.file_size)
            ).all()
        )
    waiting = [
        f"{spec.source_id}/{f.name}"
        for spec in load_specs().values()
        for f in scan_source(landing, spec, None, known=known_files(engine, spec))[0]
        if (spec.source_id, f.name, f.size) not in claimed
    ]
    if waiting:
        return f"{len(waiting)} files still to load ({', '.join(waiting[:3])} ...)"
    if not any(source == REGISTER_SOURCE for source, _, _ in claimed):
        return "the 公安 register is not loaded yet"
    return None


def last_load_id(engine: Engine) -> int:
    """The newest claimed file's load id (0: nothing loaded yet)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(LoadAudit.load_id), 0))).scalar())


def review_decisions(engine: Engine) -> str:
    """A digest of the match reviewers' decisions: a decision changes links with no file."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for row in conn.execute(
            select(
                MatchReview.source_id,
                MatchReview.record_key,
                MatchReview.person_key,
                MatchReview.status,
            )
            .where(MatchReview.status != "pending")
            .order_by(MatchReview.source_id, MatchReview.record_key)
        ):
            digest.update(("\x1f".join(map(str, row)) + "\n").encode())
    return digest.hexdigest()


def _recorded_run(engine: Engine, as_of: dt.date) -> tuple[dict, str] | None:
    """The last cross-check of the run date as ``run_log`` keeps it: (summary, rules hash)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(RunLog.summary, RunLog.rules_sha256).where(RunLog.as_of == as_of)
        ).first()
    return None if row is None else (json.loads(row.summary), row.rules_sha256)


def cross_check_due(engine: Engine, as_of: dt.date, rules: RuleSet | None = None) -> bool:
    """Whether the warehouse changed since the last cross-check of this run date (or none
    ran): a file claimed, a match review decided, or (given ``rules``) another rule set."""
    if (recorded := _recorded_run(engine, as_of)) is None:
        return True
    summary, rules_sha256 = recorded
    return (
        last_load_id(engine) > summary.get("last_load_id", -1)
        or review_decisions(engine) != summary.get("reviews")
        or (rules is not None and rules.sha256 != rules_sha256)
    )


def up_to_date(engine: Engine, as_of: dt.date, rules: RuleSet, reports_dir: Path) -> bool:
    """Whether a cross-check now would change nothing: the last one of this run date saw the
    same files, reviews and rules, succeeded, and its exports are in ``reports_dir``."""
    return (
        not cross_check_due(engine, as_of, rules)
        and bool(_recorded_run(engine, as_of)[0].get("ok"))
        and (reports_dir / f"monitoring_list_{as_of:%Y%m%d}.csv").exists()
    )


def unchanged_summary(engine: Engine, as_of: dt.date, reports_dir: Path) -> RunSummary:
    """What the last cross-check of the run date found, read back: a rerun with nothing new
    reports the standing list without recomputing it. The warehouse checks still run (set-
    based counts): a warehouse changed behind the pipeline's back is reported, not trusted."""
    summary = RunSummary(as_of, unchanged=True)
    recorded, _ = _recorded_run(engine, as_of)
    summary.failures, summary.warnings = _check_lines(run_warehouse_checks(engine, as_of))
    summary.counties = recorded.get("counties", {})
    summary.links, summary.grades, summary.households_flagged = _run_counts(engine, as_of)
    summary.overdue = overdue_sources(engine)
    summary.cases = case_counts(engine, as_of)
    summary.exports = [str(reports_dir / f"monitoring_list_{as_of:%Y%m%d}.csv")]
    return summary


# --------------------------------------------------------------------------- cross-check


def cross_check(
    engine: Engine,
    as_of: dt.date,
    reports_dir: Path,
    progress: Progress | None = None,
    retrain_linkage: bool = False,
    rules_file: Path | None = None,
    *,
    full: bool = False,
) -> RunSummary:
    """Dimensions, links, then every county, then the city's close, for one run date.

    The three stages the Airflow DAG runs as tasks (counties in parallel), one after the
    other: ``link_city``, ``check_county`` per county, ``publish``. A county that fails is
    reported and the others' lists stand. Linkage models are reused from ``match_model``
    unless ``retrain_linkage``; the rule set is ``rules_file`` (default:
    ``warehouse/rules/default.yaml``). ``full`` links every source again, changed or not.
    """
    failures = link_city(engine, as_of, progress, retrain_linkage, full=full)
    county_files: list[str] = []
    if not failures:
        for county in county_names(engine):
            try:
                done = check_county(engine, as_of, county, reports_dir, rules_file, progress)
                county_files += done["files"]
            except CountyFailed as exc:
                log.error("%s", exc)  # publish reports the county as not rebuilt
    summary = publish(engine, as_of, reports_dir, rules_file, progress)
    summary.failures = failures + summary.failures
    summary.exports = county_files + summary.exports
    return summary


def link_city(
    engine: Engine,
    as_of: dt.date,
    progress: Progress | None = None,
    retrain_linkage: bool = False,
    *,
    full: bool = False,
) -> list[str]:
    """The city-wide stage: dimensions from the register, every record linked (exact IDs
    city-wide, the rest within blocks of the register), then the checks every county's
    list depends on. Returns their failures (empty: the counties may go on).

    Sources whose linking inputs did not change keep their links (``link_all``); ``full``
    links every source again.

    Holds the warehouse's run lock exclusively: no file loads meanwhile.
    """
    step = progress or (lambda *_: None)
    with run_lock(engine, exclusive=True):
        step("crosscheck", "dimensions")
        build_dimensions(engine)
        step("crosscheck", "linking")
        outcome = list(link_all(engine, retrain=retrain_linkage, full=full).values())
        step(
            "crosscheck",
            f"linking: {outcome.count('linked')} sources linked, "
            f"{outcome.count('unchanged')} unchanged kept their links",
        )
        with engine.begin() as conn:  # every county is to be redone on these links
            conn.execute(delete(CountyRun).where(CountyRun.as_of == as_of))
            # The date's cross-check is being redone: until ``publish`` records it, it is
            # due, so a crash in between is healed by the next run, never taken as done.
            conn.execute(delete(RunLog).where(RunLog.as_of == as_of))
        return _check_lines(lineage_checks(engine))[0]


class CountyFailed(RuntimeError):
    """A county's list failed a check: not exported, the other counties go on."""


def check_county(
    engine: Engine,
    as_of: dt.date,
    county: str,
    reports_dir: Path,
    rules_file: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, int | str]:
    """One county's stage: its households' signals and flags, cases, list and evidence,
    checked, then its workbook and villages' posting lists; recorded in ``county_run``.

    Reads and replaces only the county's rows, so counties run side by side (they hold the
    run lock shared: never during the city-wide stages). Raises ``CountyFailed`` when the
    county's list fails a check (nothing of it is exported).
    """
    step = progress or (lambda *_: None)
    with run_lock(engine, exclusive=False):
        rules = load_rule_set(rules_file)
        step("crosscheck", f"{county}: rules")
        flags = run_rules(engine, as_of, rules, county)
        step("crosscheck", f"{county}: cases and list")
        build_cases(engine, as_of, rules, county)
        listed = build_monitoring_list(engine, as_of, county)
        failed = [c for c in county_list_checks(engine, as_of, county) if not c.passed]
        if failed:
            raise CountyFailed(
                f"county {county}: list not exported, check failed: "
                + "; ".join(f"{c.name} ({c.failing} rows)" for c in failed)
            )
        step("crosscheck", f"{county}: exports")
        reports_dir.mkdir(parents=True, exist_ok=True)
        files = write_county_export(engine, as_of, reports_dir, county)
        counts = {
            "households_flagged": len(flags),
            "households_listed": listed,
            "files_written": len(files),
        }
        with engine.begin() as conn:
            conn.execute(
                delete(CountyRun).where(CountyRun.as_of == as_of, CountyRun.county == county)
            )
            conn.execute(
                insert(CountyRun).values(
                    as_of=as_of,
                    county=county,
                    **counts,
                    finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),  # audit metadata
                )
            )
    files = [str(p) for p in files]
    return {"as_of": as_of.isoformat(), "county": county, **counts, "files": files}


def publish(
    engine: Engine,
    as_of: dt.date,
    reports_dir: Path,
    rules_file: Path | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """The city's close: the marts over every county, history, the warehouse checks, the
    city's exports and department feedback, and ``run_log``.

    A county without a ``county_run`` row of the run date did not finish: it is a failure
    of the run, and the city-wide list, changes and national workbooks (which would mix
    its old rows with the others' new ones) and the history of the date wait for it. The
    other counties' workbooks were written by their own stage and stand.
    """
    step = progress or (lambda *_: None)
    summary = RunSummary(as_of)
    with run_lock(engine, exclusive=True):
        rules = load_rule_set(rules_file)
        with engine.connect() as conn:
            done = {
                row.county: row
                for row in conn.execute(select(CountyRun).where(CountyRun.as_of == as_of))
            }
        missing = [c for c in county_names(engine) if c not in done]
        summary.counties = {
            county: {"flagged": row.households_flagged, "listed": row.households_listed}
            for county, row in sorted(done.items())
        }
        summary.failures += [f"county {c}: list not rebuilt (its step failed)" for c in missing]
        step("crosscheck", "marts")
        build_deidentified_list(engine)
        log.info("operational marts: %s", build_operational_marts(engine, as_of))
        if not missing:  # history keeps what every county's list said on the date
            log.info("history: %s", record_history(engine, as_of))
        failed, warned = _check_lines(run_warehouse_checks(engine, as_of))
        summary.failures += failed
        summary.warnings += warned
        summary.links, summary.grades, summary.households_flagged = _run_counts(engine, as_of)
        summary.overdue = overdue_sources(engine)
        summary.cases = case_counts(engine, as_of)
        if not failed:  # a broken warehouse is never exported
            step("crosscheck", "exports")
            summary.exports = write_exports(engine, as_of, reports_dir, city=not missing)
        record_run(engine, summary, rules)
    return summary


def _check_lines(checks: list[CheckResult]) -> tuple[list[str], list[str]]:
    """The failed checks as the run summary says them: (failures, warnings)."""
    failed = [c for c in checks if not c.passed]
    return (
        [
            f"warehouse check failed: {c.name} ({c.failing} rows)"
            for c in failed
            if c.severity == "error"
        ],
        [f"{c.name} ({c.failing})" for c in failed if c.severity == "warn"],
    )


def _run_counts(
    engine: Engine, as_of: dt.date
) -> tuple[dict[str, dict[str, int]], dict[str, int], int]:
    """Links by source and method, flagged households by grade and in all, from the tables."""
    with engine.connect() as conn:
        links: dict[str, dict[str, int]] = {}
        for source_id, method, n in conn.execute(
            select(RecordLink.source_id, RecordLink.method, func.count())
            .group_by(RecordLink.source_id, RecordLink.method)
            .order_by(RecordLink.source_id, RecordLink.method)
        ):
            links.setdefault(source_id, {})[method] = int(n)
        by_grade = dict(
            conn.execute(
                select(HouseholdFlag.grade, func.count())
                .where(HouseholdFlag.as_of == as_of)
                .group_by(HouseholdFlag.grade)
            ).all()
        )
    grades = {g: int(by_grade.get(g, 0)) for g in ("red", "yellow", "green")}
    return links, grades, int(sum(by_grade.values()))


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


def write_exports(
    engine: Engine, as_of: dt.date, reports_dir: Path, *, city: bool = True
) -> list[str]:
    """The city's exports (``city``: the list monitoring_list_<date>.csv in Chinese, the
    changes, the national workbooks) and a feedback pack per processed file for departments.
    The counties' workbooks are written by their own stage (``check_county``)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    written = [str(p) for p in write_city_exports(engine, as_of, reports_dir)] if city else []
    written.append(str(write_data_docs(engine, reports_dir)))
    written += [str(folder) for folder in write_feedback_packs(engine, reports_dir)]
    return written


def _rules_name(rules: RuleSet) -> str:
    """The rule file as recorded: the shipped one by its package path, others as given."""
    path = Path(rules.source_path)
    if path.resolve() == DEFAULT_RULES.resolve():
        return "warehouse/rules/default.yaml"  # the same on every machine
    return str(path)


def record_run(engine: Engine, summary: RunSummary, rules: RuleSet) -> None:
    """One ``run_log`` row per run date: what the run found, and which rule file it applied."""
    with engine.begin() as conn:
        conn.execute(delete(RunLog).where(RunLog.as_of == summary.as_of))
        conn.execute(
            insert(RunLog).values(
                as_of=summary.as_of,
                finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),  # audit metadata
                summary=json.dumps(
                    {
                        "grades": summary.grades,
                        "links": summary.links,
                        "counties": summary.counties,
                        "last_load_id": last_load_id(engine),  # what this run covered
                        "reviews": review_decisions(engine),  # and which review decisions
                        "ok": summary.ok,
                    },
                    ensure_ascii=False,
                ),
                rules_file=_rules_name(rules),
                rules_sha256=rules.sha256,
            )
        )


# --------------------------------------------------------------------------- whole run


def run(
    landing: Path,
    warehouse_url: str,
    as_of: dt.date,
    reports_dir: Path,
    pii_key: bytes,
    progress: Progress | None = None,
    retrain_linkage: bool = False,
    rules_file: Path | None = None,
    *,
    now: dt.datetime | None = None,
    settle_seconds: float = 0.0,
    limits: Limits = DEFAULT_LIMITS,
    full: bool = False,
) -> RunSummary:
    """Ingest every new file of every source, then cross-check as of the date.

    ``now`` (the wall clock, read by the caller) and ``settle_seconds`` decide which files
    are complete enough to claim; ``limits`` bound each file. When nothing changed since
    the last cross-check of the date (``up_to_date``) it is not recomputed: the summary
    reads back what stands. ``full`` reads every landed file again and recomputes.
    """
    engine = connect(warehouse_url)
    try:
        check_writable(engine)  # before the lock file is made beside a read-only warehouse
        # A second run of the same warehouse waits here, then finds the work done.
        with whole_run_lock(engine, on_wait=lambda: log.warning(_WAITING)):
            prepare_warehouse(engine)
            return _run_locked(
                engine,
                landing,
                as_of,
                reports_dir,
                pii_key,
                progress,
                retrain_linkage,
                rules_file,
                now=now,
                settle_seconds=settle_seconds,
                limits=limits,
                full=full,
            )
    finally:
        engine.dispose()


_WAITING = "another run of this warehouse is in progress: waiting for it to finish"


def _run_locked(
    engine: Engine,
    landing: Path,
    as_of: dt.date,
    reports_dir: Path,
    pii_key: bytes,
    progress: Progress | None,
    retrain_linkage: bool,
    rules_file: Path | None,
    *,
    now: dt.datetime | None,
    settle_seconds: float,
    limits: Limits,
    full: bool,
) -> RunSummary:
    """The run itself, under the whole-run lock."""
    loads, failures, skipped = [], [], []
    for spec in load_specs().values():
        res, fails = ingest_source(
            engine,
            spec,
            landing,
            pii_key,
            as_of,
            progress,
            now=now,
            settle_seconds=settle_seconds,
            limits=limits,
            skipped=skipped,
            full=full,
        )
        loads += res
        failures += fails
    rules = load_rule_set(rules_file)
    if not (full or retrain_linkage) and up_to_date(engine, as_of, rules, reports_dir):
        summary = unchanged_summary(engine, as_of, reports_dir)
    else:
        summary = cross_check(
            engine, as_of, reports_dir, progress, retrain_linkage, rules_file=rules_file, full=full
        )
    summary.loads = loads
    summary.skipped = skipped
    summary.failures = failures + summary.failures
    return summary
