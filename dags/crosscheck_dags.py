"""Airflow DAGs of the one-stop cross-check (thin TaskFlow shells over ``crosscheck.steps``).

- ``ingest_<source_id>``: one DAG per source spec, generated here. Lists the source's new
  files in the landing zone, loads each (mapped task), and updates the Asset of the
  source's staging table when anything new was loaded.
- ``crosscheck``: started by any staging Asset event, it first waits for the landing wave
  to settle (every landed file claimed, the register loaded), then runs dimensions, links,
  risk signals, cases, marts, exports and ``run_log`` for the run date in one retryable
  task calling the same ``crosscheck.steps.cross_check`` the CLI calls, under the
  warehouse's run lock (no file loads meanwhile). Further runs queued by the same wave
  find nothing new and skip.

Settings come from the environment (CROSSCHECK_LANDING_DIR, CROSSCHECK_WAREHOUSE_URL,
CROSSCHECK_PII_KEY, CROSSCHECK_REPORTS_DIR, CROSSCHECK_RULES). Nothing heavy is imported
at parse time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from airflow.sdk import (
    Asset,
    AssetAny,
    Param,
    PokeReturnValue,
    dag,
    get_current_context,
    task,
)

from connectors.spec import SourceSpec, load_specs

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=5),
}
AS_OF_PARAM = Param("", type="string", description="run date YYYY-MM-DD (default: the run's date)")


def staging_asset(source_id: str) -> Asset:
    """The Asset a source's ingest DAG updates: its staging table in the warehouse."""
    return Asset(name=f"stg_{source_id}", uri=f"crosscheck://warehouse/stg_{source_id}")


def _run_date(params: dict) -> dt.date:
    """The run date: the `as_of` param, else the run's date in the city's time zone."""
    if params.get("as_of"):
        return dt.date.fromisoformat(params["as_of"])
    from crosscheck.settings import load_settings

    run_after = get_current_context()["dag_run"].run_after
    timezone = load_settings(require_pii_key=False).timezone
    return run_after.astimezone(ZoneInfo(timezone)).date()


def make_ingest_dag(spec: SourceSpec):
    asset = staging_asset(spec.source_id)

    @dag(
        dag_id=f"ingest_{spec.source_id}",
        schedule="@hourly",  # poll the landing folder; a run with nothing new is a no-op
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        params={"as_of": AS_OF_PARAM},
        tags=["ingest", spec.department, spec.format],
        doc_md=f"Ingest **{spec.department} {spec.title}** (`{spec.source_id}`, {spec.format}, "
        f"{spec.cadence}). Updates Asset `{asset.name}`.",
    )
    def ingest():
        @task
        def list_new_files() -> list[str]:
            from crosscheck import steps
            from crosscheck.settings import load_settings

            settings = load_settings()
            with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
                files = steps.new_files(
                    engine,
                    spec,
                    settings.landing_dir,
                    now=dt.datetime.now(dt.UTC),  # the wall clock: which files are complete
                    settle_seconds=settings.settle_seconds,
                )
            return [str(f.path) for f in files]

        # One writer per staging table at a time; each mapped instance is named by its file
        # and the file's outcome (the UI shows "名单_202611.csv: rejected FILE_...").
        @task(max_active_tis_per_dagrun=1, map_index_template="{{ file_outcome }}")
        def load_file(path: str, params: dict | None = None) -> list[dict]:
            """This file, after any earlier-named new file of the source (name order)."""
            from crosscheck import steps
            from crosscheck.settings import load_settings

            context = get_current_context()
            context["file_outcome"] = Path(path).name  # until the outcome is known
            settings = load_settings()
            with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
                results = steps.ingest_through(
                    engine,
                    spec,
                    settings.landing_dir,
                    Path(path).name,
                    settings.pii_key,
                    _run_date(params or {}),
                    settings.limits,
                )
            mine = [r for r in results if r.file_name == Path(path).name]
            if mine:
                outcome = mine[0].status + (
                    f" {mine[0].reason_code}" if mine[0].reason_code else ""
                )
                context["file_outcome"] = f"{Path(path).name}: {outcome}"
            rejected = [r for r in results if r.status == "rejected"]
            if rejected:
                # Loaded and recorded (feedback goes to the department), yet the operator must
                # see it: the mapped instance fails, naming the file and the reason.
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(
                    "; ".join(f"{r.file_name}: {r.reason_code} {r.message}" for r in rejected)
                )
            return [r.as_dict() for r in results]

        @task(outlets=[asset], trigger_rule="all_done")  # a rejected file must not block the rest
        def publish(per_task: list[list[dict]]) -> dict:
            """Summarise the loads; skip (no Asset event) when nothing new reached staging."""
            from airflow.sdk.exceptions import AirflowSkipException

            # A failed instance (a rejected file) returned nothing: its rows were not loaded.
            results = [r for task_results in per_task if task_results for r in task_results]
            loaded = sum(r.get("rows_loaded", 0) for r in results)
            if loaded == 0:
                raise AirflowSkipException(f"{spec.source_id}: nothing new loaded")
            return {
                "source_id": spec.source_id,
                "files": len(results),
                "rows_loaded": loaded,
                "rows_quarantined": sum(r.get("rows_quarantined", 0) for r in results),
            }

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
        "as_of": AS_OF_PARAM,
        "retrain_linkage": Param(
            False,
            type="boolean",
            description="train the linkage models afresh instead of reusing the stored ones",
        ),
    },
    doc_md="Cross-check every loaded source once a landing wave has settled: person/household "
    "dimensions from 公安户籍, record linking, risk rules, cases, `mart_monitoring_list`, "
    "exports for counties and feedback for departments, `run_log`. One task, so a retry "
    "redoes every step it depends on; runs with nothing new since the last one skip.",
)
def crosscheck():
    @task.sensor(poke_interval=30, timeout=6 * 3600, mode="reschedule")
    def wait_for_wave() -> PokeReturnValue:
        """A landing wave has settled: every landed file claimed, the register loaded."""
        from crosscheck import steps
        from crosscheck.settings import load_settings

        settings = load_settings(require_pii_key=False)
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            waiting = steps.wave_settled(engine, settings.landing_dir)
        if waiting:
            print(f"waiting for the landing wave: {waiting}")
        return PokeReturnValue(is_done=waiting is None)

    @task
    def cross_check(params: dict | None = None) -> dict:
        """The whole cross-check of the run date, under the warehouse's run lock."""
        from airflow.sdk.exceptions import AirflowSkipException

        from crosscheck import steps
        from crosscheck.settings import load_settings

        params = params or {}
        settings = load_settings()
        as_of = _run_date(params)
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            if not steps.cross_check_due(engine, as_of) and not params.get("retrain_linkage"):
                # Asset events of one wave queue several runs; the first covered them all.
                raise AirflowSkipException(f"nothing loaded since the cross-check of {as_of}")
            summary = steps.cross_check(
                engine,
                as_of,
                settings.reports_dir,
                retrain_linkage=bool(params.get("retrain_linkage")),
                rules_file=settings.rules_file,
            )
        if not summary.ok:
            raise RuntimeError("; ".join(summary.failures))
        return {
            "as_of": summary.as_of.isoformat(),
            "households": summary.households_flagged,
            "grades": summary.grades,
            "exports": len(summary.exports),
        }

    wait_for_wave() >> cross_check()


crosscheck()
