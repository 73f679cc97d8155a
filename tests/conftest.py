"""Shared fixtures: Airflow environment, warehouses on SQLite and real PostgreSQL, demo city.

Airflow reads its configuration at import, so the environment is set here, before any
test module imports it. PostgreSQL tests run against the local server in a temporary
database dropped afterwards; when CI=true they must run, never skip.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="crosscheck-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ.setdefault("CROSSCHECK_PII_KEY", "test-only-pii-key")

PG_ADMIN_URL = os.environ.get(
    "CROSSCHECK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PII_KEY = b"test-only-pii-key"
AS_OF = "2026-11-30"


def _pg_admin_engine():
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _postgres_available() -> str | None:
    from sqlalchemy import text

    try:
        engine = _pg_admin_engine()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def require_postgres() -> None:
    problem = _postgres_available()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL must be reachable in CI ({PG_ADMIN_URL}): {problem}")
    pytest.skip(f"PostgreSQL not reachable: {problem}")


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import text

    require_postgres()
    name = f"crosscheck_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path):
    """The same test on the embedded SQLite warehouse and on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory):
    """A small demo city (landing + truth), generated once per test session."""
    from crosscheck.settings import DEMO_MARKER
    from demo import generate_demo

    base = tmp_path_factory.mktemp("demo")
    landing = base / "landing"
    import datetime as dt

    summary = generate_demo(
        landing,
        households=250,
        seed=7,
        as_of=dt.date.fromisoformat(AS_OF),
        truth_dir=base / "truth",
    )
    (landing / DEMO_MARKER).write_text("test\n", encoding="utf-8")
    return {"landing": landing, "truth": base / "truth", "summary": summary}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_warehouse(request, tmp_path):
    """A factory of fresh, empty warehouses on one backend (SQLite files or PostgreSQL
    databases, all dropped afterwards): for tests that compare several runs."""
    from sqlalchemy import text

    made: list[str] = []

    def make() -> str:
        name = f"crosscheck_test_{uuid.uuid4().hex[:12]}"
        made.append(name)
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    if request.param == "postgresql":
        require_postgres()
        admin = _pg_admin_engine()
    make.backend = request.param
    try:
        yield make
    finally:
        if request.param == "postgresql":
            with admin.connect() as conn:
                for name in made:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory, demo_city):
    """The demo city's newest file of every source: every stage of a run in a few seconds,
    for tests that run the whole pipeline many times (crashes, concurrency, determinism)."""
    import shutil

    landing = tmp_path_factory.mktemp("small") / "landing"
    for source_dir in sorted(p for p in demo_city["landing"].iterdir() if p.is_dir()):
        newest = sorted(p for p in source_dir.iterdir() if p.is_file())[-1]
        (landing / source_dir.name).mkdir(parents=True)
        shutil.copy2(newest, landing / source_dir.name / newest.name)
    return landing
