"""Pipeline benchmark: time each stage on a generated city and write the results to a file.

    python -m benchmarks.pipeline --out var/bench [--households 20000] [--warehouse URL]

Writes ``pipeline.json`` and ``pipeline.md`` (rows per second per source and stage timings,
peak memory). Speed targets are checked here, never in unit tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import shutil
import time
from pathlib import Path

from connectors.spec import load_specs
from crosscheck.settings import DEV_PII_KEY
from crosscheck.steps import cross_check, ingest_source, open_warehouse

AS_OF = dt.date(2026, 11, 30)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(out: Path, households: int, warehouse_url: str | None, seed: int) -> dict:
    from demo import generate_demo

    work = out / f"city_{households}"
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    generate_demo(
        work / "landing", households=households, seed=seed, as_of=AS_OF, truth_dir=work / "truth"
    )
    timings = {"demo_generate_s": time.perf_counter() - started}

    url = warehouse_url or f"sqlite:///{work / 'warehouse.db'}"
    engine = open_warehouse(url)
    sources = []
    ingest_started = time.perf_counter()
    for spec in load_specs().values():
        t0 = time.perf_counter()
        loads, failures = ingest_source(engine, spec, work / "landing", DEV_PII_KEY.encode(), AS_OF)
        seconds = time.perf_counter() - t0
        rows = sum(r.rows_in for r in loads)
        sources.append(
            {
                "source_id": spec.source_id,
                "files": len(loads),
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_s": round(rows / seconds) if seconds else None,
                "failures": failures,
            }
        )
    timings["ingest_s"] = time.perf_counter() - ingest_started
    t0 = time.perf_counter()
    summary = cross_check(engine, AS_OF, work / "reports")
    timings["crosscheck_s"] = time.perf_counter() - t0
    engine.dispose()
    result = {
        "households": households,
        "seed": seed,
        "warehouse": url.split("://")[0],
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "total_rows": sum(s["rows"] for s in sources),
        "peak_rss_mib": round(_peak_rss_mib()),
        "flagged": summary.households_flagged,
        "grades": summary.grades,
        "sources": sources,
    }
    return result


def _markdown(result: dict) -> str:
    lines = [
        f"# Pipeline benchmark: {result['households']} households ({result['warehouse']})",
        "",
        f"- total rows: {result['total_rows']}",
        *[f"- {k}: {v}" for k, v in result["timings_s"].items()],
        f"- peak RSS: {result['peak_rss_mib']} MiB",
        f"- flagged households: {result['flagged']} {result['grades']}",
        "",
        "| source | files | rows | seconds | rows/s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['source_id']} | {s['files']} | {s['rows']} | {s['seconds']} | {s['rows_per_s']} |"
        for s in result["sources"]
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--warehouse", default=None, help="default: SQLite in the bench folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = bench(args.out, args.households, args.warehouse, args.seed)
    (args.out / "pipeline.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / "pipeline.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
