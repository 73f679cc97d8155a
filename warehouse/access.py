"""Access control on PostgreSQL: group roles, grants and row-level security for the warehouse.

Three NOLOGIN group roles; people and services log in with their own LOGIN roles made
members of one of them:

- ``pipeline``: reads and writes every table, uses the sequences, creates tables (a new
  source's ``stg_*``); the only role that reads ``pii_identity``.
- ``bi_reader``: SELECT on the aggregate marts and the de-identified list
  (``mart_monitoring_list_deidentified``), every row: every ``mart_*`` except the ones
  naming households' people (``OFFICER_MARTS``). Department analysts see aggregates of
  every county, never names (domain.md).
- ``county_officer``: SELECT on ``mart_monitoring_list``, its history
  (``mart_monitoring_list_history``) and its evidence (``mart_monitoring_evidence``) only,
  limited by row-level security to the county registered for the officer in
  ``officer_county``.

``grant_roles`` converges the database to this state and is safe to rerun (after every
deploy or migration). It runs as a superuser, or as the owner of the warehouse tables who
is also a member of ``pipeline`` (the pipeline group owns ``mart_monitoring_list``, see
``_row_level_security``), with CREATEROLE the first time, when the group roles are missing.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from warehouse.db import WarehouseError

__all__ = ["AccessControlError", "add_county_officer", "grant_roles"]

MONITORING_LIST = "mart_monitoring_list"
MONITORING_LIST_HISTORY = "mart_monitoring_list_history"
MONITORING_EVIDENCE = "mart_monitoring_evidence"
# Marts with names: county officers read them, rows of their county only; analysts never.
OFFICER_MARTS = (MONITORING_LIST, MONITORING_LIST_HISTORY, MONITORING_EVIDENCE)
OFFICER_COUNTY = "officer_county"
# Role names go into DDL (no bind parameters there): allow plain lower-case identifiers only.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AccessControlError(WarehouseError):
    """Access control cannot be set up; the message is one readable line."""


def _ident(name: str) -> str:
    if not _ROLE_NAME.match(name):
        raise AccessControlError(f"not a plain lower-case role name: {name!r}")
    return f'"{name}"'


def _quote(name: str) -> str:
    """A table or schema name as a quoted identifier (names come from the catalog)."""
    return '"' + name.replace('"', '""') + '"'


def _require_postgres(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        raise AccessControlError(
            f"access control needs PostgreSQL (this warehouse is {engine.dialect.name})"
        )


def _create_group_role(conn: Connection, role: str) -> None:
    # Group roles are cluster-wide and shared by every warehouse database on the server, so
    # two setups may race: the loser sees duplicate_object (or unique_violation on the
    # catalog index when it waited on the winner's insert). Existing roles are left as
    # they are; the check first lets a non-CREATEROLE owner rerun grant_roles.
    conn.execute(
        text(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {_ident(role)} NOLOGIN;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END $$
            """
        )
    )


def _relations(conn: Connection, schema: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "ORDER BY c.relname"
        ),
        {"schema": schema},
    )
    return [r[0] for r in rows]


