"""The Airflow DAG of the one-stop cross-check: a thin TaskFlow shell over ``crosscheck.steps``.

``crosscheck`` runs continuously, one landing wave per run:

1. ``landing_wave`` (a sensor, reschedule mode: no worker slot while it waits) waits until
   the landing zone holds complete new files, or loads are waiting for a cross-check.
2. ``load_source`` is mapped over the sources with new files, in parallel across sources
   (one writer per staging table: a source's files load in name order inside its task,
   as the CLI loads them). Each instance is named by its files and their outcome; a
   rejected file fails its instance, naming the file and the reason, and nothing else.
3. ``link`` runs once the wave's loads are done: dimensions and record links for the city
   (``crosscheck.steps.link_city``, under the warehouse's run lock). It skips when files
   landed meanwhile (the next run loads them and cross-checks) or the register is not
   loaded, and returns the register's counties.
4. ``check_county`` is mapped over the counties, in parallel across workers: each
   county's rules, cases, list and exports (``steps.check_county``), named by the county
   and its counts. A county that fails fails alone: the others' lists are written.
5. ``publish`` closes the run (``steps.publish``): marts over every county, history,
   warehouse checks, the city's exports, department feedback and ``run_log``; it fails,
   naming them, if a county did not finish.

The CLI's ``crosscheck run`` calls the same three stages in order, so both give the same
warehouse.

So a wave gives one cross-check, never one per source and never on half a landing; the
next run starts as soon as this one ends and waits for the next wave. Tasks never migrate
the warehouse: ``crosscheck db upgrade`` is the deploy step.

Settings come from the environment (CROSSCHECK_LANDING_DIR, CROSSCHECK_WAREHOUSE_URL,
CROSSCHECK_PII_KEY, CROSSCHECK_REPORTS_DIR, CROSSCHECK_RULES; CROSSCHECK_POLL_SECONDS, how
often the landing zone is looked at, default 60). Nothing heavy is imported at parse time.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

from airflow.sdk import Param, PokeReturnValue, dag, get_current_context, task

from connectors.spec import load_specs

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(minutes=5),
}
AS_OF_PARAM = Param("", type="string", description="run date YYYY-MM-DD (default: the run's date)")
# How often the waiting sensor looks at the landing zone (each look is a short task).
POLL_SECONDS = float(os.environ.get("CROSSCHECK_POLL_SECONDS", "60"))


# Airflow stores a rendered map index in a VARCHAR(250): a longer one fails the task.
MAP_INDEX_CHARS = 250


def _outcome(source_id: str, results: list) -> str:
    """A mapped load's name in the UI: the file and its outcome, or counts for many files."""

    def status(r) -> str:
        return r.status + (f" {r.reason_code}" if r.reason_code else "")

    if not results:
        text = f"{source_id}: nothing new (loaded by an earlier try)"
    elif len(results) == 1:
        text = f"{source_id}: {results[0].file_name} {status(results[0])}"
    else:
        counts: dict[str, int] = {}
        for r in results:
            counts[status(r)] = counts.get(status(r), 0) + 1
        text = f"{source_id}: {len(results)} files, " + ", ".join(
            f"{n} {what}" for what, n in sorted(counts.items())
        )
    return text if len(text) <= MAP_INDEX_CHARS else text[: MAP_INDEX_CHARS - 1] + "…"


def _run_date(params: dict) -> dt.date:
    """The run date: the `as_of` param, else the run's date in the city's time zone."""
    if params.get("as_of"):
        return dt.date.fromisoformat(params["as_of"])
    from crosscheck.settings import load_settings

    run_after = get_current_context()["dag_run"].run_after
    timezone = load_settings(require_pii_key=False).timezone
    return run_after.astimezone(ZoneInfo(timezone)).date()


