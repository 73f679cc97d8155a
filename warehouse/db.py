"""Warehouse connections, schema creation and bulk writes, for SQLite and PostgreSQL.

One small backend interface: ``bulk_insert`` uses PostgreSQL ``COPY`` (psycopg 3) inside
the caller's transaction, and executemany on SQLite. Frames are written as they are:
callers pass columns already named and typed for the target table.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, Table, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from connectors.spec import load_specs
from warehouse.models import Base, staging_table

__all__ = ["WarehouseError", "bulk_insert", "connect", "ensure_schema", "read_frame"]


class WarehouseError(Exception):
    """The warehouse cannot be reached or used; the message is one readable line."""


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets BI read while the pipeline writes; NORMAL sync is safe with WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def connect(url: str) -> Engine:
    """An engine for the warehouse URL, checked by opening a connection."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise WarehouseError(f"warehouse URL is not a valid SQLAlchemy URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot create the warehouse folder {folder}: {exc.strerror}"
            ) from None
    try:
        # hide_parameters: SQL errors must never echo row values (ID numbers) into logs.
        engine = create_engine(parsed, hide_parameters=True)
    except (ArgumentError, ImportError) as exc:
        raise WarehouseError(
            f"cannot use warehouse URL {parsed.render_as_string()}: {exc}"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect():
            pass
    except (OperationalError, SQLAlchemyError) as exc:
        first_line = str(exc.orig if hasattr(exc, "orig") else exc).strip().splitlines()[0]
        raise WarehouseError(
            f"cannot connect to warehouse {parsed.render_as_string()}: {first_line}"
        ) from None
    return engine


def ensure_schema(engine: Engine) -> None:
    """Create missing tables, and add columns a spec gained to its existing staging table.

    Staging follows the source specs, outside the Alembic migrations: a new source or a new
    field is a YAML change, never a code migration. Columns are only ever added.
    """
    staging = [staging_table(spec) for spec in load_specs().values()]
    Base.metadata.create_all(engine)
    inspector = inspect(engine)
    with engine.begin() as conn:
        for table in staging:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(
                        text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
                    )


def _copy_postgres(conn: Connection, table_name: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    sql = f"COPY \"{table_name}\" ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(sql) as copy:
        copy.write(buf.getvalue())


def _sqlite_rows(frame: pd.DataFrame, table: Table) -> list[tuple]:
    """Rows as tuples of plain Python values, dates in SQLAlchemy's SQLite text format."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        py_type = table.c[name].type.python_type
        if py_type is dt.date:
            col = pd.to_datetime(col).dt.strftime("%Y-%m-%d")
        elif py_type is dt.datetime:
            col = pd.to_datetime(col).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        col = col.astype(object)
        columns.append(col.where(col.notna(), None).tolist())
    return list(zip(*columns, strict=True))


def _sqlite_insert(conn: Connection, table: Table, frame: pd.DataFrame, verb: str) -> None:
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    conn.exec_driver_sql(
        f'{verb} INTO "{table.name}" ({cols}) VALUES ({marks})', _sqlite_rows(frame, table)
    )


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Append a frame to a table inside the caller's transaction; returns rows written."""
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, table.name, frame)
    else:
        _sqlite_insert(conn, table, frame, "INSERT")
    return len(frame)


def read_frame(conn: Connection | Engine, sql, **params) -> pd.DataFrame:
    """A query's result as a DataFrame (object columns; callers cast what they need)."""
    if not isinstance(conn, Connection):
        with conn.connect() as c:
            return read_frame(c, sql, **params)
    result = conn.execute(sql, params)
    # Plain tuples: pandas builds a frame from them far faster than from Row objects.
    rows = list(map(tuple, result.fetchall()))
    return pd.DataFrame.from_records(rows, columns=list(result.keys()))


def insert_ignore(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Insert rows whose primary key is not there yet (set-based, inside the transaction)."""
    if frame.empty:
        return
    if conn.dialect.name == "postgresql":
        tmp = f"tmp_{table.name}"
        conn.execute(text(f'CREATE TEMP TABLE "{tmp}" (LIKE "{table.name}") ON COMMIT DROP'))
        _copy_postgres(conn, tmp, frame)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        conn.execute(
            text(
                f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM "{tmp}" '
                "ON CONFLICT DO NOTHING"
            )
        )
        conn.execute(text(f'DROP TABLE "{tmp}"'))
    else:
        _sqlite_insert(conn, table, frame, "INSERT OR IGNORE")
