"""The real thing: a scheduler, a dag-processor, a triggerer, an API server and two Celery
workers on Redis and PostgreSQL (``ops/airflow-local.sh``), not ``dag.test()``.

A small city is dropped into the empty landing zone while the DAG's sensor waits. The
wave must give exactly one green cross-check (one link, a task per county, one close), no
failed task, load and county tasks on both workers, and a warehouse equal, table by table,
to a CLI run of the same landing and run date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from crosscheck.steps import run as cli_run
from ops.airflow_cluster import LocalAirflow
from tests.conftest import PII_KEY, require_postgres
from tests.warehouse_tables import differences, warehouse_tables

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def cluster(tmp_path):
    require_postgres()
    deployment = LocalAirflow(
        home=tmp_path / "airflow",
        landing=tmp_path / "landing",
        reports=tmp_path / "reports",
        pii_key=PII_KEY.decode(),
        poll_seconds=3,
    )
    try:
        deployment.up()
        yield deployment
    finally:
        deployment.down()


def test_a_landing_wave_under_the_scheduler_gives_one_green_cross_check(
    cluster, small_landing, tmp_path, postgres_url
):
    cluster.unpause()  # catchup=False: the first run starts at once and its sensor waits
    cluster.wait(cluster.sensor_waiting, timeout=120)
    assert cluster.finished_cross_checks() == 0  # nothing ran on an empty landing zone

    cluster.drop(small_landing)
    cluster.wait(cluster.finished_cross_checks, timeout=600, every=2)
    states = cluster.task_states()
    finished = [s for s in states if s[2] not in (None, "scheduled", "queued", "running")]
    by_task = {}
    for task_id, _, state, *_ in finished:
        by_task.setdefault(task_id, []).append(state)
    assert by_task["link"] == ["success"] and by_task["publish"] == ["success"], states
    assert by_task["check_county"] == ["success", "success"], states  # 渝水区 and 分宜县
    sources = len([p for p in small_landing.iterdir() if p.is_dir()])
    assert by_task["load_source"] == ["success"] * sources, states  # one per source, none failed
    assert "failed" not in {s[2] for s in states}
    # Mapped loads are named by their files and outcome, for the operator's grid view.
    named = {s[3] for s in finished if s[0] == "load_source"}
    assert "gongan_hukou: 户籍人口_202611.csv loaded" in named

    # Counties are named by their counts for the grid view.
    named = sorted(s[3] for s in finished if s[0] == "check_county")
    assert [n.split(":")[0] for n in named] == ["分宜县", "渝水区"], named

    # Both workers ran loads; each county ran once, as its own Celery task. Which worker
    # takes which county is Celery's choice: a worker that finishes one county before the
    # other is queued may take both (seen in CI), so the placement is not asserted.
    ran = cluster.worker_tasks()
    loads = {w: [t for t in tasks if t[0] == "load_source"] for w, tasks in ran.items()}
    assert set(loads) == {"worker-1", "worker-2"}
    assert all(loads.values()), loads
    assert sum(len(v) for v in loads.values()) == sources
    counties = sorted(t for tasks in ran.values() for t in tasks if t[0] == "check_county")
    assert counties == [("check_county", 0), ("check_county", 1)], ran

    # The warehouse is the CLI's, for the same landing and the run date Airflow used.
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.warehouse_url)
    with engine.connect() as conn:
        as_of = conn.execute(text("SELECT as_of FROM run_log")).scalars().all()
    engine.dispose()
    assert len(as_of) == 1
    as_of = as_of[0] if isinstance(as_of[0], dt.date) else dt.date.fromisoformat(str(as_of[0]))
    cli_url = postgres_url
    assert cli_run(small_landing, cli_url, as_of, tmp_path / "cli-reports", PII_KEY).ok
    airflow_tables = warehouse_tables(cluster.warehouse_url)
    assert differences(airflow_tables, warehouse_tables(cli_url)) == {}
    assert airflow_tables["mart_monitoring_list"]
    assert (cluster.reports / f"monitoring_list_{as_of:%Y%m%d}.csv").exists()
