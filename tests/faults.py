"""Run the real ``crosscheck`` CLI and SIGKILL it at a chosen point: a crash, for tests.

It can also make SQLite return unordered rows in reverse (``--reverse-unordered-selects``)
and run the clock days ahead (``--clock-shift-days``).

``python -m tests.faults [--kill-at N] [--count-file F] -- <crosscheck arguments>``

Points are counted on the warehouse's SQL statements (every ``cursor.execute`` of every
engine, so inside transactions too) and on files opened for writing (exports, reports).
``--kill-at N`` kills the process, without any chance to clean up, just before point N;
``--count-file`` writes how many points a run passed (a clean run's count spreads the kill
points over the whole run). Nothing here is imported by the product.
"""

from __future__ import annotations

import argparse
import builtins
import io
import os
import signal
import sqlite3
import sys
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine


class _Points:
    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.passed = 0

    def __call__(self, *_args, **_kwargs) -> None:
        self.passed += 1
        if self.passed == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _count_writes(points: _Points) -> None:
    """Count every open() for writing: a kill between two export files is a point too."""
    real_open, real_io_open = builtins.open, io.open

    def counting(open_fn):
        def wrapper(file, mode="r", *args, **kwargs):
            if any(flag in mode for flag in "wax+"):
                points()
            return open_fn(file, mode, *args, **kwargs)

        return wrapper

    builtins.open = counting(real_open)
    io.open = counting(real_io_open)  # Path.open goes through io.open: counted once


def _shift_clock(days: int) -> None:
    """Every later ``datetime.datetime.now()``/``date.today()`` through the ``datetime``
    module reads a clock ``days`` ahead: a result that depends on the clock shows."""
    import datetime as dt

    real_datetime, real_date = dt.datetime, dt.date
    shift = dt.timedelta(days=days)

    class SameInstances(type):
        """isinstance(x, dt.date) stays true for the real dates and datetimes."""

        def __instancecheck__(cls, obj) -> bool:
            return isinstance(obj, cls.__mro__[1])

        def __subclasscheck__(cls, sub) -> bool:
            return issubclass(sub, cls.__mro__[1])

    class ShiftedDatetime(real_datetime, metaclass=SameInstances):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.now(tz) + shift

        @classmethod
        def utcnow(cls):
            return real_datetime.now(dt.UTC).replace(tzinfo=None) + shift

        @classmethod
        def today(cls):
            return real_datetime.now() + shift

    class ShiftedDate(real_date, metaclass=SameInstances):
        @classmethod
        def today(cls):
            return real_date.today() + shift

    dt.datetime, dt.date = ShiftedDatetime, ShiftedDate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults")
    parser.add_argument("--kill-at", type=int, default=0, help="SIGKILL before point N")
    parser.add_argument("--count-file", type=Path, help="write the number of points passed")
    parser.add_argument(
        "--clock-shift-days",
        type=int,
        default=0,
        help="the machine's clock runs this many days ahead (datetime.now, date.today)",
    )
    parser.add_argument(
        "--reverse-unordered-selects",
        action="store_true",
        help="SQLite returns the rows of every SELECT without ORDER BY in reverse order",
    )
    parser.add_argument("cli_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cli_args = args.cli_args[1:] if args.cli_args[:1] == ["--"] else args.cli_args

    if args.clock_shift_days:
        # C extensions check the datetime types' size when they load: load them first.
        import great_expectations  # noqa: F401
        import openpyxl  # noqa: F401
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401

        import crosscheck.steps  # noqa: F401

        _shift_clock(args.clock_shift_days)
    if args.reverse_unordered_selects:
        # Whatever order a database happens to return rows in must not change a result.
        def _reverse(dbapi_conn, _record) -> None:
            if isinstance(dbapi_conn, sqlite3.Connection):
                dbapi_conn.execute("PRAGMA reverse_unordered_selects = ON")

        event.listen(Engine, "connect", _reverse)
    points = _Points(args.kill_at)
    event.listen(Engine, "before_cursor_execute", points)
    _count_writes(points)
    from crosscheck.cli import main as crosscheck_main

    try:
        return crosscheck_main(cli_args)
    finally:
        if args.count_file is not None:
            args.count_file.write_text(str(points.passed), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
