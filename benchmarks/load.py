"""Load benchmark on PostgreSQL: our staging merge against a raw COPY of the same rows.

    python -m benchmarks.load --out var/bench [--households 20000]
        [--source renshe_employment] [--pg-admin postgresql+psycopg://postgres@127.0.0.1/postgres]

Generates a demo city, turns every file of one source into the staging rows ingest would
write, and in a temporary database (created and dropped here) measures, in one run:

- ``raw_copy``: COPY of those rows into an unindexed table with the same columns (the floor);
- ``merge``: our bulk write + upsert (``warehouse.db.upsert_rows``: COPY to a temporary
  table, one INSERT ... ON CONFLICT DO UPDATE) into the real, keyed staging table, for a
  first load into an empty table, a new month into a table holding the earlier months, and
  a re-sent copy of everything with a tenth of the rows changed;
- ``ingest``: the whole ``ingest_file`` of each file (read, map, validate, identify, merge,
  audit), split into preparing the rows and the load transaction.

Each case is timed ``--repeat`` times (median reported). Writes ``load.json`` and
``load.md``; exits 1 when the first-load merge is slower than half the raw COPY.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, MetaData, Table, create_engine, text
from sqlalchemy.exc import DBAPIError

import warehouse.load as ingest
from connectors.canonical import to_canonical
from connectors.landing import LandedFile, landed_files
from connectors.readers import read_file
from connectors.spec import SourceSpec, load_specs
from crosscheck.settings import DEV_PII_KEY
from crosscheck.steps import ingest_file, open_warehouse
from validation.quarantine import quarantine_frame
from validation.suites import validate_rows
from warehouse.db import bulk_insert, upsert_rows
from warehouse.models import staging_table

AS_OF = dt.date(2026, 11, 30)
TARGET_RATIO = 0.5  # merge throughput / raw COPY throughput, first load
PII_KEY = DEV_PII_KEY.encode()


def _staging_frame(spec: SourceSpec, landed: LandedFile) -> pd.DataFrame:
    """The rows ingest would merge for one file (valid rows, one per record_key)."""
    table = read_file(landed.path, spec.format, encoding=spec.encoding)
    batch = to_canonical(spec, table)
    quarantined = quarantine_frame(spec, batch, validate_rows(spec, batch))
    keep = batch.values.index.difference(pd.Index(quarantined["row_number"]))
    stg, _ = ingest.staging_rows(spec, batch, keep, PII_KEY, AS_OF)
    return ingest._newest_per_key(stg, spec.period_field)


def _checkpoint(engine: Engine) -> None:
    """Start each timed run from a clean WAL state, so no run pays for another's checkpoint."""
    with engine.connect() as conn:
        try:
            conn.execute(text("CHECKPOINT"))
        except DBAPIError:  # needs superuser or pg_checkpoint: timings are just noisier
            conn.rollback()


