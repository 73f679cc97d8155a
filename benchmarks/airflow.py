"""``make bench-airflow``: a demo city under Celery, from file drop to a green cross-check,
against ``crosscheck run`` on the same landing; results to ``var/bench/airflow.{json,md}``.

The deployment is the local one (``ops/airflow-local.sh``: scheduler, dag-processor,
triggerer, API server, two Celery workers, Redis, PostgreSQL) in a home of its own. The
clock starts when the first file is copied into the waiting landing zone and stops when
the cross-check task succeeds. The CLI then runs the same landing, for the run date the
DAG used, into a fresh PostgreSQL warehouse; both warehouses are compared table by table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from ops.airflow_cluster import PG, ROOT, LocalAirflow

PII_KEY = "bench-airflow-pii-key"


def _generate(households: int, out: Path) -> int:
    from demo import generate_demo

    if out.exists():
        shutil.rmtree(out)
    summary = generate_demo(out, households=households, seed=20261130, as_of=dt.date(2026, 11, 30))
    return len(summary["files"])


def _cli(landing: Path, as_of: dt.date, work: Path) -> tuple[float, str]:
    name = f"crosscheck_bench_cli_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSCHECK_")}
    env.update(CROSSCHECK_PII_KEY=PII_KEY, CROSSCHECK_LANDING_SETTLE_SECONDS="0")
    started = time.monotonic()
    subprocess.run(
        [
            *(sys.executable, "-m", "crosscheck.cli", "run", "--landing", str(landing)),
            *("--warehouse", f"{PG}/{name}", "--as-of", as_of.isoformat()),
            *("--reports", str(work / "cli-reports")),
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started, f"{PG}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=500)
    args = parser.parse_args()
    work = args.out / "airflow"
    shutil.rmtree(work, ignore_errors=True)
    source = work / "landing-src"
    files = _generate(args.households, source)

    cluster = LocalAirflow(
        home=work / "home",
        landing=work / "landing",
        reports=work / "reports",
        pii_key=PII_KEY,
        poll_seconds=5,
    )
    cli_url = None
    try:
        cluster.up()
        cluster.unpause()
        cluster.wait(cluster.sensor_waiting, timeout=180)
        started = time.monotonic()
        cluster.drop(source)
        dropped = time.monotonic() - started
        cluster.wait(
            lambda: cluster.scalar(
                "SELECT count(*) FROM task_instance WHERE task_id='publish' AND state='success'"
            ),
            timeout=3600,
            every=1,
        )
        airflow_s = time.monotonic() - started
        states = cluster.task_states()
        runs = cluster.rows("SELECT run_id, state FROM dag_run ORDER BY start_date")
        ran = cluster.worker_tasks()
        workers = {w: len(t) for w, t in ran.items()}
        # Which worker ran which county (map index, in the counties' name order).
        counties = {w: [i for task, i in t if task == "check_county"] for w, t in ran.items()}
        engine = create_engine(cluster.warehouse_url)
        with engine.connect() as conn:
            as_of = conn.execute(text("SELECT max(as_of) FROM run_log")).scalar()
        engine.dispose()
        cli_s, cli_url = _cli(source, as_of, work)
        from tests.warehouse_tables import differences, warehouse_tables

        differing = differences(warehouse_tables(cluster.warehouse_url), warehouse_tables(cli_url))
    finally:
        cluster.down()
        if cli_url:
            admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{cli_url.rsplit("/", 1)[1]}"'))
            admin.dispose()

    count = {}
    for task_id, _, state, *_ in states:
        count.setdefault(task_id, {}).setdefault(str(state), 0)
        count[task_id][str(state)] += 1
    result = {
        "households": args.households,
        "files": files,
        "copy_s": round(dropped, 1),
        "airflow_drop_to_green_s": round(airflow_s, 1),
        "cli_s": round(cli_s, 1),
        "ratio": round(airflow_s / cli_s, 2),
        "target_ratio": 2.0,
        "dag_runs": runs,
        "task_states": count,
        "tasks_per_worker": workers,
        "county_tasks_per_worker": counties,
        "tables_differing_from_cli": differing,
        "load_avg": os.getloadavg(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "airflow.json").write_text(json.dumps(result, indent=1, default=str))
    load = ", ".join(f"{x:.2f}" for x in result["load_avg"])
    lines = [
        f"# Airflow under Celery vs the CLI: {args.households}-household demo city, {files} files",
        "",
        "| measure | value |",
        "|---|---|",
        f"| drop to green cross-check (Celery, 2 workers) | {airflow_s:.1f} s |",
        f"| `crosscheck run`, same landing, PostgreSQL | {result['cli_s']} s |",
        f"| ratio (target at most 2.0) | {result['ratio']} |",
        f"| copying the files in (inside the Airflow time) | {result['copy_s']} s |",
        f"| DAG runs | {', '.join(f'{r[1]}' for r in runs)} |",
        f"| task instances | {json.dumps(count, ensure_ascii=False)} |",
        f"| task instances per worker | {json.dumps(workers)} |",
        f"| county tasks (map index) per worker | {json.dumps(counties)} |",
        f"| tables differing from the CLI's warehouse | {len(differing)} |",
        f"| load average (1, 5, 15 min) at the end | {load} |",
    ]
    (args.out / "airflow.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
