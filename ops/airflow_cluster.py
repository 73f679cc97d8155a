"""Drive a local CeleryExecutor deployment (``ops/airflow-local.sh``) from Python.

For the scheduler test and ``make bench-airflow``: start every component in a home of its
own (own metadata and warehouse databases, own Redis database, own port), unpause the DAG,
drop files, wait for the cross-check, read what the scheduler and the workers did, and
stop everything by PID. Nothing here is imported by the product.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("CROSSCHECK_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
_EXECUTING = re.compile(r"Executing workload in Celery: .*?task_id=(\w+)/map_index=(-?\d+)/")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalAirflow:
    """One deployment: ``up()``, ``unpause()``, ``wait_for_cross_check()``, ``down()``."""

    home: Path
    landing: Path
    reports: Path
    pii_key: str
    poll_seconds: float = 5.0
    redis_db: int = 6
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.airflow_db = f"crosscheck_af_{self.tag}"
        self.warehouse_db = f"crosscheck_wh_{self.tag}"
        self.api_port = _free_port()
        self.warehouse_url = f"{PG}/{self.warehouse_db}"
        self._airflow = None

    # ------------------------------------------------------------------ lifecycle
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CROSSCHECK_"))}
        env.update(
            AIRFLOW_HOME=str(self.home),
            PG=PG,
            AIRFLOW_DB=self.airflow_db,
            WAREHOUSE_DB=self.warehouse_db,
            REDIS_URL=f"redis://127.0.0.1:6379/{self.redis_db}",
            API_PORT=str(self.api_port),
            CROSSCHECK_LANDING_DIR=str(self.landing),
            CROSSCHECK_REPORTS_DIR=str(self.reports),
            CROSSCHECK_PII_KEY=self.pii_key,
            CROSSCHECK_POLL_SECONDS=str(self.poll_seconds),
        )
        return env

    def _script(self, command: str) -> str:
        result = subprocess.run(
            [str(ROOT / "ops" / "airflow-local.sh"), command],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow-local.sh {command}: {result.stderr[-3000:]}")
        return result.stdout

    def up(self, timeout: float = 180) -> None:
        """Start every component; return once the DAG is parsed (paused)."""
        self.landing.mkdir(parents=True, exist_ok=True)
        import redis

        redis.Redis(db=self.redis_db).flushdb()  # no task of an earlier deployment
        self._script("up")
        self._airflow = create_engine(f"{PG}/{self.airflow_db}")
        self.wait(
            lambda: self.scalar("SELECT count(*) FROM dag WHERE dag_id='crosscheck'"), timeout
        )

    def unpause(self) -> None:
        self._script("unpause")

    def down(self) -> None:
        """Stop every component by PID, then drop the deployment's databases."""
        try:
            self._script("down")
        finally:
            if self._airflow is not None:
                self._airflow.dispose()
            admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for db in (self.airflow_db, self.warehouse_db):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()

    # ------------------------------------------------------------------ what happened
    def scalar(self, sql: str, **params):
        with self._airflow.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list[tuple]:
        with self._airflow.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    @staticmethod
    def wait(predicate, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := predicate():
                return value
            time.sleep(every)
        raise TimeoutError(f"not done after {timeout:.0f} s")

    def sensor_waiting(self) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM task_instance WHERE task_id = 'landing_wave' "
                "AND state = 'up_for_reschedule'"
            )
        )

    def finished_cross_checks(self) -> int:
        return self.scalar(
            "SELECT count(*) FROM task_instance WHERE task_id = 'publish' "
            "AND state IN ('success', 'failed', 'upstream_failed')"
        )

    def drop(self, source: Path) -> None:
        """Copy a landing zone's files in, as departments do (one file at a time)."""
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            target = self.landing / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)

    def task_states(self) -> list[tuple[str, int, str, str | None, float | None]]:
        """(task_id, map_index, state, rendered map index, seconds) of every task instance."""
        return self.rows(
            "SELECT task_id, map_index, state, rendered_map_index, "
            "extract(epoch from (end_date - start_date))::float "
            "FROM task_instance ORDER BY start_date"
        )

    def worker_tasks(self) -> dict[str, list[tuple[str, int]]]:
        """{worker: [(task_id, map_index)]} from each Celery worker's own log."""
        out = {}
        for log in sorted((self.home / "run").glob("worker-*.log")):
            found = _EXECUTING.findall(log.read_text(encoding="utf-8", errors="replace"))
            out[log.stem] = [(task, int(index)) for task, index in found]
        return out
