"""Warehouse checks after each run: keys, lineage, the reconciliation invariant, marts.

Each check is one set-based query counting offending rows (portable SQL, SQLite and
PostgreSQL). Results are stored per run date in ``dq_check_result``; an ``error`` check
that fails makes the run fail loudly, a ``warn`` check is reported only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Date, Engine, bindparam, delete, text

from connectors.spec import load_specs
from warehouse.db import bulk_insert
from warehouse.models import DqCheckResult
from warehouse.partition import UNKNOWN_COUNTY

__all__ = ["CheckResult", "county_list_checks", "lineage_checks", "run_warehouse_checks"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    failing: int
    severity: str  # error | warn

    @property
    def passed(self) -> bool:
        return self.failing == 0


def _list_checks(scope: str = "1 = 1") -> list[tuple[str, str]]:
    """(what, SQL) of the list's error checks, over the list rows ``m`` in ``scope``."""
    return [
        (
            "every household known",
            f"SELECT COUNT(*) FROM mart_monitoring_list m WHERE {scope} AND NOT EXISTS "
            "(SELECT 1 FROM dim_household h WHERE h.household_no = m.household_no)",
        ),
        (
            "every household has a case of the run",
            f"SELECT COUNT(*) FROM mart_monitoring_list m WHERE {scope} AND NOT EXISTS "
            "(SELECT 1 FROM household_case c WHERE c.household_no = m.household_no "
            "AND c.as_of = m.as_of AND c.on_list)",
        ),
    ]


def _checks() -> list[tuple[str, str, str]]:
    """(name, severity, SQL counting offending rows)."""
    known, with_case = _list_checks()
    checks = [
        (
            "load_audit: rows_in = loaded + quarantined + duplicate",
            "error",
            "SELECT COUNT(*) FROM load_audit "
            "WHERE rows_in <> rows_loaded + rows_quarantined + rows_duplicate",
        ),
        (
            "load_audit: no load left half-done",
            "error",
            "SELECT COUNT(*) FROM load_audit WHERE status = 'loading'",
        ),
        (
            "quarantine: every row tied to a load",
            "error",
            "SELECT COUNT(*) FROM quarantine q WHERE NOT EXISTS "
            "(SELECT 1 FROM load_audit a WHERE a.load_id = q.load_id)",
        ),
        (
            "dim_person: every person in a household",
            "error",
            "SELECT COUNT(*) FROM dim_person p WHERE p.household_no IS NULL OR NOT EXISTS "
            "(SELECT 1 FROM dim_household h WHERE h.household_no = p.household_no)",
        ),
        (
            "record_link: every link to a known household",
            "error",
            "SELECT COUNT(*) FROM record_link l WHERE l.household_no IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM dim_household h WHERE h.household_no = l.household_no)",
        ),
        (f"mart_monitoring_list: {known[0]}", "error", known[1]),
        (
            "mart_monitoring_list: non-empty",
            "warn",
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM mart_monitoring_list) THEN 0 ELSE 1 END",
        ),
        (f"mart_monitoring_list: {with_case[0]}", "error", with_case[1]),
        (
            "stg_county_decisions: every decision names a household of the register",
            "warn",
            "SELECT COUNT(*) FROM stg_county_decisions s WHERE NOT EXISTS "
            "(SELECT 1 FROM dim_household h WHERE h.household_no = s.hukou_no) AND NOT EXISTS "
            "(SELECT 1 FROM record_link l WHERE l.source_id = 'county_decisions' "
            "AND l.record_key = s.record_key AND l.household_no IS NOT NULL)",
        ),
        (
            "mart_source_health: one row per source",
            "error",
            f"SELECT ABS(COUNT(*) - {len(load_specs())}) FROM mart_source_health",
        ),
    ]
    for spec in load_specs().values():
        stg = spec.staging_table
        checks += [
            (
                f"{stg}: every fact tied to a load of its source",
                "error",
                f"SELECT COUNT(*) FROM {stg} s WHERE NOT EXISTS (SELECT 1 FROM load_audit a "
                f"WHERE a.load_id = s.load_id AND a.source_id = '{spec.source_id}')",
            ),
            (
                f"{stg}: every fact linked or marked unlinked",
                "error",
                f"SELECT COUNT(*) FROM {stg} s WHERE NOT EXISTS (SELECT 1 FROM record_link l "
                f"WHERE l.source_id = '{spec.source_id}' AND l.record_key = s.record_key)",
            ),
        ]
    return checks


def lineage_checks(engine: Engine) -> list[CheckResult]:
    """The error checks the counties' lists depend on (loads, the register, every fact
    linked), run after linking and before any county's rules; not stored."""
    with engine.connect() as conn:
        return [
            CheckResult(name, int(conn.execute(text(sql)).scalar_one()), severity)
            for name, severity, sql in _checks()
            if severity == "error" and "mart_" not in sql
        ]


def county_list_checks(engine: Engine, as_of: dt.date, county: str) -> list[CheckResult]:
    """The list's error checks on one county's rows: its list is exported only if they pass
    (the city's checks, all of them, are stored by ``run_warehouse_checks`` after)."""
    mine = "m.county IS NULL" if county == UNKNOWN_COUNTY else "m.county = :county"
    checks = [
        *_list_checks(mine),
        (
            "every row of the run date",
            f"SELECT COUNT(*) FROM mart_monitoring_list m WHERE {mine} AND m.as_of <> :as_of",
        ),
    ]
    results = []
    with engine.connect() as conn:
        for what, sql in checks:
            name = f"mart_monitoring_list ({county}): {what}"
            stmt = text(sql)
            if ":as_of" in sql:
                stmt = stmt.bindparams(bindparam("as_of", as_of, type_=Date))
            if ":county" in sql:
                stmt = stmt.bindparams(county=county)
            results.append(CheckResult(name, int(conn.execute(stmt).scalar_one()), "error"))
    return results


def run_warehouse_checks(engine: Engine, as_of: dt.date) -> list[CheckResult]:
    """Run every check, store the results for the run date, return them."""
    results = []
    with engine.connect() as conn:
        for name, severity, sql in _checks():
            results.append(CheckResult(name, int(conn.execute(text(sql)).scalar_one()), severity))
    import pandas as pd

    frame = pd.DataFrame(
        {
            "as_of": as_of,
            "check_no": range(1, len(results) + 1),
            "check_name": [r.name for r in results],
            "severity": [r.severity for r in results],
            "failing": [r.failing for r in results],
            "passed": [r.passed for r in results],
        }
    )
    with engine.begin() as conn:
        conn.execute(delete(DqCheckResult).where(DqCheckResult.as_of == as_of))
        bulk_insert(conn, DqCheckResult.__table__, frame)
    return results
