"""Alembic migrations build the model tables exactly, on SQLite and real PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from warehouse.db import connect, ensure_schema
from warehouse.migrate import (
    BASELINE,
    current_revision,
    head_revision,
    include_object,
    is_up_to_date,
    upgrade,
)
from warehouse.models import Base


def _model_tables() -> list:
    # Base.metadata also holds the staging tables once ensure_schema ran in this process.
    return [t for t in Base.metadata.sorted_tables if not t.name.startswith("stg_")]


def _schema(engine) -> dict:
    """Per table: columns (name, nullable), primary key, indexes, unique constraints."""
    insp = inspect(engine)
    out = {}
    for name in sorted(insp.get_table_names()):
        out[name] = {
            "columns": [(c["name"], c["nullable"]) for c in insp.get_columns(name)],
            "pk": insp.get_pk_constraint(name)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in insp.get_indexes(name)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
        }
    return out


def _diff(engine) -> list:
    """What autogenerate would change to match the models (empty: identical)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        return compare_metadata(ctx, Base.metadata)


def test_upgrade_builds_the_models_and_reruns_as_a_no_op(warehouse_url):
    engine = connect(warehouse_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert is_up_to_date(engine)

    schema = _schema(engine)
    models = {t.name: t for t in _model_tables()}
    assert set(schema) == set(models) | {"alembic_version"}
    for name, table in models.items():
        assert [c for c, _ in schema[name]["columns"]] == [c.name for c in table.columns], name
        assert schema[name]["pk"] == [c.name for c in table.primary_key.columns], name
        nullable = {c.name: c.nullable for c in table.columns}
        assert dict(schema[name]["columns"]) == nullable, name
    assert _diff(engine) == []  # types, indexes and constraints too

    upgrade(engine)  # nothing to do: same revision, same schema
    assert current_revision(engine) == head_revision()
    assert _schema(engine) == schema
    engine.dispose()


def test_staging_tables_stay_outside_migrations(warehouse_url):
    engine = connect(warehouse_url)
    upgrade(engine)
    before = set(inspect(engine).get_table_names())
    ensure_schema(engine)  # adds the staging tables from the source specs, nothing else
    added = set(inspect(engine).get_table_names()) - before
    assert added and all(name.startswith("stg_") for name in added)
    assert _diff(engine) == []  # autogenerate would not touch (or drop) them
    engine.dispose()


def test_a_warehouse_made_before_migrations_is_adopted(warehouse_url):
    engine = connect(warehouse_url)
    # The old way: create_all of the tables of that time (the baseline's), no version table.
    upgrade(engine, BASELINE)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert current_revision(engine) is None
    upgrade(engine)
    assert is_up_to_date(engine)
    assert _diff(engine) == []
    engine.dispose()
