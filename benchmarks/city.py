"""City benchmark: the pipeline against the I/O floor of the same files, in one run.

    python -m benchmarks.city --out var/bench --households 400000 [--sqlite-households 100000]
        [--pg-admin postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Generates a demo city for a first month (run date 2026-11-30) and the next month's drop
(2026-12-31): each CSV or JSON-lines source's newest file re-delivered under the next
period's name with 1 row in ``DROP_EVERY`` changed (``next_month_drop``).
Then, each measured as a separate ``crosscheck run`` process (wall time and that process's
peak RSS, from ``wait4``):

- ``io_floor``: every landed file read as text (XLSX cells as text) and COPYed raw into an
  unindexed table of text columns, in a scratch PostgreSQL database: what moving the bytes
  costs at least;
- on PostgreSQL (and on SQLite for ``--sqlite-households``): the first full run; a rerun
  with nothing new; the next month's drop (run date 2026-12-31).

Writes ``city.json`` and ``city.md``. Databases are created and dropped here; the city's
files are removed afterwards (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

FIRST = dt.date(2026, 11, 30)
NEXT = dt.date(2026, 12, 31)
PII_KEY = "bench-city-only-key"
DROP_EVERY = 100  # the next month changes 1 row in 100 of the files it re-delivers
TARGETS = {"first_over_floor": 3.0, "rerun_s": 10.0, "drop_over_first": 0.05, "rss_gib": 4.0}


def _generate(folder: Path, households: int, seed: int, as_of: dt.date) -> None:
    from demo import generate_demo

    truth = folder.parent / f"truth_{folder.name}"  # beside the landing, never inside
    generate_demo(folder, households=households, seed=seed, as_of=as_of, truth_dir=truth)


def _text_rows(path: Path) -> tuple[int, io.StringIO, int]:
    """A file's width (most fields in a row), its rows as CSV text (the least work that
    reads every value) and their count."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        cells = book.worksheets[0].iter_rows(values_only=True)
        rows = [["" if v is None else str(v) for v in row] for row in cells]
        book.close()
    elif path.suffix.lower() == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [["line"], *([line] for line in lines)]
    else:
        raw = path.read_bytes()
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:  # GB18030, and a department's stray bad bytes kept as such
            content = raw.decode("gb18030", errors="replace")
        rows = list(csv.reader(io.StringIO(content, newline="")))
    width = max((len(row) for row in rows), default=1) or 1
    out = io.StringIO()
    # Every row as wide as the widest (COPY wants them all alike: a hostile file's are not).
    csv.writer(out).writerows(row + [""] * (width - len(row)) for row in rows[1:])
    # PostgreSQL text holds no NUL byte (a hostile file may carry some): dropped here.
    return width, io.StringIO(out.getvalue().replace("\x00", "")), len(rows) - 1


@contextmanager
def scratch_database(pg_admin: str) -> Iterator[str]:
    """A new PostgreSQL database for the block (its URL), dropped afterwards."""
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    name = f"crosscheck_city_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def io_floor(landing: Path, pg_admin: str) -> dict:
    """Read every file as text and COPY it raw into an unindexed table (one per file)."""
    files = sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith("."))
    rows = size = 0
    with scratch_database(pg_admin) as url:
        engine = create_engine(url)
        started = time.perf_counter()
        for i, path in enumerate(files):
            width, body, n = _text_rows(path)
            rows, size = rows + n, size + path.stat().st_size
            columns = ", ".join(f'"c{j}" text' for j in range(width))
            with engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE TABLE "f{i}" ({columns})')
                cursor = conn.connection.driver_connection.cursor()
                with cursor.copy(f'COPY "f{i}" FROM STDIN WITH (FORMAT csv)') as copy:
                    while chunk := body.read(1 << 20):
                        copy.write(chunk)
        seconds = time.perf_counter() - started
        engine.dispose()
    return {"files": len(files), "rows": rows, "mib": round(size / 2**20, 1), "s": seconds}


def _crosscheck(args: list[str], env: dict) -> dict:
    """One ``crosscheck`` process: exit code, wall seconds, peak RSS (MiB), last lines."""
    started = time.perf_counter()
    wall_start = dt.datetime.now()  # local time, as the log's timestamps
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crosscheck.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        summary = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        log.seek(0)
        lines = log.read().strip().splitlines()
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "s": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "stages_s": stage_profile(lines, wall_start, wall_start + dt.timedelta(seconds=seconds)),
        "summary": summary.strip().splitlines(),  # the run summary the CLI prints
        "log_tail": lines[-5:],
    }


