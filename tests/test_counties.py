"""The cross-check partitioned by county: each county's stage writes only its own rows, a
county that does not finish holds back nobody's list, and the partition changes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from connectors.spec import load_specs
from crosscheck.settings import DEV_PII_KEY
from crosscheck.steps import (
    check_county,
    county_names,
    ingest_source,
    link_city,
    open_warehouse,
    publish,
    run,
)
from tests.conftest import AS_OF
from tests.warehouse_tables import differences, warehouse_tables
from warehouse.models import CountyRun, DimHousehold, MonitoringList, RunLog
from warehouse.partition import UNKNOWN_COUNTY

RUN_DATE = dt.date.fromisoformat(AS_OF)
COUNTIES = ["分宜县", "渝水区"]  # the demo city's, in name order


def _loaded(landing, url):
    """A warehouse with the landing loaded and linked, no county checked yet."""
    engine = open_warehouse(url)
    for spec in load_specs().values():
        ingest_source(engine, spec, landing, DEV_PII_KEY.encode(), RUN_DATE)
    assert link_city(engine, RUN_DATE) == []
    return engine


def test_a_county_that_did_not_finish_holds_back_only_itself(
    small_landing, new_warehouse, tmp_path
):
    engine = _loaded(small_landing, new_warehouse())
    try:
        assert county_names(engine) == COUNTIES
        reports = tmp_path / "reports"
        done = check_county(engine, RUN_DATE, "渝水区", reports)
        # 分宜县's task "failed": it never finished. The city's close runs all the same.
        summary = publish(engine, RUN_DATE, reports)
        assert summary.failures == ["county 分宜县: list not rebuilt (its step failed)"]
        assert list(summary.counties) == ["渝水区"]
        assert summary.counties["渝水区"]["listed"] == done["households_listed"] > 0
        # 渝水区's list is there for its officers; the city-wide files (which would mix
        # 分宜县's old rows with new ones) wait for 分宜县.
        day = f"{RUN_DATE:%Y%m%d}"
        assert (reports / "counties" / "渝水区" / f"monitoring_list_{day}.xlsx").exists()
        assert not (reports / "counties" / "分宜县").exists()
        assert not (reports / f"monitoring_list_{day}.csv").exists()
        with engine.connect() as conn:
            listed = dict(
                conn.execute(
                    select(MonitoringList.county, func.count()).group_by(MonitoringList.county)
                ).all()
            )
            logged = conn.execute(select(RunLog.as_of)).scalars().all()
        assert set(listed) == {"渝水区"} and listed["渝水区"] == done["households_listed"]
        assert logged == [RUN_DATE]  # the run is on record, with its failure

        # 分宜县 is redone (a task retry), then the close: the whole city is published.
        check_county(engine, RUN_DATE, "分宜县", reports)
        summary = publish(engine, RUN_DATE, reports)
        assert summary.ok, summary.failures
        assert list(summary.counties) == COUNTIES
        assert (reports / "counties" / "分宜县" / f"monitoring_list_{day}.xlsx").exists()
        assert (reports / f"monitoring_list_{day}.csv").exists()
        with engine.connect() as conn:
            finished = conn.execute(select(CountyRun.county).order_by(CountyRun.county)).scalars()
            assert list(finished) == COUNTIES
    finally:
        engine.dispose()


def test_counties_in_any_order_give_the_whole_city_run(small_landing, new_warehouse, tmp_path):
    """Counties computed apart, in reverse order and one of them twice, leave the warehouse
    of a whole-city run (``crosscheck run``), table by table."""
    city_url = new_warehouse()
    assert run(small_landing, city_url, RUN_DATE, tmp_path / "city", DEV_PII_KEY.encode()).ok

    url = new_warehouse()
    engine = _loaded(small_landing, url)
    try:
        reports = tmp_path / "apart"
        for county in [*reversed(county_names(engine)), COUNTIES[0]]:
            check_county(engine, RUN_DATE, county, reports)
        assert publish(engine, RUN_DATE, reports).ok
    finally:
        engine.dispose()
    assert differences(warehouse_tables(url), warehouse_tables(city_url)) == {}
    files = sorted(p.relative_to(reports) for p in reports.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(tmp_path / "city") for p in (tmp_path / "city").rglob("*") if p.is_file()
    )


def test_households_without_a_county_are_a_partition_of_their_own(warehouse_url):
    engine = open_warehouse(warehouse_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                DimHousehold.__table__.insert(),
                [
                    {"household_no": "h1", "county": "渝水区", "members": 1},
                    {"household_no": "h2", "county": None, "members": 1},
                ],
            )
        assert county_names(engine) == [UNKNOWN_COUNTY, "渝水区"]
    finally:
        engine.dispose()
