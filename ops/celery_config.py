"""Celery settings of the local deployment: Airflow's own, plus a warm start for tasks.

Airflow forks every task from the Celery worker's process. A worker that has imported the
pipeline (pandas, SQLAlchemy, Great Expectations) and built each source's validation
Checkpoint once hands them to every task it forks, so no task pays for them again: that
cost, not the work, was most of a small load task's time (see README, Airflow).
Set by ``ops/airflow-local.sh`` as ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS``.
"""

from __future__ import annotations

import sys

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

# Airflow's settings (a worker takes this dict as its whole configuration), plus one:
CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)
# A busy worker reserves no task from Redis. Without it a worker running one county task
# took the next county off the queue too (prefetch, even at multiplier 1 and acks late)
# and ran both in turn while the other worker sat idle.
CELERY_CONFIG["worker_disable_prefetch"] = True

if any(arg == "worker" for arg in sys.argv):  # the scheduler imports this module too
    import crosscheck.steps  # noqa: F401  (the pipeline's imports)
    from connectors.spec import load_specs
    from validation.suites import checkpoint

    for _spec in load_specs().values():
        checkpoint(_spec)