def stage_profile(lines: list[str], start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """Seconds per stage, from the CLI's progress lines (``<time> INFO crosscheck: <source>:
    <stage>``): each stage lasts until the next line of progress; counties summed."""
    marks = [(start, "start-up")]
    for line in lines:
        stamp, _, rest = line.partition(" INFO crosscheck: ")
        if not rest:
            continue
        source, _, stage = rest.partition(": ")
        if source == "crosscheck":
            name = stage.rsplit(": ", 1)[-1]  # "<county>: rules" -> "rules"
        else:
            name = "ingest" if stage.startswith("ingest") else stage
        marks.append((dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f"), name))
    marks.append((end, "end"))
    out: dict[str, float] = {}
    for (at, name), (until, _) in itertools.pairwise(marks):
        out[name] = round(out.get(name, 0.0) + (until - at).total_seconds(), 1)
    return out


def _pipeline(url: str, landing: Path, drop: Path, reports: Path, env: dict) -> dict:
    def run(as_of: dt.date) -> dict:
        return _crosscheck(
            [
                "run",
                "--landing",
                str(landing),
                "--warehouse",
                url,
                "--reports",
                str(reports),
                "--as-of",
                as_of.isoformat(),
                "--allow-future-date",  # the next month's run date lies ahead of today
            ],
            env,
        )

    upgrade = _crosscheck(["db", "upgrade", "--warehouse", url], env)
    assert upgrade["exit"] == 0, upgrade
    out = {"first": run(FIRST), "rerun": run(FIRST)}
    for path in sorted(p for p in drop.rglob("*") if p.is_file()):  # the next month lands
        target = landing / path.relative_to(drop)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    out["next_month"] = run(NEXT)
    return out


def next_month_drop(month1: Path, month2: Path, drop: Path, every: int = DROP_EVERY) -> dict:
    """The next month's drop: the same city a month on, about 1 row in ``every`` changed.

    The demo generator run for another date builds another city (other households for the
    same ID numbers), so its files are no next month of the first. Instead each CSV or
    JSON-lines source whose newest file has a next period re-delivers its first month's
    newest file under the next period's name with every ``every``-th data row replaced by
    the row at that place in the generated next month's file (a new or changed record).
    Workbooks and SQLite files are not re-delivered. Bytes are spliced line by line, so
    each file keeps its department's encoding and quirks.
    """
    shutil.rmtree(drop, ignore_errors=True)
    files = rows = changed = 0
    for folder in sorted(p for p in month1.iterdir() if p.is_dir()):
        first = sorted(p for p in folder.iterdir() if p.is_file())[-1]
        nexts = sorted(p for p in (month2 / folder.name).iterdir() if p.is_file())
        if first.suffix not in (".csv", ".jsonl") or not nexts or nexts[-1].name == first.name:
            continue
        old = first.read_bytes().splitlines(keepends=True)
        new = nexts[-1].read_bytes().splitlines(keepends=True)
        header = 1 if first.suffix == ".csv" else 0
        for at in range(header + every - 1, min(len(old), len(new)), every):
            old[at] = new[at] if new[at].endswith(b"\n") else new[at] + b"\n"
            changed += 1
        (drop / folder.name).mkdir(parents=True, exist_ok=True)
        (drop / folder.name / nexts[-1].name).write_bytes(b"".join(old))
        files += 1
        rows += len(old) - header
    return {"files": files, "rows": rows, "rows_changed": changed, "every": every}


def bench(households: int, sqlite_households: int, seed: int, pg_admin: str, work: Path):
    env = {
        **os.environ,
        "CROSSCHECK_PII_KEY": PII_KEY,
        "CROSSCHECK_LANDING_SETTLE_SECONDS": "0",  # the files were written before the run
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    result: dict = {"households": households, "seed": seed}
    city = work / f"city_{households}_{seed}"
    started = time.perf_counter()
    if (city / ".generated").exists():  # a city kept by --keep is reused
        result["generate_s"] = None
    else:
        shutil.rmtree(city, ignore_errors=True)
        _generate(city / "month1", households, seed, FIRST)
        _generate(city / "month2", households, seed, NEXT)
        (city / ".generated").touch()
        result["generate_s"] = round(time.perf_counter() - started, 1)
    for scratch in ("drop", "landing_pg", "landing_sqlite", "reports_pg", "reports_sqlite"):
        shutil.rmtree(city / scratch, ignore_errors=True)
    for leftover in city.glob("warehouse.db*"):  # the database, its WAL and lock files
        leftover.unlink()
    drop = city / "drop"
    result["drop"] = next_month_drop(city / "month1", city / "month2", drop)
    result["io_floor"] = io_floor(city / "month1", pg_admin)
    result["drop_floor"] = io_floor(drop, pg_admin)

    sqlite_url = f"sqlite:///{city / 'warehouse.db'}"
    if sqlite_households == households:
        landing = city / "landing_sqlite"
        shutil.copytree(city / "month1", landing)
        result["sqlite"] = _pipeline(sqlite_url, landing, drop, city / "reports_sqlite", env)
    landing = city / "landing_pg"
    shutil.copytree(city / "month1", landing)
    with scratch_database(pg_admin) as url:
        result["postgresql"] = _pipeline(url, landing, drop, city / "reports_pg", env)
        if "sqlite" in result:
            result["backends_differ"] = compare_backends(sqlite_url, url)
    return result, city


# What must be the same whichever backend ran the city: the list, the flags, the links.
COMPARED = {
    "mart_monitoring_list": "household_no, grade, risk_types, object_type, status",
    "household_flag": "as_of, household_no, grade, risk_types, object_type",
    "record_link": "source_id, record_key, person_key, household_no, method",
}


def compare_backends(sqlite_url: str, pg_url: str) -> dict[str, dict[str, int]]:
    """Rows of each compared table found on one backend only (empty: the same marts)."""
    out = {}
    for table, columns in COMPARED.items():
        rows = []
        for url in (sqlite_url, pg_url):
            engine = create_engine(url)
            with engine.connect() as conn:
                found = conn.exec_driver_sql(f"SELECT {columns} FROM {table}").all()
            engine.dispose()
            rows.append({tuple(str(v) for v in row) for row in found})
        only_sqlite, only_pg = len(rows[0] - rows[1]), len(rows[1] - rows[0])
        if only_sqlite or only_pg:
            out[table] = {"only_sqlite": only_sqlite, "only_postgresql": only_pg}
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b else "-"


def markdown(result: dict) -> str:
    floor = result["io_floor"]
    lines = [
        f"# City benchmark: {result['households']:,} households",
        "",
        f"I/O floor (every file read as text + raw COPY into unindexed PostgreSQL tables): "
        f"{floor['files']} files, {floor['rows']:,} rows, {floor['mib']} MiB in "
        f"{floor['s']:.1f} s; the next month's drop: {result['drop_floor']['files']} files, "
        f"{result['drop_floor']['rows']:,} rows ({result['drop']['rows_changed']:,} new or "
        f"changed, 1 in {result['drop']['every']}) in {result['drop_floor']['s']:.1f} s.",
        "",
        "| run | backend | exit | wall s | x floor | x first run | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for backend in ("postgresql", "sqlite"):
        if backend not in result:
            continue
        runs = result[backend]
        for name, base in (
            ("first full run", floor["s"]),
            ("rerun, nothing new", floor["s"]),
            ("next month's drop", result["drop_floor"]["s"]),
        ):
            key = {"first full run": "first", "rerun, nothing new": "rerun"}.get(name, "next_month")
            r = runs[key]
            lines.append(
                f"| {name} | {backend} | {r['exit']} | {r['s']:.1f} | {_ratio(r['s'], base)} | "
                f"{r['s'] / runs['first']['s']:.0%} | {r['peak_rss_mib']:,} |"
            )
    lines += [
        "",
        "x floor: the first run and the rerun against the first month's floor, the drop "
        "against the drop's floor. Peak RSS: of the `crosscheck run` process (the pipeline is "
        "one process; PostgreSQL's own server processes are not counted).",
        "",
        f"Targets (issue): first run at most {TARGETS['first_over_floor']}x the floor, a rerun "
        f"with nothing new under {TARGETS['rerun_s']:.0f} s, a 1% drop in at most "
        f"{TARGETS['drop_over_first']:.0%} of the first run, peak RSS at most "
        f"{TARGETS['rss_gib']} GiB.",
        "",
        f"Machine: Python {result['machine']['python']}, {result['machine']['cpus']} CPUs; "
        + (
            f"city generated in {result['generate_s']} s."
            if result["generate_s"] is not None
            else "city reused from an earlier run (--keep)."
        ),
    ]
    for backend in ("postgresql", "sqlite"):
        if backend in result:
            stages = result[backend]["first"]["stages_s"]
            lines += [
                "",
                f"Where the first run's time goes ({backend}, seconds by stage): "
                + ", ".join(f"{k} {v}" for k, v in stages.items()),
            ]
    if "backends_differ" in result:
        differ = result["backends_differ"]
        lines += [
            "",
            "SQLite and PostgreSQL after the same three runs: "
            + (
                "the same list, flags and links row for row."
                if not differ
                else "; ".join(
                    f"{t}: {d['only_sqlite']} rows only on SQLite, {d['only_postgresql']} only "
                    "on PostgreSQL"
                    for t, d in differ.items()
                )
            ),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=400_000)
    parser.add_argument(
        "--sqlite-households",
        type=int,
        default=100_000,
        help="also run SQLite when the city has this many households",
    )
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument(
        "--pg-admin",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a login that may create databases; the benchmark's databases are dropped",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated city")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result, city = bench(
        args.households, args.sqlite_households, args.seed, args.pg_admin, args.out
    )
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    (args.out / "city.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / "city.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    if not args.keep:
        shutil.rmtree(city, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
