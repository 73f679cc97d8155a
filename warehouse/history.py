"""History: validity intervals for persons, households and flags; every run's list kept.

Dimensions and marts are rebuilt each run; this module keeps what they were. Intervals are
in run dates (transaction time): a state is valid from the run that first saw it until the
run that saw it change or vanish (``valid_to``, exclusive; NULL while current). So BI can
ask who was flagged, or where a person lived, on any date, and
``mart_monitoring_list_history`` holds the monitoring list of every run as published.

History moves forward only: a run dated before the newest recorded run leaves the history
untouched (logged). A rerun of the same date first undoes that date's changes, then
applies them again, so it changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from sqlalchemy import Connection, Engine, Table, delete, func, select, update

from warehouse.db import WarehouseError, bulk_insert, read_frame
from warehouse.models import (
    Base,
    DimHousehold,
    DimHouseholdHistory,
    DimPerson,
    DimPersonHistory,
    HouseholdFlag,
    HouseholdFlagHistory,
    MonitoringList,
    MonitoringListHistory,
)

__all__ = [
    "flagged_on",
    "forget_run_date",
    "monitoring_list_on",
    "record_history",
    "scd2_update",
]

log = logging.getLogger(__name__)

# (history table, current table, key, tracked columns)
_TRACKED = (
    (
        DimPersonHistory.__table__,
        DimPerson.__table__,
        "person_key",
        [
            "household_no",
            "relation",
            "county",
            "township",
            "village",
            "status",
            "cancel_date",
            "cancel_reason",
        ],
    ),
    (
        DimHouseholdHistory.__table__,
        DimHousehold.__table__,
        "household_no",
        ["county", "township", "village", "head_person_key", "members"],
    ),
)


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality where two missing values are equal (dates compared as text)."""
    a, b = a.astype("string"), b.astype("string")
    return (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())


def scd2_update(
    conn: Connection,
    history: Table,
    current: pd.DataFrame,
    key: str,
    tracked: list[str],
    as_of: dt.date,
) -> dict[str, int]:
    """Bring ``history`` in line with ``current`` (one row per key) as of the run date.

    Returns counts: opened (new or changed states), closed (changed or vanished).
    """
    c = history.c
    # A rerun of the same date: undo what that date did, then do it again.
    conn.execute(delete(history).where(c.valid_from == as_of))
    conn.execute(update(history).where(c.valid_to == as_of).values(valid_to=None))
    open_rows = read_frame(
        conn, select(c[key], *[c[t] for t in tracked]).where(c.valid_to.is_(None))
    )
    both = current[[key, *tracked]].merge(
        open_rows, on=key, how="outer", suffixes=("", "_was"), indicator=True
    )
    seen = both["_merge"] == "both"
    unchanged = pd.Series(seen, index=both.index)
    for col in tracked:
        unchanged &= _same(both[col], both[f"{col}_was"])
    to_close = both.loc[(seen & ~unchanged) | (both["_merge"] == "right_only"), key]
    to_open = both.loc[(seen & ~unchanged) | (both["_merge"] == "left_only"), [key, *tracked]]
    # Set-based, 10,000 keys a statement: one UPDATE per key cost 101 s for 63,000 keys.
    closing = to_close.tolist()
    for start in range(0, len(closing), 10_000):
        conn.execute(
            update(history)
            .where(c[key].in_(closing[start : start + 10_000]), c.valid_to.is_(None))
            .values(valid_to=as_of)
        )
    if len(to_open):
        rows = to_open.assign(valid_from=as_of, valid_to=None)
        bulk_insert(conn, history, rows[[col.name for col in history.c]])
    return {"opened": len(to_open), "closed": len(to_close)}


def _latest_recorded(conn: Connection) -> dt.date | None:
    return conn.execute(select(func.max(DimHouseholdHistory.valid_from))).scalar()


