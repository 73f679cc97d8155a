"""Alembic environment for the warehouse: model tables only, staging tables stay outside.

``stg_<source>`` tables come from the source specs (data, not code), so ``ensure_schema``
creates them and a new source never needs a migration; ``officer_county`` belongs to
``warehouse.access``. Both are left out of autogenerate so it never proposes to drop them.
Run through ``warehouse.migrate`` (it passes the connection in ``config.attributes``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from warehouse.migrate import include_object
from warehouse.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        # SQLite alters tables by copying them: batch mode makes later migrations portable.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:  # settings are read in one place (crosscheck.settings), never here
        raise SystemExit("no warehouse URL: run `crosscheck db upgrade --warehouse URL`")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; pass a connection")
run_migrations_online()
