"""``mart_source_health`` -- grain: one row per source spec, as of the run date.

Per source: last file, last load, files and rows, quarantine rate, link rate, the period
the source should have delivered by the run date and whether it is overdue (by the spec's
cadence and due day), judged from the periods the loaded rows cover (a period column, or
the period a snapshot's file name states), never from when files were loaded. Rebuilt per
run from loaded data and the run date, so a rerun writes the same rows.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, func, select

from connectors.spec import SourceSpec, load_specs
from warehouse.db import read_frame
from warehouse.models import LoadAudit, RecordLink, staging_table

__all__ = ["expected_period", "source_health"]

_MONTHS_PER_PERIOD = {"monthly": 1, "quarterly": 3, "yearly": 12}


def expected_period(spec: SourceSpec, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """(start, due date) of the latest period the source must have delivered by ``as_of``.

    A period is due on ``due_day`` (of ``due_month`` for yearly sources) after it ends.
    Sources without a fixed cadence (events, daily leads, on demand) have no due period.
    """
    months = _MONTHS_PER_PERIOD.get(spec.cadence)
    if months is None:
        return None
    # Walk back from the period containing as_of until one whose due date has passed.
    start = pd.Timestamp(as_of).to_period("M").start_time
    start -= pd.DateOffset(months=(start.month - 1) % months)
    for _ in range(4):
        end = start + pd.DateOffset(months=months)
        if spec.cadence == "yearly":
            due = pd.Timestamp(end.year, spec.due_month or 1, spec.due_day or 1)
        else:
            due = end + pd.DateOffset(days=(spec.due_day or 1) - 1)
        if due.date() <= as_of:
            return start.date(), due.date()
        start -= pd.DateOffset(months=months)
    return None


def _latest_period(engine: Engine, spec: SourceSpec) -> dt.date | None:
    """The latest period the loaded rows cover (by the spec's period field, or the snapshot
    date its file names state)."""
    column = spec.period_field or ("file_period" if spec.file_period else None)
    if column is None:
        return None
    stg = staging_table(spec)
    with engine.connect() as conn:
        value = conn.execute(select(func.max(stg.c[column]))).scalar()
    if value is None:
        return None
    if spec.period_field and spec.column(spec.period_field).type == "integer":
        return dt.date(int(value), 1, 1)
    return pd.Timestamp(value).date()


def source_health(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    with engine.connect() as conn:
        audits = read_frame(conn, select(LoadAudit).order_by(LoadAudit.load_id))
        links = read_frame(
            conn,
            select(RecordLink.source_id, RecordLink.method, func.count().label("n")).group_by(
                RecordLink.source_id, RecordLink.method
            ),
        )
    rows = []
    for spec in load_specs().values():
        mine = audits[audits["source_id"] == spec.source_id] if len(audits) else audits
        rows_in = int(mine["rows_in"].sum()) if len(mine) else 0
        quarantined = int(mine["rows_quarantined"].sum()) if len(mine) else 0
        linked = links[(links["source_id"] == spec.source_id)] if len(links) else links
        total = int(linked["n"].sum()) if len(linked) else 0
        unlinked = int(linked.loc[linked["method"] == "unlinked", "n"].sum()) if total else 0
        period = expected_period(spec, as_of)
        covered = _latest_period(engine, spec)
        last_loaded = mine["finished_at"].max() if len(mine) else None
        if not len(mine):
            state = "missing"
        elif period is None:
            state = "ok"
        elif covered is not None:
            state = "ok" if covered >= period[0] else "overdue"
        else:
            # No loaded row states its period (no period column, no dated file name): when
            # a file arrived says nothing about the period it covers, so it is not guessed.
            state = "unknown"
        rows.append(
            {
                "source_id": spec.source_id,
                "department": spec.department,
                "title": spec.title,
                "cadence": spec.cadence,
                "last_file": mine["file_name"].iloc[-1] if len(mine) else None,
                "last_loaded_at": last_loaded,
                "files": len(mine),
                "rows_in": rows_in,
                "quarantine_rate": quarantined / rows_in if rows_in else None,
                "link_rate": (total - unlinked) / total if total else None,
                "expected_period_start": period[0] if period else None,
                "due_date": period[1] if period else None,
                "latest_period_loaded": covered,
                "freshness": state,
                "overdue": state in ("overdue", "missing"),
                "as_of": as_of,
            }
        )
    return pd.DataFrame(rows)