def record_history(engine: Engine, as_of: dt.date) -> dict[str, dict[str, int]]:
    """Record the run's dimensions, flags and monitoring list in the history tables."""
    with engine.begin() as conn:
        latest = _latest_recorded(conn)
        if latest is not None and as_of < latest:
            log.warning(
                "history kept forward only: run date %s is before the latest recorded %s",
                as_of,
                latest,
            )
            return {}
        counts = {}
        for history, current_table, key, tracked in _TRACKED:
            current = read_frame(conn, select(current_table))
            counts[history.name] = scd2_update(conn, history, current, key, tracked, as_of)
        flags = read_frame(conn, select(HouseholdFlag).where(HouseholdFlag.as_of == as_of))
        counts[HouseholdFlagHistory.__tablename__] = scd2_update(
            conn,
            HouseholdFlagHistory.__table__,
            flags,
            "household_no",
            ["object_type", "risk_types", "grade", "asset_check"],
            as_of,
        )
        listed = read_frame(conn, select(MonitoringList))
        conn.execute(delete(MonitoringListHistory).where(MonitoringListHistory.c.as_of == as_of))
        bulk_insert(conn, MonitoringListHistory, listed[[c.name for c in MonitoringListHistory.c]])
        counts[MonitoringListHistory.name] = {"rows": len(listed)}
    return counts


def _dated_tables() -> tuple[list[Table], list[Table]]:
    """(tables with one row set per run date, validity-interval histories)."""
    tables = Base.metadata.sorted_tables
    return (
        [t for t in tables if "as_of" in t.c],
        [t for t in tables if "valid_from" in t.c and "valid_to" in t.c],
    )


def forget_run_date(engine: Engine, as_of: dt.date) -> dict[str, int]:
    """Remove everything the run of ``as_of`` recorded, which must be the newest run date.

    The correction for a run with a wrong date (history moves forward only, so a date in
    the future would otherwise freeze it): per-run rows of that date are deleted, interval
    histories are put back as they were before it (intervals it opened removed, those it
    closed reopened), and the current marts of that date are emptied until the next run
    rebuilds them. Older dates are removed one by one, newest first. Returns rows removed
    per table.
    """
    per_run, intervals = _dated_tables()
    with engine.begin() as conn:
        newest = max(
            (
                d
                for t in per_run
                for d in [conn.execute(select(func.max(t.c.as_of))).scalar()]
                if d is not None
            ),
            default=None,
        )
        newest_interval = max(
            (
                d
                for t in intervals
                for d in [conn.execute(select(func.max(t.c.valid_from))).scalar()]
                if d is not None
            ),
            default=None,
        )
        newest = max((d for d in (newest, newest_interval) if d is not None), default=None)
        if newest is not None and as_of < newest:
            raise WarehouseError(
                f"only the newest run date can be removed: {newest} is newer than {as_of}; "
                f"remove {newest} first"
            )
        removed = {}
        for t in per_run:
            removed[t.name] = conn.execute(delete(t).where(t.c.as_of == as_of)).rowcount
        for t in intervals:
            removed[t.name] = conn.execute(delete(t).where(t.c.valid_from == as_of)).rowcount
            conn.execute(update(t).where(t.c.valid_to == as_of).values(valid_to=None))
    log.info("run date %s removed: %s", as_of, removed)
    return removed


def flagged_on(engine: Engine, day: dt.date) -> pd.DataFrame:
    """Households flagged on ``day`` (by the run in force then), with grade and risk types."""
    h = HouseholdFlagHistory
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(h.household_no, h.object_type, h.risk_types, h.grade, h.valid_from)
            .where(h.valid_from <= day, (h.valid_to.is_(None)) | (h.valid_to > day))
            .order_by(h.household_no),
        )


def monitoring_list_on(engine: Engine, day: dt.date) -> pd.DataFrame:
    """The monitoring list as published by the latest run on or before ``day``."""
    h = MonitoringListHistory
    with engine.connect() as conn:
        run = conn.execute(select(func.max(h.c.as_of)).where(h.c.as_of <= day)).scalar()
        if run is None:
            return pd.DataFrame(columns=[c.name for c in h.c])
        return read_frame(conn, select(h).where(h.c.as_of == run).order_by(h.c.household_no))
