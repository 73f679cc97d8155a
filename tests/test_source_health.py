"""Source freshness is judged from the periods the data covers, never from the load time."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from sqlalchemy import create_engine, text

from connectors.spec import file_period, load_specs
from crosscheck.steps import run
from tests.conftest import PII_KEY


@pytest.mark.parametrize(
    ("source_id", "name", "expected"),
    [
        ("gongan_hukou", "户籍人口_202611.csv", dt.date(2026, 11, 1)),
        ("gongan_hukou", "户籍人口_20261130.csv", dt.date(2026, 11, 30)),
        ("gongan_hukou", "户籍人口_202613.csv", None),  # a 13th month states no period
        ("gongan_hukou", "户籍人口.csv", None),
        ("xczx_registry", "监测系统户表_2026Q3.xlsx", dt.date(2026, 7, 1)),
        ("caizheng_payroll", "财政供养人员_2026Q1.xlsx", dt.date(2026, 1, 1)),
        ("zhujian_housing", "农村危房鉴定_2026.xlsx", dt.date(2026, 1, 1)),
    ],
)
def test_the_period_a_file_name_states(source_id, name, expected):
    assert file_period(load_specs()[source_id], name) == expected


def _freshness(url: str, source_id: str) -> tuple[str, str | None]:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT freshness, latest_period_loaded FROM mart_source_health "
                "WHERE source_id = :s"
            ),
            {"s": source_id},
        ).one()
    engine.dispose()
    return row[0], None if row[1] is None else str(row[1])[:10]


def test_a_snapshot_is_late_by_the_period_its_name_states_not_by_when_it_came(
    demo_city, tmp_path, warehouse_url
):
    """A property snapshot of August, dropped (and loaded) today, still leaves October's
    delivery missing on 2026-11-30; October's snapshot makes the source current."""
    source = demo_city["landing"] / "bdc_property"
    snapshot = sorted(source.iterdir())[-1]
    landing = tmp_path / "landing"
    (landing / "bdc_property").mkdir(parents=True)
    shutil.copy(snapshot, landing / "bdc_property" / "bdc_quanli_202608.csv")
    as_of = dt.date(2026, 11, 30)
    assert run(landing, warehouse_url, as_of, tmp_path / "reports", PII_KEY).ok
    assert _freshness(warehouse_url, "bdc_property") == ("overdue", "2026-08-01")

    # The same rows under October's name (identical content would be a duplicate file).
    rows = snapshot.read_bytes().rstrip(b"\n").split(b"\n")
    (landing / "bdc_property" / "bdc_quanli_202610.csv").write_bytes(
        b"\n".join([rows[0], *rows[1:][::-1]]) + b"\n"
    )
    assert run(landing, warehouse_url, as_of, tmp_path / "reports", PII_KEY).ok
    assert _freshness(warehouse_url, "bdc_property") == ("ok", "2026-10-01")