@dag(
    dag_id="crosscheck",
    schedule="@continuous",  # the next run starts when this one ends, and waits for a wave
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["crosscheck", "ingest", "rules", "marts"],
    params={
        "as_of": AS_OF_PARAM,
        "retrain_linkage": Param(
            False,
            type="boolean",
            description="train the linkage models afresh instead of reusing the stored ones",
        ),
    },
    doc_md="One landing wave per run: wait for complete new files, load them (one mapped "
    "task per source, named by its files), then cross-check once: dimensions from 公安户籍 "
    "and record linking for the city, then per county (mapped, in parallel) risk rules, "
    "cases, its `mart_monitoring_list` rows and its workbook, then the city's close: "
    "marts, checks, exports, feedback for departments and `run_log`. A rejected file "
    "fails its own task only; a failed county fails its own task and the close.",
)
def crosscheck():
    @task.sensor(
        poke_interval=POLL_SECONDS,
        timeout=7 * 24 * 3600,
        mode="reschedule",
        soft_fail=True,  # a week without files ends the run skipped, not failed
    )
    def landing_wave(params: dict | None = None) -> PokeReturnValue:
        """Done when complete new files landed (returns them per source) or a cross-check
        is due for loads made since the last one."""
        from crosscheck import steps
        from crosscheck.settings import load_settings
        from warehouse.rules import load_rule_set

        settings = load_settings(require_pii_key=False)
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            batches = []
            for spec in load_specs().values():
                files = steps.new_files(
                    engine,
                    spec,
                    settings.landing_dir,
                    now=dt.datetime.now(dt.UTC),  # the wall clock: which files are complete
                    settle_seconds=settings.settle_seconds,
                )
                if files:
                    batches.append(
                        {"source_id": spec.source_id, "files": sorted(f.name for f in files)}
                    )
            due = steps.last_load_id(engine) > 0 and steps.cross_check_due(
                engine, _run_date(params or {}), load_rule_set(settings.rules_file)
            )
        return PokeReturnValue(is_done=bool(batches) or due, xcom_value=batches)

    @task(map_index_template="{{ load_outcome }}")
    def load_source(batch: dict, params: dict | None = None) -> list[dict]:
        """The source's new files up to the last one listed, in file-name order."""
        from crosscheck import steps
        from crosscheck.settings import load_settings

        context = get_current_context()
        source_id, files = batch["source_id"], batch["files"]
        context["load_outcome"] = f"{source_id}: {len(files)} files"  # until known
        settings = load_settings()
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            results = steps.ingest_through(
                engine,
                load_specs()[source_id],
                settings.landing_dir,
                files[-1],
                settings.pii_key,
                _run_date(params or {}),
                settings.limits,
            )
        context["load_outcome"] = _outcome(source_id, results)
        rejected = [r for r in results if r.status == "rejected"]
        if rejected:
            # Loaded and recorded (feedback goes to the department), yet the operator must
            # see it: the instance fails, naming the file and the reason.
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(
                "; ".join(f"{r.file_name}: {r.reason_code} {r.message}" for r in rejected)
            )
        return [r.as_dict() for r in results]

    @task(trigger_rule="all_done")  # a rejected file must not hold back the list
    def link(params: dict | None = None) -> list[str]:
        """The city-wide stage: dimensions and record links, under the run lock; returns
        the counties to check. Skips when the wave is not settled or nothing is due."""
        from airflow.sdk.exceptions import AirflowSkipException

        from crosscheck import steps
        from crosscheck.settings import load_settings
        from warehouse.rules import load_rule_set

        params = params or {}
        settings = load_settings()
        as_of = _run_date(params)
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            if waiting := steps.wave_settled(engine, settings.landing_dir):
                raise AirflowSkipException(f"{waiting}: the next run loads them, then checks")
            rules = load_rule_set(settings.rules_file)
            if not steps.cross_check_due(engine, as_of, rules) and not params.get(
                "retrain_linkage"
            ):
                raise AirflowSkipException(f"nothing loaded since the cross-check of {as_of}")
            failures = steps.link_city(
                engine, as_of, retrain_linkage=bool(params.get("retrain_linkage"))
            )
            if failures:
                raise RuntimeError("; ".join(failures))
            return steps.county_names(engine)

    @task(map_index_template="{{ county_outcome }}")
    def check_county(county: str, params: dict | None = None) -> dict:
        """One county: rules, cases, its list and its exports (counties run in parallel)."""
        from crosscheck import steps
        from crosscheck.settings import load_settings

        context = get_current_context()
        context["county_outcome"] = county
        settings = load_settings()
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            outcome = steps.check_county(
                engine,
                _run_date(params or {}),
                county,
                settings.reports_dir,
                rules_file=settings.rules_file,
            )
        context["county_outcome"] = (
            f"{county}: {outcome['households_listed']} listed, "
            f"{outcome['households_flagged']} flagged"
        )
        return {k: v for k, v in outcome.items() if k != "files"}

    # Runs once the counties are done, failed or not (a failed county must not hold back
    # the city's close); skipped with them when the cross-check was not due.
    @task(trigger_rule="none_skipped")
    def publish(params: dict | None = None) -> dict:
        """The city's close: marts, history, checks, city exports, feedback, ``run_log``."""
        from crosscheck import steps
        from crosscheck.settings import load_settings

        settings = load_settings()
        with steps.warehouse(settings.warehouse_url, deploy=False) as engine:
            summary = steps.publish(
                engine,
                _run_date(params or {}),
                settings.reports_dir,
                rules_file=settings.rules_file,
            )
        if not summary.ok:
            raise RuntimeError("; ".join(summary.failures))
        return {
            "as_of": summary.as_of.isoformat(),
            "households": summary.households_flagged,
            "grades": summary.grades,
            "counties": summary.counties,
            "exports": len(summary.exports),
        }

    counties = link()
    load_source.expand(batch=landing_wave()) >> counties
    check_county.expand(county=counties) >> publish()


crosscheck()
