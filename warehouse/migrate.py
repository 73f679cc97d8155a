"""Schema migrations (Alembic) for the warehouse's model tables, on SQLite and PostgreSQL.

Alembic owns the fixed model tables (``warehouse.models``). Staging tables ``stg_<source>``
are generated from the source specs and created by ``ensure_schema``, so a new source
needs no migration; call ``upgrade`` first, then ``ensure_schema``. A warehouse created
before migrations existed (by ``ensure_schema`` alone) is adopted at the baseline
revision, then upgraded.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from warehouse.db import ddl_transaction

__all__ = [
    "BASELINE",
    "current_revision",
    "head_revision",
    "include_object",
    "is_up_to_date",
    "upgrade",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# Present in every warehouse ensure_schema made before migrations existed.
_LOCK_KEY = 0x63726F7373  # "cross": an arbitrary, fixed advisory-lock key
# Created outside Alembic: by warehouse.access, and Alembic's own bookkeeping.
UNMANAGED = frozenset({"officer_county", "alembic_version"})
_BASELINE_TABLES = ("load_audit", "quarantine", "pii_identity", "mart_monitoring_list")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate filter: model tables only (staging and access tables live elsewhere)."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not (table.startswith("stg_") or table in UNMANAGED)


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the migration scripts."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The warehouse's revision (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    """Whether the warehouse is at the newest revision."""
    return current_revision(engine) == head_revision()


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    """Migrate the model tables to ``revision`` in one transaction (SQLite too: see
    ``ddl_transaction``), or in the caller's when given a connection."""
    with ddl_transaction(bind) as conn:
        if conn.dialect.name == "postgresql":
            # The CLI and Airflow workers may start together: one migrates, the rest wait
            # and then find nothing to do. Released at commit.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config = _config(conn)
        names = set(inspect(conn).get_table_names())
        if "alembic_version" not in names and all(t in names for t in _BASELINE_TABLES):
            # Made by create_all before migrations: its tables are the baseline's.
            command.stamp(config, BASELINE)
        command.upgrade(config, revision)