def _timed_pair(
    engine: Engine,
    runs: dict[str, tuple[Callable[[], None], Callable[[], object]]],
    repeat: int,
) -> dict[str, list[float]]:
    """Seconds per run of each (reset, run) case, the cases interleaved run by run so that a
    busy moment on the shared machine hits the floor and our path alike."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (reset, run) in runs.items():
            reset()
            _checkpoint(engine)
            t0 = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - t0)
    return seconds


def _case(rows: int, seconds: list[float], **extra) -> dict:
    median = statistics.median(seconds)
    return {
        "rows": rows,
        "seconds_median": round(median, 3),
        "seconds_all": [round(s, 3) for s in seconds],
        "rows_per_s": round(rows / median),
        **extra,
    }


def _truncate(engine: Engine, *tables: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)))


def _changed(frame: pd.DataFrame, every: int) -> pd.DataFrame:
    """A copy with every n-th row corrected (new content hash, same key and period)."""
    out = frame.copy()
    pick = out.index[::every]
    out.loc[pick, "row_hash"] = out.loc[pick, "row_hash"].str[::-1]
    out.loc[pick, "row_warning"] = "BENCH"
    return out


def bench_load(engine: Engine, spec: SourceSpec, landing: Path, repeat: int) -> dict:
    files = landed_files(landing, spec)
    t0 = time.perf_counter()
    per_file = [_staging_frame(spec, f) for f in files]
    prepare_s = time.perf_counter() - t0
    # Across files a later one wins, as loading them in order would leave it.
    rows = pd.concat(per_file).pipe(lambda f: f[~f.duplicated("record_key", keep="last")])
    rows = rows.reset_index(drop=True).assign(load_id=1)
    period = spec.period_field
    latest = rows[period] == rows[period].max()
    older, newest = rows[~latest], rows[latest]

    stg = staging_table(spec)
    raw = Table(f"bench_raw_{spec.source_id}", MetaData())
    with engine.begin() as conn:
        # Same columns and types, no primary key, no indexes: the cheapest possible write.
        conn.execute(text(f'CREATE TABLE "{raw.name}" (LIKE "{stg.name}")'))
    raw = Table(raw.name, MetaData(), autoload_with=engine)

    def copy_raw(frame):
        def run():
            with engine.begin() as conn:
                bulk_insert(conn, raw, frame)

        return run

    def merge(frame):
        def run():
            with engine.begin() as conn:
                upsert_rows(conn, stg, frame, version_column=period)

        return run

    def reset_raw():
        _truncate(engine, raw.name)

    def reset_stg(preload: pd.DataFrame | None = None):
        def run():
            _truncate(engine, stg.name)
            if preload is not None:
                with engine.begin() as conn:
                    bulk_insert(conn, stg, preload)
            with engine.begin() as conn:
                conn.execute(text(f'ANALYZE "{stg.name}"'))

        return run

    changed = _changed(rows, 10)
    first = _timed_pair(
        engine,
        {"raw": (reset_raw, copy_raw(rows)), "merge": (reset_stg(), merge(rows))},
        repeat,
    )
    month = _timed_pair(
        engine,
        {"raw": (reset_raw, copy_raw(newest)), "merge": (reset_stg(older), merge(newest))},
        repeat,
    )
    resend = _timed_pair(engine, {"merge": (reset_stg(rows), merge(changed))}, repeat)
    cases = {
        "raw_copy_all": _case(len(rows), first["raw"]),
        "merge_first_load": _case(len(rows), first["merge"]),
        "raw_copy_new_month": _case(len(newest), month["raw"]),
        "merge_new_month": _case(len(newest), month["merge"], stored_rows=len(older)),
        "merge_resend_10pct_changed": _case(len(rows), resend["merge"], stored_rows=len(rows)),
    }
    with engine.begin() as conn:
        conn.execute(text(f'DROP TABLE "{raw.name}"'))

    # The whole ingest_file per file, its load transaction timed apart from the rest.
    in_transaction: list[float] = []
    real = ingest._load_transaction

    def timed_transaction(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            in_transaction.append(time.perf_counter() - t)

    loads = []

    def ingest_all():
        loads[:] = [ingest_file(engine, spec, landed, PII_KEY, AS_OF) for landed in files]

    ingest._load_transaction = timed_transaction
    try:
        seconds = _timed_pair(
            engine,
            {
                "ingest": (
                    lambda: (
                        in_transaction.clear(),
                        _truncate(engine, stg.name, "load_audit", "quarantine", "pii_identity"),
                    ),
                    ingest_all,
                )
            },
            repeat,
        )["ingest"]
    finally:
        ingest._load_transaction = real
    cases["ingest_file_all"] = _case(
        sum(r.rows_in for r in loads),
        seconds,
        files=len(files),
        load_transaction_s_last=round(sum(in_transaction), 3),
    )
    ratio = cases["merge_first_load"]["rows_per_s"] / cases["raw_copy_all"]["rows_per_s"]
    return {
        "source_id": spec.source_id,
        "files": len(files),
        "prepare_rows_s": round(prepare_s, 2),
        "cases": cases,
        "ratio_merge_to_raw_copy": round(ratio, 3),
        "ratio_new_month": round(
            cases["merge_new_month"]["rows_per_s"] / cases["raw_copy_new_month"]["rows_per_s"], 3
        ),
        "target_ratio": TARGET_RATIO,
        "passed": ratio >= TARGET_RATIO,
    }


def _markdown(result: dict) -> str:
    lines = [
        f"# Load benchmark: {result['source_id']}, {result['households']} households "
        f"(PostgreSQL {result['server_version']})",
        "",
        f"- load average before/after: {result['loadavg_before']} / {result['loadavg_after']}"
        f" ({result['machine']['cpus']} CPUs)",
        f"- merge (first load) / raw COPY: **{result['ratio_merge_to_raw_copy']:.0%}** "
        f"(target >= {result['target_ratio']:.0%}: {'PASS' if result['passed'] else 'FAIL'})",
        f"- new month into a table holding the earlier months / raw COPY: "
        f"{result['ratio_new_month']:.0%}",
        "",
        "| case | rows | median s | rows/s | runs (s) |",
        "|---|---:|---:|---:|---|",
    ]
    for name, c in result["cases"].items():
        runs = ", ".join(map(str, c["seconds_all"]))
        lines.append(
            f"| {name} | {c['rows']} | {c['seconds_median']} | {c['rows_per_s']} | {runs} |"
        )
    c = result["cases"]["ingest_file_all"]
    lines += [
        "",
        f"ingest_file_all: {c['files']} files; of its last run, {c['load_transaction_s_last']} s "
        "in the load transaction (merge, identities, quarantine, audit), the rest reading, "
        "mapping, validating and identifying.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--source", default="renshe_employment")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--pg-admin",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a login that may create databases; the benchmark database is dropped afterwards",
    )
    args = parser.parse_args(argv)
    from demo import generate_demo

    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / f"load_city_{args.households}"
    shutil.rmtree(work, ignore_errors=True)
    generate_demo(
        work / "landing",
        households=args.households,
        seed=args.seed,
        as_of=AS_OF,
        truth_dir=work / "truth",
    )
    spec = load_specs()[args.source]
    admin = create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
    name = f"crosscheck_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = None
    try:
        engine = open_warehouse(args.pg_admin.rsplit("/", 1)[0] + f"/{name}")
        with engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar_one()
        before = os.getloadavg()
        result = bench_load(engine, spec, work / "landing", args.repeat)
        after = os.getloadavg()
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "households": args.households,
        "seed": args.seed,
        "server_version": server,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "loadavg_before": [round(x, 2) for x in before],
        "loadavg_after": [round(x, 2) for x in after],
        **result,
    }
    (args.out / "load.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / "load.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