def grant_roles(
    engine: Engine,
    *,
    pipeline_role: str = "pipeline",
    bi_role: str = "bi_reader",
    officer_role: str = "county_officer",
) -> None:
    """Create the group roles if missing and (re)apply grants and row-level security."""
    _require_postgres(engine)
    pipeline, bi, officer = _ident(pipeline_role), _ident(bi_role), _ident(officer_role)
    with engine.begin() as conn:
        for role in (pipeline_role, bi_role, officer_role):
            _create_group_role(conn, role)

    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        sch, db = _quote(schema), _quote(database)
        if MONITORING_LIST not in _relations(conn, schema):
            raise AccessControlError(
                f"no {MONITORING_LIST} in schema {schema}: create the warehouse schema first"
            )
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {sch}.{OFFICER_COUNTY} "
                "(role_name text PRIMARY KEY, county text NOT NULL)"
            )
        )
        relations = _relations(conn, schema)
        run = conn.exec_driver_sql

        run(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {pipeline}")  # TEMP: insert_keep_best
        run(f"GRANT CONNECT ON DATABASE {db} TO {bi}, {officer}")
        run(f"GRANT USAGE, CREATE ON SCHEMA {sch} TO {pipeline}")
        run(f"GRANT USAGE ON SCHEMA {sch} TO {bi}, {officer}")

        # Start from nothing, then grant: the result does not depend on earlier grants
        # (a table renamed away from mart_ loses its readers). One transaction, so readers
        # never see the gap.
        run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {sch} FROM PUBLIC, {bi}, {officer}")
        run(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {sch} TO {pipeline}")
        run(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {sch} TO {pipeline}")
        for name in relations:
            if name.startswith("mart_") and name not in OFFICER_MARTS:
                run(f"GRANT SELECT ON {sch}.{_quote(name)} TO {bi}")
        for mart in OFFICER_MARTS:
            run(f"GRANT SELECT ON {sch}.{mart} TO {officer}")
        run(f"GRANT SELECT ON {sch}.{OFFICER_COUNTY} TO {officer}")

        # Tables the current owner creates later (a new source's stg_*) are writable by the
        # pipeline at once. Readers get nothing by default: new marts need a rerun.
        run(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {sch} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {pipeline}"
        )
        run(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {sch} GRANT USAGE ON SEQUENCES TO {pipeline}")

        _row_level_security(conn, sch, pipeline, officer)


def _row_level_security(conn: Connection, sch: str, pipeline: str, officer: str) -> None:
    run = conn.exec_driver_sql
    registry = f"{sch}.{OFFICER_COUNTY}"
    # Policies are dropped and recreated so a changed definition always lands.
    # current_user, not session_user: it is the role the query runs as, so a pooler or BI
    # service that does SET ROLE <officer> gets that officer's county, and SET ROLE
    # county_officer (no registered county) sees nothing. Policies TO a group role apply
    # to its members; unregistered members see no rows (the subquery yields NULL).
    # The pipeline loads the marts with COPY, which PostgreSQL refuses under row-level
    # security; table owners (and members of the owning role) are exempt, so the pipeline
    # group owns these tables. Needs a superuser or a member of the pipeline role here.
    own_county = f"(SELECT oc.county FROM {registry} oc WHERE oc.role_name = current_user)"
    county_policies = [
        ("officer_own_county", f"FOR SELECT TO {officer} USING (county = {own_county})"),
        # Unused while the pipeline owns the table; kept for INSERT-based loads.
        ("pipeline_all_rows", f"FOR ALL TO {pipeline} USING (true) WITH CHECK (true)"),
    ]
    tables = []
    for mart in OFFICER_MARTS:
        run(f"ALTER TABLE {sch}.{mart} OWNER TO {pipeline}")
        # Analysts read these rows no longer (names): an earlier setup's policy goes.
        run(f"DROP POLICY IF EXISTS bi_all_rows ON {sch}.{mart}")
        tables.append((f"{sch}.{mart}", county_policies))
    for table, policies in (
        *tables,
        (
            registry,
            [
                # Officers read their own row only (the policy above needs it).
                ("officer_own_row", f"FOR SELECT TO {officer} USING (role_name = current_user)"),
                ("pipeline_all_rows", f"FOR ALL TO {pipeline} USING (true) WITH CHECK (true)"),
            ],
        ),
    ):
        run(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for name, body in policies:
            run(f"DROP POLICY IF EXISTS {name} ON {table}")
            run(f"CREATE POLICY {name} ON {table} {body}")


def _encrypted_password(conn: Connection, login_role: str, password: str) -> str:
    # Hash on the client (SCRAM via libpq) so the clear password never reaches the server
    # or its statement log.
    pgconn = conn.connection.driver_connection.pgconn
    hashed = pgconn.encrypt_password(password.encode(), login_role.encode(), b"scram-sha-256")
    return hashed.decode()


def add_county_officer(
    engine: Engine,
    login_role: str,
    county: str,
    password: str | None = None,
    *,
    officer_role: str = "county_officer",
    bi_role: str = "bi_reader",
    pipeline_role: str = "pipeline",
) -> None:
    """Create (or update) a LOGIN role in the officer group and register its county."""
    _require_postgres(engine)
    login, officer = _ident(login_role), _ident(officer_role)
    if not county:
        raise AccessControlError("an officer needs a county")
    with engine.begin() as conn:
        existing = conn.execute(
            text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :r"),
            {"r": login_role},
        ).first()
        if existing is not None:
            # Permissive policies add up: a superuser, or a member of the reader or pipeline
            # groups, would see every county.
            broad = conn.execute(
                text("SELECT pg_has_role(:r, :bi, 'MEMBER') OR pg_has_role(:r, :p, 'MEMBER')"),
                {"r": login_role, "bi": bi_role, "p": pipeline_role},
            ).scalar_one()
            if existing[0] or broad:
                raise AccessControlError(
                    f"role {login_role} sees every county (superuser, BYPASSRLS, or member of "
                    f"{bi_role}/{pipeline_role}); use a dedicated officer login"
                )
        if (
            conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": officer_role}
            ).first()
            is None
        ):
            raise AccessControlError(f"no role {officer_role}: run grant_roles first")
        verb = "ALTER" if existing is not None else "CREATE"
        options = "LOGIN"
        if password is not None:
            hashed = _encrypted_password(conn, login_role, password).replace("'", "''")
            options += f" PASSWORD '{hashed}'"
        conn.exec_driver_sql(f"{verb} ROLE {login} {options}")
        conn.exec_driver_sql(f"GRANT {officer} TO {login}")
        conn.execute(
            text(
                f"INSERT INTO {OFFICER_COUNTY} (role_name, county) VALUES (:r, :c) "
                "ON CONFLICT (role_name) DO UPDATE SET county = EXCLUDED.county"
            ),
            {"r": login_role, "c": county},
        )
