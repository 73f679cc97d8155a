"""``int_`` layer: views joining each staged source to the household it was linked to.

``int_<source>_linked`` -- grain: one row per staged record of the source that is linked
to a register household: the household, the register person it was linked to (not the
key of its own, possibly mistyped, ID), how it was linked, and the staging columns. The
rules read these views; BI and analysts can too (the pipeline role owns them).

Views, not tables: nothing to refresh. They are created when missing and recreated when
their columns no longer match the spec (a field added to a source), so a new source or
field needs no migration, like staging itself.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Engine, MetaData, Table, inspect, literal, select, text
from sqlalchemy.types import Float, String, Text

from connectors.spec import SourceSpec, load_specs
from warehouse.db import ddl_transaction
from warehouse.models import RecordLink, staging_table

__all__ = ["ensure_views", "linked_view", "view_name"]

# Views live outside Base.metadata: create_all must never turn them into tables.
VIEWS = MetaData()
_LINK_COLUMNS = {
    "household_no": Text(),
    "person_key": String(32),
    "link_method": String(32),
    "match_probability": Float(),
}


def view_name(spec: SourceSpec) -> str:
    return f"int_{spec.source_id}_linked"


def _staging_columns(spec: SourceSpec) -> list[Column]:
    # The link decides household and person (the register's own 户号 column says the same).
    return [c for c in staging_table(spec).c if c.name not in _LINK_COLUMNS]


def linked_view(spec: SourceSpec) -> Table:
    """The view's columns as a Table, for typed selects (dates come back as dates)."""
    name = view_name(spec)
    if name in VIEWS.tables:
        return VIEWS.tables[name]
    columns = [Column(n, t) for n, t in _LINK_COLUMNS.items()]
    columns += [Column(c.name, c.type) for c in _staging_columns(spec)]
    return Table(name, VIEWS, *columns)


def _definition(spec: SourceSpec):
    stg = staging_table(spec)
    return (
        select(
            RecordLink.household_no,
            RecordLink.person_key,
            RecordLink.method.label("link_method"),
            RecordLink.match_probability,
            *_staging_columns(spec),
        )
        .join(
            RecordLink,
            (RecordLink.source_id == literal(spec.source_id))
            & (RecordLink.record_key == stg.c.record_key),
        )
        .where(RecordLink.household_no.is_not(None))
    )


def ensure_views(bind: Engine | Connection) -> list[str]:
    """Create missing ``int_`` views, recreate those whose columns changed; returns them.

    One transaction (``ddl_transaction``), or the caller's when given a connection."""
    changed = []
    with ddl_transaction(bind) as conn:
        inspector = inspect(conn)
        existing = set(inspector.get_view_names())
        for spec in load_specs().values():
            name = view_name(spec)
            want = [c.name for c in linked_view(spec).c]
            if name in existing:
                have = [c["name"] for c in inspector.get_columns(name)]
                if have == want:
                    continue
                conn.execute(text(f'DROP VIEW "{name}"'))
            sql = _definition(spec).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True}
            )
            conn.execute(text(f'CREATE VIEW "{name}" AS {sql}'))
            changed.append(name)
    return changed
