"""Airflow DAGs of the one-stop cross-check (thin TaskFlow shells over the packages).

- ``ingest_<source_id>``: one DAG per source spec, generated here. Lists the source's new
  files in the landing zone, loads each (mapped task), and updates the Asset of the
  source's staging table when anything new was loaded.
- ``crosscheck``: scheduled on any staging Asset; rebuilds dimensions, links, risk
  signals, marts and exports for the run date.

Settings come from the environment (CROSSCHECK_LANDING_DIR, CROSSCHECK_WAREHOUSE_URL,
CROSSCHECK_PII_KEY, CROSSCHECK_REPORTS_DIR). Nothing heavy is imported at parse time.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from airflow.sdk import Asset, AssetAny, Param, dag, get_current_context, task

from connectors.spec import SourceSpec, load_specs

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_ARGS = {"retries": 2, "retry_delay": dt.timedelta(minutes=5)}


def staging_asset(source_id: str) -> Asset:
    """The Asset a source's ingest DAG updates: its staging table in the warehouse."""
    return Asset(name=f"stg_{source_id}", uri=f"crosscheck://warehouse/stg_{source_id}")


def _run_date(params: dict) -> dt.date:
    """The run date: the `as_of` param, else the run's date in the city's time zone."""
    if params.get("as_of"):
        return dt.date.fromisoformat(params["as_of"])
    run_after = get_current_context()["dag_run"].run_after
    return run_after.astimezone(
        ZoneInfo(os.environ.get("CROSSCHECK_TIMEZONE", "Asia/Shanghai"))
    ).date()


def make_ingest_dag(spec: SourceSpec):
    asset = staging_asset(spec.source_id)

    @dag(
        dag_id=f"ingest_{spec.source_id}",
        schedule="@hourly",  # poll the landing folder; a run with nothing new is a no-op
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ingest", spec.department, spec.format],
        doc_md=f"Ingest **{spec.department} {spec.title}** (`{spec.source_id}`, {spec.format}, "
        f"{spec.cadence}). Updates Asset `{asset.name}`.",
    )
    def ingest():
        @task
        def list_new_files() -> list[str]:
            from crosscheck.tasks import new_files

            return new_files(spec.source_id)

        @task(max_active_tis_per_dagrun=1)  # one writer per staging table at a time
        def load_file(path: str) -> dict:
            from crosscheck.tasks import load_file as load

            return load(spec.source_id, path)

        @task(outlets=[asset])
        def publish(results: list[dict]) -> dict:
            from crosscheck.tasks import publish_loads

            return publish_loads(spec.source_id, list(results))

        publish(load_file.expand(path=list_new_files()))

    return ingest()


SPECS = load_specs()
for _spec in SPECS.values():
    globals()[f"ingest_{_spec.source_id}"] = make_ingest_dag(_spec)


@dag(
    dag_id="crosscheck",
    schedule=AssetAny(*(staging_asset(s) for s in SPECS)),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["crosscheck", "rules", "marts"],
    params={
        "as_of": Param(
            "", type="string", description="run date YYYY-MM-DD (default: the run's date)"
        ),
        "retrain_linkage": Param(
            False,
            type="boolean",
            description="train the linkage models afresh instead of reusing the stored ones",
        ),
    },
    doc_md="Cross-check every loaded source: person/household dimensions from 公安户籍, "
    "record linking, risk rules, `mart_monitoring_list`, exports for counties and "
    "feedback for departments.",
)
def crosscheck():
    @task
    def dimensions() -> dict:
        from crosscheck.tasks import build_dims

        return build_dims()

    @task
    def link(_dims: dict, params: dict | None = None) -> dict:
        from crosscheck.tasks import link_records

        return link_records(retrain=bool((params or {}).get("retrain_linkage")))

    @task
    def rules(_links: dict, params: dict | None = None) -> dict:
        from crosscheck.tasks import apply_rules

        return apply_rules(_run_date(params or {}))

    @task
    def marts_and_exports(_flags: dict, params: dict | None = None) -> dict:
        from crosscheck.tasks import build_marts

        return build_marts(_run_date(params or {}))

    marts_and_exports(rules(link(dimensions())))


crosscheck()
