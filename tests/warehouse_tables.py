"""Every table of a warehouse as comparable rows: the yardstick for "the same warehouse".

Wall-clock audit columns (when a file was loaded, a model trained, a run finished) and
write-order row ids are the only columns left out: everything the pipeline derives must be
equal row for row.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re

from sqlalchemy import column, create_engine, inspect, select, table

CLOCK_COLUMNS = {"started_at", "finished_at", "trained_at", "decided_at", "last_loaded_at"}
# File-system metadata of a landed file: the same file copied elsewhere has another.
CLOCK_COLUMNS |= {"file_mtime_ns"}
# Row numbers of the order rows were written in: a quarantined row is identified by its
# file (load_id, compared as the file) and row_number instead.
SURROGATE_COLUMNS = {"quarantine_id"}
# A digest over each source's newest load_id (numbered in claim order, with gaps after a
# crash): equal inputs, equal links, but not an equal number.
SURROGATE_COLUMNS |= {"inputs_sha256"}


_ZERO_FRACTION = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.0+$")


def _canonical(value) -> str:
    """One text per value whatever the backend returned it as: PostgreSQL's booleans and
    Decimals, SQLite's 0/1, floats and timestamp text (``... 00:00:00.000000``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float | decimal.Decimal):
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:.12g}"
    if isinstance(value, dt.datetime | dt.date):
        value = str(value)
    text = str(value)
    return _ZERO_FRACTION.sub(r"\1", text)


def warehouse_tables(url: str) -> dict[str, list[tuple]]:
    """{table name: sorted rows as tuples of text}, clock columns left out.

    ``load_id`` is a surrogate key numbered in the order files were claimed, which parallel
    loads (Airflow) do not fix: it is compared as the file it stands for.
    """
    engine = create_engine(url)
    try:
        names = sorted(inspect(engine).get_table_names())
        out = {}
        with engine.connect() as conn:
            files = {
                str(load_id): f"{source}/{name}"
                for load_id, source, name in conn.execute(
                    select(column("load_id"), column("source_id"), column("file_name")).select_from(
                        table("load_audit")
                    )
                )
            }
            for name in names:
                if name == "alembic_version":
                    continue
                cols = [
                    c["name"]
                    for c in inspect(engine).get_columns(name)
                    if c["name"] not in CLOCK_COLUMNS | SURROGATE_COLUMNS
                ]
                rows = conn.execute(select(*(column(c) for c in cols)).select_from(table(name)))
                at = cols.index("load_id") if "load_id" in cols else None
                summary_at = cols.index("summary") if name == "run_log" else None
                out[name] = sorted(
                    tuple(
                        files.get(str(v), str(v))
                        if i == at
                        else _run_summary(v, files)
                        if i == summary_at
                        else _canonical(v)
                        for i, v in enumerate(row)
                    )
                    for row in rows
                )
        return out
    finally:
        engine.dispose()


def _run_summary(summary: str, files: dict[str, str]) -> str:
    """``run_log.summary`` with the newest load it covered given as the number of files
    claimed up to it: load ids are numbered in claim order (parallel loads claim in any
    order) and a load killed mid-transaction leaves a gap in PostgreSQL's sequence."""
    parsed = json.loads(summary)
    if "last_load_id" in parsed:
        last = int(parsed["last_load_id"])
        parsed["last_load_id"] = f"{sum(int(i) <= last for i in files)} files"
    return json.dumps(parsed, ensure_ascii=False, sort_keys=True)


def differences(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> dict[str, str]:
    """Tables that differ, with a short account of how."""
    out = {}
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            out[name] = "missing on one side"
        elif a[name] != b[name]:
            only_a = len(set(a[name]) - set(b[name]))
            only_b = len(set(b[name]) - set(a[name]))
            out[name] = (
                f"{len(a[name])} vs {len(b[name])} rows; {only_a} only left, {only_b} only right"
            )
    return out
