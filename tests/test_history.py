"""History: persons, households and flags keep validity intervals; every run's list is kept.

Two monthly runs on a tiny register: between them a working-age member dies, a baby is
born, one house is repaired and another found unsafe. Runs on SQLite and real PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select, text

from crosscheck.steps import open_warehouse, run
from tests.conftest import PII_KEY
from tests.test_exports import _housing
from warehouse.db import read_frame
from warehouse.history import flagged_on, monitoring_list_on
from warehouse.models import DimPersonHistory, MonitoringList

NOV, DEC = dt.date(2026, 11, 30), dt.date(2026, 12, 31)
HEADER = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因\n"
)
YUSHUI = "江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村"
FENYI = "江西省新余市分宜县杨桥镇下村,杨桥镇,下村"


def _person(household, name, id_number, sex, born, relation, place, state="正常,,"):
    return f"{household},{name},{id_number},{sex},汉族,{born},{relation},{place},{state}\n"


ZHANG = _person("H1", "张伟", "36050219850307123X", "男", "1985-03-07", "户主", YUSHUI)
WANG_ALIVE = _person("H1", "王芳", "36050219860202122X", "女", "1986-02-02", "配偶", YUSHUI)
WANG_DEAD = _person(
    "H1", "王芳", "36050219860202122X", "女", "1986-02-02", "配偶", YUSHUI, "注销,2026-12-10,死亡"
)
LI = _person("H2", "李娜", "360502198705120028", "女", "1987-05-12", "户主", FENYI)
BABY = _person("H2", "李小宝", "360521202612010012", "男", "2026-12-01", "子", FENYI)


def _tables(url) -> dict[str, list]:
    engine = open_warehouse(url)
    with engine.connect() as conn:
        out = {
            t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}")).all()), key=str)
            for t in (
                "dim_person_history",
                "dim_household_history",
                "household_flag_history",
                "mart_monitoring_list_history",
            )
        }
    engine.dispose()
    return out


def test_history_answers_who_was_flagged_and_where_people_were_on_any_date(tmp_path, warehouse_url):
    landing, reports = tmp_path / "landing", tmp_path / "reports"
    (landing / "gongan_hukou").mkdir(parents=True)
    (landing / "zhujian_housing").mkdir()
    (landing / "gongan_hukou" / "hukou_202611.csv").write_text(
        HEADER + ZHANG + WANG_ALIVE + LI, encoding="utf-8"
    )
    zhang = ["渝水区", "罗坊镇", "塘下村", "张伟", "36050219850307123X", "砖木", "1990"]
    li = ["分宜县", "杨桥镇", "下村", "李娜", "360502198705120028", "土木", "1980"]
    _housing(landing / "zhujian_housing" / "a.xlsx", [[*zhang, "D", "2026-05-01", "是"]])
    assert run(landing, warehouse_url, NOV, reports, PII_KEY).ok
    engine = open_warehouse(warehouse_url)
    with engine.connect() as conn:
        november_list = read_frame(conn, select(MonitoringList))

    # December: 王芳 died, a baby was born to 李娜; 张伟's house repaired, 李娜's unsafe.
    (landing / "gongan_hukou" / "hukou_202612.csv").write_text(
        HEADER + ZHANG + WANG_DEAD + LI + BABY, encoding="utf-8"
    )
    _housing(
        landing / "zhujian_housing" / "b.xlsx",
        [[*zhang, "B", "2026-12-20", "否"], [*li, "C", "2026-12-20", "是"]],
    )
    assert run(landing, warehouse_url, DEC, reports, PII_KEY).ok

    # Who was flagged on a given date: the run in force then decides.
    assert flagged_on(engine, dt.date(2026, 11, 1)).empty
    december = flagged_on(engine, dt.date(2026, 12, 15))
    assert dict(zip(december["household_no"], december["risk_types"], strict=True)) == {
        "H1": "住房安全"
    }
    # January: 张伟's house is safe, but 王芳's death left H1 short of labour.
    january = flagged_on(engine, dt.date(2027, 1, 5))
    assert dict(zip(january["household_no"], january["risk_types"], strict=True)) == {
        "H1": "缺劳动力",
        "H2": "住房安全",
    }

    # The November list is reproduced exactly, though the mart now shows December's.
    past = monitoring_list_on(engine, dt.date(2026, 12, 15))
    cols = list(november_list.columns)
    pd.testing.assert_frame_equal(
        past[cols].reset_index(drop=True),
        november_list[cols].sort_values("household_no").reset_index(drop=True),
        check_dtype=False,
    )
    assert monitoring_list_on(engine, DEC)["household_no"].tolist() == ["H1", "H2"]

    # A person's states as intervals: alive until the December run saw the death.
    with engine.connect() as conn:
        states = read_frame(
            conn,
            select(DimPersonHistory)
            .where(DimPersonHistory.household_no == "H1")
            .order_by(DimPersonHistory.person_key, DimPersonHistory.valid_from),
        )
        households = dict(
            conn.execute(
                text(
                    "SELECT household_no, members FROM dim_household_history "
                    "WHERE valid_from <= :d AND (valid_to IS NULL OR valid_to > :d)"
                ),
                {"d": NOV},
            ).all()
        )
    wang = states[states["status"].eq("注销") | states["valid_to"].notna()]
    assert [str(d) for d in wang["valid_from"]] == ["2026-11-30", "2026-12-31"]
    assert str(wang["valid_to"].iloc[0]) == "2026-12-31" and wang["valid_to"].iloc[1] is None
    assert wang["status"].tolist() == ["正常", "注销"]
    assert households == {"H1": 2, "H2": 1}  # as of November: before the death and the birth
    engine.dispose()

    # Rerunning December, or running an older date afterwards, leaves history as it is.
    before = _tables(warehouse_url)
    assert run(landing, warehouse_url, DEC, reports, PII_KEY).ok
    assert _tables(warehouse_url) == before
    assert run(landing, warehouse_url, dt.date(2026, 12, 15), reports, PII_KEY).ok
    assert _tables(warehouse_url) == before


def test_a_wrong_future_run_date_is_removed_and_history_moves_on(tmp_path, warehouse_url):
    """One typo'd run date must not freeze history: `crosscheck history forget` undoes it."""
    from tests.warehouse_tables import warehouse_tables
    from warehouse.db import WarehouseError
    from warehouse.history import forget_run_date

    landing, reports = tmp_path / "landing", tmp_path / "reports"
    (landing / "gongan_hukou").mkdir(parents=True)
    (landing / "zhujian_housing").mkdir()
    (landing / "gongan_hukou" / "hukou_202611.csv").write_text(
        HEADER + ZHANG + WANG_ALIVE + LI, encoding="utf-8"
    )
    zhang = ["渝水区", "罗坊镇", "塘下村", "张伟", "36050219850307123X", "砖木", "1990"]
    _housing(landing / "zhujian_housing" / "a.xlsx", [[*zhang, "D", "2026-05-01", "是"]])
    assert run(landing, warehouse_url, NOV, reports, PII_KEY).ok
    dated = (
        "dim_person_history",
        "dim_household_history",
        "household_flag_history",
        "mart_monitoring_list_history",
        "household_flag",
        "household_case",
        "risk_signal",
        "dq_check_result",
        "run_log",
    )
    after_november = {t: rows for t, rows in warehouse_tables(warehouse_url).items() if t in dated}

    wrong = dt.date(2030, 1, 1)
    assert run(landing, warehouse_url, wrong, reports, PII_KEY).ok
    engine = open_warehouse(warehouse_url)
    assert flagged_on(engine, dt.date(2030, 6, 1))["household_no"].tolist() == ["H1"]
    with pytest.raises(WarehouseError, match="only the newest run date can be removed: 2030-01-01"):
        forget_run_date(engine, NOV)
    removed = forget_run_date(engine, wrong)
    assert removed["run_log"] == 1 and removed["mart_monitoring_list_history"] == 1
    now = warehouse_tables(warehouse_url)
    assert {t: now[t] for t in dated} == after_november
    assert now["mart_monitoring_list"] == []  # no list under the wrong date until a rerun

    # History takes the right date again (it would have been refused before).
    (landing / "gongan_hukou" / "hukou_202612.csv").write_text(
        HEADER + ZHANG + WANG_DEAD + LI + BABY, encoding="utf-8"
    )
    assert run(landing, warehouse_url, DEC, reports, PII_KEY).ok
    january = flagged_on(engine, dt.date(2027, 1, 5))
    assert january["household_no"].tolist() == ["H1"]
    assert "缺劳动力" in january["risk_types"].iloc[0]
    engine.dispose()
