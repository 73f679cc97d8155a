"""Dimensions from the 公安 household register: persons and households.

Rebuilt wholesale each run from ``stg_gongan_hukou`` (latest row per person), in one
transaction, so a rerun on the same data writes the same rows.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, select

from connectors.spec import load_specs
from warehouse.db import bulk_insert, read_frame
from warehouse.models import DimHousehold, DimPerson, staging_table

__all__ = ["build_dimensions"]

MASTER_SOURCE = "gongan_hukou"


def build_dimensions(engine: Engine) -> dict[str, int]:
    """Replace dim_person and dim_household from the register; returns row counts."""
    stg = staging_table(load_specs()[MASTER_SOURCE])
    with engine.connect() as conn:
        people = read_frame(
            conn,
            select(
                stg.c.person_key,
                stg.c.household_no,
                stg.c.name,
                stg.c.name_norm,
                stg.c.id_masked,
                stg.c.sex,
                stg.c.birth_date,
                stg.c.relation,
                stg.c.address,
                stg.c.township,
                stg.c.village,
                stg.c.status,
                stg.c.cancel_date,
                stg.c.cancel_reason,
                stg.c.load_id,
            ).where(stg.c.person_key.is_not(None), stg.c.id_status.in_(["valid", "repaired_15"])),
        )
    # A person moved between households appears once per snapshot: the latest load wins.
    people = people.sort_values(["load_id", "household_no"]).drop_duplicates(
        "person_key", keep="last"
    )
    people["county"] = (
        people["address"].astype("string").str.extract(r"市([^市]{1,6}?[区县市])", expand=False)
    )
    persons = people.drop(columns=["address", "load_id"]).sort_values("person_key")

    active = persons[persons["status"].fillna("正常") != "注销"]
    members = active.groupby("household_no").size().rename("members")
    heads = (
        active.assign(is_head=active["relation"].eq("户主"))
        .sort_values(["household_no", "is_head", "person_key"], ascending=[True, False, True])
        .drop_duplicates("household_no")
    )
    # Households whose members all left or died keep their place from any member.
    places = persons.groupby("household_no")[["county", "township", "village"]].first()
    households = places.join(
        heads.set_index("household_no")[["person_key", "name", "id_masked"]].rename(
            columns={
                "person_key": "head_person_key",
                "name": "head_name",
                "id_masked": "head_id_masked",
            }
        )
    ).join(members)
    households["members"] = households["members"].fillna(0).astype("int64")
    households = households.reset_index().sort_values("household_no")

    with engine.begin() as conn:
        conn.execute(delete(DimPerson))
        conn.execute(delete(DimHousehold))
        bulk_insert(conn, DimPerson.__table__, persons[[c.name for c in DimPerson.__table__.c]])
        bulk_insert(
            conn, DimHousehold.__table__, households[[c.name for c in DimHousehold.__table__.c]]
        )
    return {"persons": len(persons), "households": len(households)}
