"""Set-based staging merge: new, corrected, identical and stale rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, select

from connectors.landing import landed_files
from connectors.spec import load_specs
from crosscheck.steps import ingest_file, open_warehouse
from tests.conftest import AS_OF, PII_KEY
from warehouse.db import UpsertCounts, connect, upsert_rows
from warehouse.models import LoadAudit, PiiIdentity, Quarantine, staging_table

RUN_DATE = dt.date.fromisoformat(AS_OF)  # the run date ingest judges IDs by

# Valid IDs (check characters computed by GB 11643).
ID_A = "36050219850307123X"
ID_B = "360502198705120028"
ID_C = "360502197001011232"
ILLNESS_HEADER = "患者姓名,证件号码,性别,年龄,病种名称,确诊日期,救治医院,报送月份"


def _illness(name: str, id_no: str, hospital: str, month: str, disease: str = "尿毒症") -> str:
    return f"{name},{id_no},男,40,{disease},2026-01-15,{hospital},{month}"


def _drop(landing, name: str, rows: list[str]) -> None:
    folder = landing / "weijian_illness"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(ILLNESS_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _ingest_new(engine, landing):
    spec = load_specs()["weijian_illness"]
    results = [ingest_file(engine, spec, f, PII_KEY, RUN_DATE) for f in landed_files(landing, spec)]
    return {r.file_name: r for r in results if r.status != "already_loaded"}


def _staged(engine) -> dict[str, tuple]:
    stg = staging_table(load_specs()["weijian_illness"])
    with engine.connect() as conn:
        rows = conn.execute(select(stg.c.name, stg.c.hospital, stg.c.report_month)).all()
    return {r.name: (r.hospital, r.report_month.strftime("%Y-%m")) for r in rows}


def test_a_late_older_file_does_not_overwrite_newer_rows(tmp_path, warehouse_url):
    landing = tmp_path / "landing"
    engine = open_warehouse(warehouse_url)
    _drop(
        landing,
        "illness_202610.csv",
        [
            _illness("张伟", ID_A, "市人民医院", "2026-10"),
            _illness("李娜", ID_B, "市人民医院", "2026-10"),
        ],
    )
    [newer] = _ingest_new(engine, landing).values()
    assert (newer.rows_loaded, newer.rows_stale) == (2, 0)

    # September's report arrives after October's: its rows describe an older state.
    _drop(
        landing,
        "illness_202609.csv",
        [
            _illness("张伟", ID_A, "县医院", "2026-09"),
            _illness("李娜", ID_B, "县医院", "2026-09"),
            _illness("王五", ID_C, "县医院", "2026-09"),  # not known yet: loads
        ],
    )
    late = _ingest_new(engine, landing)["illness_202609.csv"]
    assert (late.rows_in, late.rows_loaded, late.rows_corrected) == (3, 1, 0)
    assert (late.rows_duplicate, late.rows_stale) == (2, 2)
    assert "2 行" in late.message and "报送月份" in late.message
    assert _staged(engine) == {
        "张伟": ("市人民医院", "2026-10"),
        "李娜": ("市人民医院", "2026-10"),
        "王五": ("县医院", "2026-09"),
    }
    with engine.connect() as conn:
        audit = conn.execute(
            select(
                LoadAudit.rows_loaded,
                LoadAudit.rows_duplicate,
                LoadAudit.rows_corrected,
                LoadAudit.message,
            ).where(LoadAudit.file_name == "illness_202609.csv")
        ).one()
    assert (audit.rows_loaded, audit.rows_duplicate, audit.rows_corrected) == (1, 2, 0)
    assert audit.message == late.message  # what the department's feedback page shows

    # A newer correction still replaces; the same month re-sent unchanged is a duplicate.
    _drop(
        landing,
        "illness_202611.csv",
        [
            _illness("张伟", ID_A, "省人民医院", "2026-11"),
            _illness("李娜", ID_B, "市人民医院", "2026-10"),
        ],
    )
    latest = _ingest_new(engine, landing)["illness_202611.csv"]
    assert (latest.rows_loaded, latest.rows_corrected, latest.rows_duplicate) == (1, 1, 1)
    assert (latest.rows_stale, latest.message) == (0, "")
    assert _staged(engine)["张伟"] == ("省人民医院", "2026-11")
    engine.dispose()


def test_within_a_file_the_newest_period_of_a_record_wins(tmp_path):
    landing = tmp_path / "landing"
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    _drop(
        landing,
        "illness.csv",
        [
            _illness("张伟", ID_A, "市人民医院", "2026-10"),
            _illness("张伟", ID_A, "县医院", "2026-09"),
        ],
    )
    [r] = _ingest_new(engine, landing).values()
    assert (r.rows_in, r.rows_loaded, r.rows_duplicate) == (2, 1, 1)
    assert _staged(engine) == {"张伟": ("市人民医院", "2026-10")}
    engine.dispose()


def test_a_failure_after_the_copy_leaves_staging_and_audit_unchanged(
    tmp_path, warehouse_url, monkeypatch
):
    import warehouse.load as ingest

    landing = tmp_path / "landing"
    engine = open_warehouse(warehouse_url)
    _drop(landing, "illness_202610.csv", [_illness("张伟", ID_A, "市人民医院", "2026-10")])
    _ingest_new(engine, landing)
    spec = load_specs()["weijian_illness"]
    stg = staging_table(spec)
    tables = (stg, LoadAudit.__table__, PiiIdentity.__table__, Quarantine.__table__)

    def snapshot():
        with engine.connect() as conn:
            return [sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables]

    before = snapshot()
    _drop(
        landing,
        "illness_202611.csv",
        [
            _illness("张伟", ID_A, "省人民医院", "2026-11"),  # a correction
            _illness("李娜", ID_B, "市人民医院", "2026-11"),  # new, with a new identity
            _illness("王五", ID_C, "市人民医院", "2026-11", disease=""),  # quarantined
        ],
    )
    real_upsert = ingest.upsert_rows
    merged = []

    def upsert_then_crash(*args, **kwargs):
        merged.append(real_upsert(*args, **kwargs))  # COPY and merge have run ...
        raise OSError("disk full")  # ... and the process dies before commit

    monkeypatch.setattr(ingest, "upsert_rows", upsert_then_crash)
    with pytest.raises(OSError, match="disk full"):
        _ingest_new(engine, landing)
    assert merged == [UpsertCounts(inserted=1, updated=1, unchanged=0, stale=0)]
    assert snapshot() == before

    # The file was never claimed: the next run loads it whole.
    monkeypatch.setattr(ingest, "upsert_rows", real_upsert)
    r = _ingest_new(engine, landing)["illness_202611.csv"]
    assert (r.rows_loaded, r.rows_corrected, r.rows_quarantined) == (2, 1, 1)
    assert _staged(engine) == {"张伟": ("省人民医院", "2026-11"), "李娜": ("市人民医院", "2026-11")}
    engine.dispose()


def _versioned(metadata: MetaData) -> Table:
    return Table(
        "t_versioned",
        metadata,
        Column("record_key", String(8), primary_key=True),
        Column("row_hash", String(8), nullable=False),
        Column("period", Date),
        Column("n", Integer),
    )


def test_upsert_rows_counts_each_kind_and_keeps_the_newer_period(warehouse_url):
    engine = connect(warehouse_url)
    table = _versioned(MetaData())
    table.create(engine)
    d = dt.date
    first = pd.DataFrame(
        {
            "record_key": ["a", "b", "c", "d", "e"],
            "row_hash": ["a1", "b1", "c1", "d1", "e1"],
            "period": [d(2026, 5, 1), d(2026, 5, 1), d(2026, 5, 1), None, d(2026, 5, 1)],
            "n": [1, 1, 1, 1, 1],
        }
    )
    with engine.begin() as conn:
        assert upsert_rows(conn, table, first, version_column="period") == UpsertCounts(5, 0, 0, 0)
    second = pd.DataFrame(
        {
            "record_key": ["a", "b", "c", "d", "e", "f"],
            "row_hash": ["a1", "b2", "c2", "d2", "e2", "f1"],
            "period": [
                d(2026, 5, 1),  # identical
                d(2026, 6, 1),  # newer: replaces
                d(2026, 4, 1),  # older: stale, ignored
                d(2026, 4, 1),  # stored has no period: replaces
                None,  # incoming has no period: replaces
                d(2026, 1, 1),  # new
            ],
            "n": [2, 2, 2, 2, 2, 2],
        }
    )
    with engine.begin() as conn:
        counts = upsert_rows(conn, table, second, version_column="period")
    assert counts == UpsertCounts(inserted=1, updated=3, unchanged=1, stale=1)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(table.c.record_key, table.c.n)).all())
    assert stored == {"a": 1, "b": 2, "c": 1, "d": 2, "e": 2, "f": 2}
    with engine.begin() as conn, pytest.raises(ValueError, match="unique"):
        upsert_rows(conn, table, pd.concat([second, second]))
    engine.dispose()


HUKOU_HEADER = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因"
)


def _hukou(landing, name: str, status: str, village: str = "塘下村", more: str = "") -> None:
    """A register snapshot of 张伟 (and ``more`` rows); the file name dates it."""
    folder = landing / "gongan_hukou"
    folder.mkdir(parents=True, exist_ok=True)
    cancel = "2026-10-20,死亡" if status == "注销" else ","
    person = f"H1,张伟,{ID_A},男,汉族,1985-03-07,户主"
    row = f"{person},新余市渝水区罗坊镇,罗坊镇,{village},{status},{cancel}"
    (folder / name).write_text(f"{HUKOU_HEADER}\n{row}\n{more}", encoding="utf-8")


def _register_status(engine) -> tuple[str, str]:
    stg = staging_table(load_specs()["gongan_hukou"])
    with engine.connect() as conn:
        [(status, period)] = conn.execute(
            select(stg.c.status, stg.c.file_period).where(stg.c.name == "张伟")
        ).all()
    return status, str(period)


def test_a_late_older_register_snapshot_never_overwrites_a_newer_one(tmp_path, warehouse_url):
    landing = tmp_path / "landing"
    engine = open_warehouse(warehouse_url)
    spec = load_specs()["gongan_hukou"]

    def ingest() -> dict:
        results = [
            ingest_file(engine, spec, f, PII_KEY, RUN_DATE) for f in landed_files(landing, spec)
        ]
        return {r.file_name: r for r in results if r.status != "already_loaded"}

    _hukou(landing, "户籍人口_202609.csv", "正常")
    ingest()
    _hukou(landing, "户籍人口_202611.csv", "注销")  # died in October, seen in November
    ingest()
    assert _register_status(engine) == ("注销", "2026-11-01")
    # The October snapshot arrives late: it still shows him alive (and the village written
    # another way). It must not resurrect him.
    _hukou(landing, "户籍人口_202610.csv", "正常", village="塘下")
    [late] = ingest().values()
    assert (late.rows_stale, late.rows_duplicate, late.rows_loaded) == (1, 1, 0)
    assert "旧快照" in late.message
    assert _register_status(engine) == ("注销", "2026-11-01")
    # An identical December snapshot confirms the row as of December; a late file dated
    # between November and December then cannot replace it either.
    li = f"H2,李娜,{ID_B},女,汉族,1987-05-12,户主,新余市分宜县杨桥镇,杨桥镇,下村,正常,,\n"
    _hukou(landing, "户籍人口_202612.csv", "注销", more=li)
    [same] = ingest().values()
    assert (same.rows_loaded, same.rows_duplicate, same.rows_stale) == (1, 1, 0)
    assert _register_status(engine) == ("注销", "2026-12-01")
    _hukou(landing, "户籍人口_20261120.csv", "正常", village="塘下村委")
    [between] = ingest().values()
    assert between.rows_stale == 1
    assert _register_status(engine) == ("注销", "2026-12-01")
    # Without the December confirmation this file would have won (11-20 > 11-01).
    engine.dispose()


def test_an_identity_keeps_its_best_status_whatever_order_files_come_in(warehouse_url):
    """A person with a 15-digit ID in one source and the 18-digit one in another: the
    restricted identity row is the same whichever source loads first (parallel loads)."""
    from matching.identity import ID_STATUS_ORDER
    from warehouse.db import connect, ensure_schema, insert_keep_best
    from warehouse.models import PiiIdentity

    old = pd.DataFrame(
        {"person_key": ["p1", "p2"], "id_number": ["A", "B"], "id_status": ["repaired_15"] * 2}
    )
    new = pd.DataFrame(
        {"person_key": ["p1", "p3"], "id_number": ["A", "C"], "id_status": ["valid", "mangled"]}
    )
    results = []
    for first, second in ((old, new), (new, old)):
        engine = connect(warehouse_url)
        ensure_schema(engine)
        with engine.begin() as conn:
            conn.execute(PiiIdentity.__table__.delete())
            for frame in (first, second):
                insert_keep_best(
                    conn, PiiIdentity.__table__, frame, column="id_status", order=ID_STATUS_ORDER
                )
            results.append(sorted(map(tuple, conn.execute(PiiIdentity.__table__.select()).all())))
        engine.dispose()
    assert (
        results[0]
        == results[1]
        == [
            ("p1", "A", "valid"),
            ("p2", "B", "repaired_15"),
            ("p3", "C", "mangled"),
        ]
    )
