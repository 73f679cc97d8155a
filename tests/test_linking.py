"""The linker in the warehouse: exact ID, name in village, probabilistic, and the review loop."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from sqlalchemy import select, update

from crosscheck.steps import open_warehouse, run
from tests.conftest import PII_KEY
from warehouse.models import MatchReview, RecordLink

VEHICLE = "所有人,身份证明号码,号牌号码,车辆类型,初次登记日期,机动车状态"
AS_OF = dt.date(2026, 11, 30)
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _wrong_check(id18: str) -> str:
    right = "10X98765432"[sum(int(d) * w for d, w in zip(id18[:17], W, strict=True)) % 11]
    return id18[:17] + ("0" if right != "0" else "1")


@pytest.fixture
def landing(demo_city, tmp_path):
    """The demo city plus one vehicle file whose owners test each way of linking."""
    root = tmp_path / "landing"
    shutil.copytree(demo_city["landing"], root)
    persons = pd.read_csv(demo_city["truth"] / "persons.csv", dtype=str)
    active = persons[persons["status"] == "正常"]
    # Namesakes of one county: the mangled ID below keeps only the county code 360502.
    yushui = active[active["id_number"].str.startswith("360502")]
    twins = yushui.groupby("name").filter(lambda g: len(g) >= 2).sort_values(["name", "id_number"])
    single = active.groupby("name").filter(lambda g: len(g) == 1).sort_values("id_number")
    exact, typo = single.iloc[0], single.iloc[1]
    twin = twins.iloc[0]
    cars = [
        f"{exact['name']},{exact['id_number']},赣K90001,小型轿车,2020-01-01,正常",
        f"{typo['name']},{_wrong_check(typo['id_number'])},赣K90002,小型轿车,2020-01-01,正常",
        f"{twin['name']},3.60502E+17,赣K90003,小型轿车,2020-01-01,正常",
        "甄不在,360502199912120012,赣K90004,小型轿车,2020-01-01,正常",
    ]
    (root / "gongan_vehicle" / "zz_extra.csv").write_bytes(
        (VEHICLE + "\n" + "\n".join(cars) + "\n").encode("gb18030")
    )
    return {
        "root": root,
        "exact": exact,
        "typo": typo,
        "twins": twins[twins["name"] == twin["name"]],
    }


def _links(url: str) -> dict[str, tuple]:
    from connectors.spec import load_specs
    from warehouse.models import staging_table

    stg = staging_table(load_specs()["gongan_vehicle"])
    engine = open_warehouse(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(stg.c.plate_no, RecordLink.method, RecordLink.household_no).join(
                RecordLink, RecordLink.record_key == stg.c.record_key
            )
        ).all()
    engine.dispose()
    return {r.plate_no: (r.method, r.household_no) for r in rows}


def test_each_record_linked_by_the_strongest_evidence_and_the_review_loop(landing, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    run(landing["root"], url, AS_OF, tmp_path / "reports", PII_KEY)
    links = _links(url)
    assert links["赣K90001"] == ("exact_id", landing["exact"]["household_no"])
    assert links["赣K90002"] == ("probabilistic", landing["typo"]["household_no"])
    assert links["赣K90003"] == ("review", None)  # namesakes and no usable ID: a person decides
    assert links["赣K90004"] == ("unlinked", None)  # a valid ID of someone not in the register

    engine = open_warehouse(url)
    with engine.connect() as conn:
        [pending] = conn.execute(
            select(MatchReview).where(MatchReview.source_id == "gongan_vehicle")
        ).all()
    assert pending.status == "pending" and 0.3 <= pending.match_probability < 0.9
    assert pending.household_no in set(landing["twins"]["household_no"])
    with engine.begin() as conn:
        conn.execute(
            update(MatchReview)
            .where(MatchReview.record_key == pending.record_key)
            .values(status="confirmed", decided_by="county officer")
        )
    engine.dispose()

    run(landing["root"], url, AS_OF, tmp_path / "reports", PII_KEY)
    assert _links(url)["赣K90003"] == ("review_confirmed", pending.household_no)

    engine = open_warehouse(url)
    with engine.begin() as conn:
        conn.execute(
            update(MatchReview)
            .where(MatchReview.record_key == pending.record_key)
            .values(status="rejected")
        )
    engine.dispose()
    run(landing["root"], url, AS_OF, tmp_path / "reports", PII_KEY)
    _method, household = _links(url)["赣K90003"]
    assert household != pending.household_no  # a rejected pair is never linked again
