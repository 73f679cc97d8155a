"""Access control on real PostgreSQL: each group role, connected as a member, sees what it may.

Group roles are cluster-wide and shared with other test databases, so tests never drop
them; the LOGIN roles made here get unique names and are dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from connectors.spec import load_specs
from crosscheck.steps import open_warehouse
from warehouse.access import AccessControlError, add_county_officer, grant_roles
from warehouse.db import connect
from warehouse.models import (
    LoadAudit,
    MonitoringEvidence,
    MonitoringList,
    MonitoringListDeidentified,
    MonitoringListHistory,
    PiiIdentity,
    Quarantine,
    staging_table,
)

pytestmark = pytest.mark.postgres

AS_OF = dt.date(2026, 11, 30)
YUSHUI, FENYI = "渝水区", "分宜县"


def _evidence_row(household_no: str, county: str, signal_no: int) -> dict:
    return {
        "household_no": household_no,
        "signal_no": signal_no,
        "county": county,
        "member_name": "张三",
        "member_id_masked": "360502********123X",
        "kind": "risk",
        "rule_id": "R-MEDICAL",
        "risk_code": "01",
        "risk_type": "因病",
        "evidence": "12个月医疗自付 25000 元",
        "source_id": "yibao_settlement",
        "department": "医疗保障局",
        "file_name": "结算明细_202611.jsonl",
        "row_number": signal_no * 10,
        "value": 25000.0,
        "threshold": 20000.0,
        "as_of": AS_OF,
    }


def _public_row(row_no: int, county: str) -> dict:
    return {
        "row_no": row_no,
        "household_masked": "360502****01",
        "county": county,
        "object_type": "边缘易致贫户",
        "risk_types": "因病",
        "grade": "red",
        "status": "lead",
        "first_flagged_at": AS_OF,
        "as_of": AS_OF,
    }


def _mart_row(household_no: str, county: str) -> dict:
    return {
        "household_no": household_no,
        "county": county,
        "head_name": "张三",
        "head_id_masked": "360502********123X",
        "object_type": "边缘易致贫户",
        "list_category": "object",
        "risk_types": "因病",
        "risk_codes": "01",
        "grade": "red",
        "asset_check": "待签署授权",
        "first_flagged_at": AS_OF,
        "evidence_count": 1,
        "status": "lead",
        "as_of": AS_OF,
    }


@pytest.fixture
def warehouse(postgres_url):
    """A warehouse with a few rows in the marts and the restricted tables, grants applied."""
    engine = open_warehouse(postgres_url)
    hukou = staging_table(load_specs()["gongan_hukou"])
    with engine.begin() as conn:
        conn.execute(
            insert(MonitoringList),
            [_mart_row("H001", YUSHUI), _mart_row("H002", YUSHUI), _mart_row("H003", FENYI)],
        )
        conn.execute(
            insert(MonitoringListHistory),
            [_mart_row("H001", YUSHUI), _mart_row("H003", FENYI)],
        )
        conn.execute(
            insert(MonitoringEvidence),
            [
                _evidence_row("H001", YUSHUI, 1),
                _evidence_row("H001", YUSHUI, 2),
                _evidence_row("H003", FENYI, 3),
            ],
        )
        conn.execute(
            insert(MonitoringListDeidentified),
            [_public_row(1, YUSHUI), _public_row(2, YUSHUI), _public_row(3, FENYI)],
        )
        conn.execute(
            insert(PiiIdentity),
            [{"person_key": "k1", "id_number": "360502199001011234", "id_status": "valid"}],
        )
        conn.execute(
            insert(hukou),
            [{"record_key": "r1", "row_hash": "h", "load_id": 1, "row_number": 2}],
        )
        conn.execute(
            insert(Quarantine),
            [
                {
                    "load_id": 1,
                    "source_id": "gongan_hukou",
                    "file_name": "f.csv",
                    "row_number": 3,
                    "reason_code": "id_invalid",
                    "reason": "身份证号无效",
                    "raw_values": "{}",
                }
            ],
        )
    grant_roles(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def logins(postgres_url):
    """Make unique LOGIN roles (``logins(group)``); drop them, and what they own, afterwards."""
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make(group: str | None = None, county: str | None = None) -> str:
        name = f"t_{group or 'nobody'}_{uuid.uuid4().hex[:10]}"
        made.append(name)
        if county is not None:
            add_county_officer(admin, name, county)
            return name
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{name}" LOGIN')
            if group:
                conn.exec_driver_sql(f'GRANT "{group}" TO "{name}"')
        return name

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                if conn.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}
                ).first():
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE usename = :r"
                        ),
                        {"r": name},
                    )
                    # Only this database holds their objects and privileges.
                    conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
                    conn.exec_driver_sql(f'DROP ROLE "{name}"')
        admin.dispose()


@contextmanager
def connected_as(postgres_url: str, role: str):
    engine = create_engine(make_url(postgres_url).set(username=role, password=None))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def admin_engine(postgres_url: str):
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _can_select(postgres_url: str, role: str, table: str) -> bool:
    with connected_as(postgres_url, role) as conn:
        try:
            conn.exec_driver_sql(f'SELECT * FROM "{table}" LIMIT 1').all()
            return True
        except ProgrammingError as exc:
            assert "permission denied" in str(exc.orig)
            return False


def _tables(engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


NAMED = {"mart_monitoring_list", "mart_monitoring_list_history", "mart_monitoring_evidence"}


def test_bi_reader_reads_aggregates_and_the_deidentified_list_only(warehouse, postgres_url, logins):
    analyst = logins("bi_reader")
    tables = _tables(warehouse)
    assert {"pii_identity", "quarantine", "dim_person", "stg_gongan_hukou"} <= set(tables)
    assert set(tables) >= NAMED
    readable = {t for t in tables if _can_select(postgres_url, analyst, t)}
    assert readable == {t for t in tables if t.startswith("mart_")} - NAMED
    assert {"mart_risk_by_region", "mart_monitoring_list_deidentified"} <= readable
    with connected_as(postgres_url, analyst) as conn:
        counties = conn.exec_driver_sql(
            "SELECT county FROM mart_monitoring_list_deidentified"
        ).scalars()
        assert sorted(counties) == [FENYI, YUSHUI, YUSHUI]  # analysts see every county
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.exec_driver_sql("DELETE FROM mart_monitoring_list_deidentified")


def test_county_officer_sees_only_their_county(warehouse, postgres_url, logins):
    officer = logins(county=YUSHUI)
    other = logins(county=FENYI)
    tables = _tables(warehouse)
    readable = {t for t in tables if _can_select(postgres_url, officer, t)}
    assert readable == NAMED | {"officer_county"}
    with connected_as(postgres_url, officer) as conn:
        rows = conn.exec_driver_sql("SELECT household_no, county FROM mart_monitoring_list")
        assert sorted(rows) == [("H001", YUSHUI), ("H002", YUSHUI)]
        past = conn.exec_driver_sql("SELECT household_no FROM mart_monitoring_list_history")
        assert list(past.scalars()) == ["H001"]  # earlier runs: their county only, too
        evidence = conn.exec_driver_sql(
            "SELECT household_no, signal_no FROM mart_monitoring_evidence ORDER BY signal_no"
        )
        assert evidence.all() == [("H001", 1), ("H001", 2)]  # the evidence: same rule
        # Their own registration only, not the other officers'.
        registry = conn.exec_driver_sql("SELECT role_name, county FROM officer_county").all()
        assert registry == [(officer, YUSHUI)]
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.exec_driver_sql("UPDATE mart_monitoring_list SET status = 'done'")
    with connected_as(postgres_url, other) as conn:
        rows = conn.exec_driver_sql("SELECT household_no FROM mart_monitoring_list").scalars()
        assert list(rows) == ["H003"]


def test_officer_without_a_county_or_as_the_group_sees_nothing(warehouse, postgres_url, logins):
    unregistered = logins("county_officer")
    with connected_as(postgres_url, unregistered) as conn:
        assert conn.exec_driver_sql("SELECT * FROM mart_monitoring_list").all() == []
    officer = logins(county=YUSHUI)
    with connected_as(postgres_url, officer) as conn:
        # Acting as the bare group role: no registered county, so no rows (fails closed).
        conn.exec_driver_sql("SET ROLE county_officer")
        assert conn.exec_driver_sql("SELECT * FROM mart_monitoring_list").all() == []


def test_an_officer_explains_a_household_of_their_county_from_the_marts_only(
    warehouse, postgres_url, logins
):
    from warehouse.explain import explain_household

    officer = logins(county=YUSHUI)
    engine = create_engine(make_url(postgres_url).set(username=officer, password=None))
    try:
        # The officer cannot read the household dimension: explain answers from the marts.
        report = explain_household(engine, "H001")
        other_county = explain_household(engine, "H003")
        not_listed = explain_household(engine, "H999")
        earlier = explain_household(engine, "H001", dt.date(2026, 10, 31))
    finally:
        engine.dispose()
    evidence = (
        "  [R-MEDICAL] 因病：12个月医疗自付 25000 元（数值 25000，阈值 20000）"
        "  — 医疗保障局 yibao_settlement/结算明细_202611.jsonl 第{}行"
    )
    assert report.splitlines() == [
        "户号 H001  渝水区    户主 张三 360502********123X",
        "截至 2026-11-30：边缘易致贫户（监测对象），red，风险类型 因病（代码 01）"
        "；资产核查：待签署授权",
        "证据涉及的家庭成员：",
        "  张三 360502********123X",
        "信号与证据：",
        evidence.format(10),
        evidence.format(20),
    ]
    assert other_county == "户号 H003：不在本县最新监测名单上（或无权查看这一户）"
    assert not_listed == "户号 H999：不在本县最新监测名单上（或无权查看这一户）"
    assert earlier.startswith("户号 H001：监测名单只有 2026-11-30 的名单与证据")
    # The pipeline reads the warehouse's own tables (no such household in its register).
    assert explain_household(warehouse, "H001") == "户号 H001：户籍中没有这一户"


def test_pipeline_reads_pii_and_writes_everything(warehouse, postgres_url, logins):
    etl = logins("pipeline")
    url = str(make_url(postgres_url).set(username=etl, password=None).render_as_string(False))
    # The pipeline's own schema step works as the pipeline (nothing to create here).
    pipeline = open_warehouse(url)
    try:
        with pipeline.begin() as conn:
            assert conn.exec_driver_sql("SELECT id_number FROM pii_identity").scalar_one()
            conn.exec_driver_sql("UPDATE pii_identity SET id_status = 'checked'")
            # A serial key: the sequence is usable.
            load_id = conn.execute(
                insert(LoadAudit).returning(LoadAudit.load_id),
                {
                    "source_id": "gongan_hukou",
                    "file_name": "f.csv",
                    "file_sha256": "0" * 64,
                    "status": "loaded",
                    "started_at": dt.datetime(2026, 11, 30),
                    "finished_at": dt.datetime(2026, 11, 30),
                },
            ).scalar_one()
            assert load_id >= 1
            # Marts are rebuilt by delete + insert, through row-level security.
            assert conn.exec_driver_sql("DELETE FROM mart_monitoring_list").rowcount == 3
            conn.execute(insert(MonitoringList), [_mart_row("H009", FENYI)])
            conn.exec_driver_sql(
                "INSERT INTO officer_county VALUES ('someone', '渝水区') "
                "ON CONFLICT (role_name) DO NOTHING"
            )
            conn.exec_driver_sql("DELETE FROM stg_gongan_hukou")
            # A new source: the pipeline may create its staging table.
            conn.exec_driver_sql("CREATE TABLE stg_new_source (record_key text PRIMARY KEY)")
    finally:
        pipeline.dispose()


def test_grants_reach_later_tables_and_rerunning_converges(warehouse, postgres_url, logins):
    etl, analyst = logins("pipeline"), logins("bi_reader")
    with warehouse.begin() as conn:
        # Tables the owner creates after grant_roles: writable by the pipeline at once ...
        conn.exec_driver_sql("CREATE TABLE stg_later (record_key text PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE mart_later (n integer)")
        # ... and a stray grant that must not survive a rerun.
        conn.exec_driver_sql("GRANT SELECT ON dim_person TO bi_reader")
    with connected_as(postgres_url, etl) as conn:
        conn.exec_driver_sql("INSERT INTO stg_later VALUES ('r1')")
        conn.commit()
    assert not _can_select(postgres_url, analyst, "mart_later")  # readers wait for a rerun
    grant_roles(warehouse)
    grant_roles(warehouse)  # idempotent
    assert _can_select(postgres_url, analyst, "mart_later")
    assert not _can_select(postgres_url, analyst, "stg_later")
    assert not _can_select(postgres_url, analyst, "dim_person")


def test_officer_login_is_refused_when_it_would_see_every_county(warehouse, logins):
    analyst = logins("bi_reader")
    with pytest.raises(AccessControlError, match="sees every county"):
        add_county_officer(warehouse, analyst, YUSHUI)
    with pytest.raises(AccessControlError, match="role name"):
        add_county_officer(warehouse, "Robert'); DROP TABLE x;--", YUSHUI)


def test_officer_password_is_stored_hashed(warehouse, postgres_url, logins):
    officer = logins(county=YUSHUI)
    add_county_officer(warehouse, officer, FENYI, password="s3cret")  # update: new county
    with warehouse.connect() as conn:
        stored = conn.execute(
            text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": officer}
        ).scalar_one()
        county = conn.execute(
            text("SELECT county FROM officer_county WHERE role_name = :r"), {"r": officer}
        ).scalar_one()
    assert stored.startswith("SCRAM-SHA-256$") and "s3cret" not in stored
    assert county == FENYI


def test_sqlite_is_refused_with_a_clear_message(tmp_path):
    engine = connect(f"sqlite:///{tmp_path / 'w.db'}")
    with pytest.raises(AccessControlError, match="access control needs PostgreSQL"):
        grant_roles(engine)
    with pytest.raises(AccessControlError, match="access control needs PostgreSQL"):
        add_county_officer(engine, "officer_a", YUSHUI)
    engine.dispose()


@pytest.mark.slow
def test_the_whole_run_works_as_the_pipeline_role(demo_city, postgres_url, logins, tmp_path):
    from crosscheck.steps import run
    from tests.conftest import PII_KEY

    admin = open_warehouse(postgres_url)  # the owner creates the schema and the grants
    grant_roles(admin)
    etl, analyst = logins("pipeline"), logins("bi_reader")
    url = make_url(postgres_url).set(username=etl, password=None).render_as_string(False)
    summary = run(demo_city["landing"], url, AS_OF, tmp_path / "reports", PII_KEY)
    assert summary.ok, summary.failures
    with admin.connect() as conn:
        per_county = dict(
            conn.exec_driver_sql(
                "SELECT county, count(*) FROM mart_monitoring_list GROUP BY county"
            ).all()
        )
    admin.dispose()
    # On the list: the flagged households, and open cases the data no longer flags.
    assert sum(per_county.values()) >= summary.households_flagged > 0
    county = max(per_county, key=per_county.get)
    officer = logins(county=county)
    with connected_as(postgres_url, officer) as conn:
        seen = conn.exec_driver_sql("SELECT county FROM mart_monitoring_list").scalars().all()
        evidence = conn.exec_driver_sql("SELECT county FROM mart_monitoring_evidence")
        evidence = evidence.scalars().all()
    assert seen and set(seen) == {county} and len(seen) == per_county[county]
    assert evidence and set(evidence) == {county}
    # crosscheck explain as that officer: the marts only, every evidence row of the
    # household, no ID number; a household of the other county is not theirs.
    from warehouse.explain import explain_household

    with connected_as(postgres_url, officer) as conn:
        household, rows = conn.exec_driver_sql(
            "SELECT household_no, count(*) FROM mart_monitoring_evidence "
            "GROUP BY household_no ORDER BY count(*) DESC, household_no LIMIT 1"
        ).one()
    with admin_engine(postgres_url) as pipeline:
        elsewhere = pipeline.execute(
            text("SELECT household_no FROM mart_monitoring_list WHERE county <> :c LIMIT 1"),
            {"c": county},
        ).scalar_one()
        # Full ID numbers (the table also keeps invalid fragments, e.g. 6 digits, that any
        # masked ID contains).
        ids = (
            pipeline.execute(
                text("SELECT id_number FROM pii_identity WHERE length(id_number) >= 15")
            )
            .scalars()
            .all()
        )
    engine = create_engine(make_url(postgres_url).set(username=officer, password=None))
    try:
        report = explain_household(engine, household)
        refused = explain_household(engine, elsewhere)
    finally:
        engine.dispose()
    assert report.startswith(f"户号 {household}  {county} ")
    assert report.count("\n  [") == rows
    assert [i for i in ids if i in report] == []
    assert refused == f"户号 {elsewhere}：不在本县最新监测名单上（或无权查看这一户）"
    with connected_as(postgres_url, analyst) as conn:
        total = conn.exec_driver_sql(
            "SELECT count(*) FROM mart_monitoring_list_deidentified"
        ).scalar_one()
    assert total == sum(per_county.values())
