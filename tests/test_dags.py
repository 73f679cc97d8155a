"""Airflow: the DAG folder imports cleanly, and the DAGs run end to end with dag.test(),
leaving the same warehouse as a CLI run of the same landing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, func, select

from connectors.spec import load_specs
from crosscheck.settings import DEV_PII_KEY
from tests.conftest import AS_OF
from tests.warehouse_tables import differences, warehouse_tables

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder="dags")


def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"crosscheck"}


def test_dags_follow_the_house_style(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert dag.catchup is False, dag_id
        assert dag.doc_md, dag_id
        assert dag.tags, dag_id
        assert all(t.retries >= 1 for t in dag.tasks), dag_id


def test_one_wave_per_run_loads_then_cross_checks_once(dagbag):
    dag = dagbag.get_dag("crosscheck")
    assert dag.max_active_runs == 1
    assert type(dag.timetable).__name__ == "ContinuousTimetable"
    order = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert order == {
        "landing_wave": ["load_source"],
        "load_source": ["link"],
        "link": ["check_county"],
        "check_county": ["publish"],
        "publish": [],
    }
    assert dag.get_task("landing_wave").mode == "reschedule"  # no worker slot while waiting
    assert dag.get_task("link").trigger_rule == "all_done"  # a rejected file ≠ no list
    # A failed county does not stop the city's close; a skipped cross-check skips it.
    assert dag.get_task("publish").trigger_rule == "none_skipped"


def test_the_dag_loads_the_warehouse_as_the_cli_does(dagbag, demo_city, tmp_path, monkeypatch):
    from airflow.utils.state import DagRunState

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("CROSSCHECK_LANDING_DIR", str(demo_city["landing"]))
    monkeypatch.setenv("CROSSCHECK_WAREHOUSE_URL", url)
    monkeypatch.setenv("CROSSCHECK_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("CROSSCHECK_PII_KEY", raising=False)  # demo landing: dev key allowed

    from crosscheck.steps import deploy_warehouse

    engine = create_engine(url)
    deploy_warehouse(engine)  # the deploy step (`crosscheck db upgrade`): tasks never migrate
    engine.dispose()
    run = dagbag.get_dag("crosscheck").test(run_conf={"as_of": AS_OF})
    assert run.state == DagRunState.SUCCESS
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    # One mapped load per source (all have files), one cross-check: the city's links, one
    # task per county of the register, the city's close.
    assert sum(1 for task_id, _ in states if task_id == "load_source") == len(load_specs())
    assert states[("link", -1)] == "success" and states[("publish", -1)] == "success"
    counties = sorted(i for task_id, i in states if task_id == "check_county")
    assert counties == [0, 1]  # the demo city's two counties, 渝水区 and 分宜县
    assert {states[("check_county", i)] for i in counties} == {"success"}
    for county in ("渝水区", "分宜县"):
        assert (tmp_path / "reports" / "counties" / county).is_dir()

    from warehouse.models import LoadAudit, MonitoringList, RecordLink

    engine = create_engine(url)
    with engine.connect() as conn:
        files = conn.execute(select(func.count()).select_from(LoadAudit)).scalar_one()
        sources = conn.execute(select(func.count(func.distinct(LoadAudit.source_id)))).scalar_one()
        linked = conn.execute(
            select(func.count()).select_from(RecordLink).where(RecordLink.method == "exact_id")
        ).scalar_one()
        flagged = conn.execute(select(func.count()).select_from(MonitoringList)).scalar_one()
        bad = conn.execute(
            select(func.count())
            .select_from(LoadAudit)
            .where(
                LoadAudit.rows_in
                != LoadAudit.rows_loaded + LoadAudit.rows_quarantined + LoadAudit.rows_duplicate
            )
        ).scalar_one()
    engine.dispose()
    landed = [
        p for p in demo_city["landing"].rglob("*") if p.is_file() and not p.name.startswith(".")
    ]
    assert files == len(landed)
    assert sources == len(load_specs())
    assert linked > 0 and flagged > 0
    assert bad == 0
    assert (tmp_path / "reports" / f"monitoring_list_{AS_OF.replace('-', '')}.csv").exists()

    # The same landing through the CLI's path leaves the same warehouse, table by table.
    from crosscheck.steps import run as cli_run

    cli_url = f"sqlite:///{tmp_path / 'cli.db'}"
    summary = cli_run(
        demo_city["landing"],
        cli_url,
        dt.date.fromisoformat(AS_OF),
        tmp_path / "cli-reports",
        DEV_PII_KEY.encode(),
    )
    assert summary.ok
    airflow_tables, cli_tables = warehouse_tables(url), warehouse_tables(cli_url)
    assert differences(airflow_tables, cli_tables) == {}
    assert len(cli_tables["run_log"]) == 1 and len(cli_tables["household_case"]) > 0

    # Nothing is left for the next run: its sensor waits for the next wave.
    from crosscheck.steps import cross_check_due

    engine = create_engine(url)
    assert not cross_check_due(engine, dt.date.fromisoformat(AS_OF))
    engine.dispose()


def test_a_mapped_load_is_named_within_airflows_limit(dagbag):
    """The UI names each load by its outcome; Airflow keeps that name in a VARCHAR(250),
    and a longer one failed the task under PostgreSQL (13 monthly files of one source)."""
    from types import SimpleNamespace

    from dags.crosscheck_dags import MAP_INDEX_CHARS, _outcome

    def result(name, status, code=None):
        return SimpleNamespace(file_name=name, status=status, reason_code=code)

    monthly = [result(f"就业失业_2026{m:02d}.csv", "loaded_with_rejects") for m in range(1, 13)]
    monthly.append(result("就业失业_202608_重发.csv", "duplicate_file"))
    assert _outcome("renshe_employment", monthly) == (
        "renshe_employment: 13 files, 1 duplicate_file, 12 loaded_with_rejects"
    )
    assert _outcome("gongan_hukou", [result("户籍人口_202611.csv", "loaded")]) == (
        "gongan_hukou: 户籍人口_202611.csv loaded"
    )
    assert _outcome("x", []) == "x: nothing new (loaded by an earlier try)"
    assert len(_outcome("x", [result("名" * 400 + ".csv", "rejected", "FILE_EMPTY")])) == (
        MAP_INDEX_CHARS
    )
