"""``mart_monitoring_list`` -- grain: one row per household on the monitoring list at the
latest run date (flagged, or with an open case; see ``warehouse.cases``), with its case
status, decision deadline, measures and elimination check. No raw ID numbers: the head's
ID is shown masked.

Rebuilt per run from the cases, the household flags and the household dimension; the
evidence behind it (``mart_monitoring_evidence``) and the analysts' copy without names
(``mart_monitoring_list_deidentified``: same rows in the same order, 户号 masked) are
rebuilt with it.

``object_type`` is the type that stands (the county's confirmed one, else the rules'
decision table: docs/policy.md); ``list_category`` says whether the household counts as
a monitoring object, is a gap for the responsible department, needs its type decided at
the home verification, or is a lead only.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from warehouse.db import bulk_insert, read_frame
from warehouse.marts.monitoring_evidence import build_monitoring_evidence
from warehouse.models import (
    DimHousehold,
    HouseholdCase,
    HouseholdFlag,
    MonitoringList,
    MonitoringListDeidentified,
)
from warehouse.partition import in_county, is_county

__all__ = ["build_monitoring_list", "mask_household_no", "read_monitoring_list"]


def mask_household_no(numbers: pd.Series) -> pd.Series:
    """户号 for analysts: the first 6 characters (the county's code) and the last 2, the rest
    starred ('360502****82'); numbers of 8 characters or fewer are starred whole."""
    text = numbers.astype(str)
    length = text.str.len()
    keep = length > 8
    # astype(str): an empty list maps to an empty integer column otherwise.
    stars = length.sub(8).clip(lower=0).map(lambda n: "*" * n).astype(str)
    masked = text.str[:6] + stars + text.str[-2:]
    return masked.where(keep, length.map(lambda n: "*" * n).astype(str))


def build_monitoring_list(engine: Engine, as_of: dt.date, county: str | None = None) -> int:
    """Replace mart_monitoring_list with the households on the list at ``as_of`` (the
    city's, or one ``county``'s rows only; then ``build_deidentified_list`` once for the city).

    On the list: the cases of ``as_of`` marked ``on_list`` (flagged and not closed by the
    county, or open: verifying, confirmed, assisting). An open case no longer flagged keeps
    its place with the risk types the county decided on, graded green (watch). Returns the
    row count.
    """
    with engine.connect() as conn:
        cases = read_frame(
            conn,
            select(HouseholdCase).where(
                HouseholdCase.as_of == as_of,
                HouseholdCase.on_list,
                in_county(HouseholdCase.household_no, county),
            ),
        )
        flags = read_frame(
            conn,
            select(HouseholdFlag).where(
                HouseholdFlag.as_of == as_of, in_county(HouseholdFlag.household_no, county)
            ),
        )
        first = read_frame(
            conn,
            select(
                HouseholdFlag.household_no,
                func.min(HouseholdFlag.as_of).label("first_flagged_at"),
            )
            .where(in_county(HouseholdFlag.household_no, county))
            .group_by(HouseholdFlag.household_no),
        )
        places = read_frame(
            conn, select(DimHousehold).where(in_county(DimHousehold.household_no, county))
        )
    mart = (
        cases.drop(columns="as_of")
        .merge(flags.drop(columns=["as_of", "object_type"]), on="household_no", how="left")
        .merge(first, on="household_no", how="left")
        .merge(places, on="household_no", how="left")
    )
    unflagged = mart["grade"].isna()
    mart.loc[unflagged, "risk_types"] = mart.loc[unflagged, "decided_risk_types"].fillna("")
    mart.loc[unflagged, "grade"] = "green"
    # A type the county confirmed makes the household a monitoring object, whatever the
    # rules would have decided.
    mart.loc[mart["object_type_source"].eq("county"), "list_category"] = "object"
    mart["list_category"] = (
        mart["list_category"]
        .fillna("object")
        .where(mart["object_type"].notna(), mart["list_category"].fillna("verify"))
    )
    mart["object_type"] = mart["object_type"].fillna("")
    mart["evidence_count"] = mart["evidence_count"].fillna(0).astype(int)
    mart["first_flagged_at"] = pd.to_datetime(mart["first_flagged_at"]).dt.date
    mart["first_flagged_at"] = mart["first_flagged_at"].fillna(mart["opened_at"])
    mart["as_of"] = as_of
    mart = mart[[c.name for c in MonitoringList.__table__.c]].sort_values("household_no")
    with engine.begin() as conn:
        conn.execute(delete(MonitoringList).where(is_county(MonitoringList.county, county)))
        bulk_insert(conn, MonitoringList.__table__, mart)
    build_monitoring_evidence(engine, as_of, county)
    if county is None:
        build_deidentified_list(engine)
    return len(mart)


def build_deidentified_list(engine: Engine) -> int:
    """Replace mart_monitoring_list_deidentified from the whole list (every county's)."""
    mart = read_monitoring_list(engine).sort_values("household_no")
    public = mart.assign(
        row_no=range(1, len(mart) + 1), household_masked=mask_household_no(mart["household_no"])
    )[[c.name for c in MonitoringListDeidentified.__table__.c]]
    with engine.begin() as conn:
        conn.execute(delete(MonitoringListDeidentified))
        bulk_insert(conn, MonitoringListDeidentified.__table__, public)
    return len(public)


def read_monitoring_list(engine: Engine, county: str | None = None) -> pd.DataFrame:
    """The list (the city's, or one ``county``'s), by place and household."""
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(MonitoringList)
            .where(is_county(MonitoringList.county, county))
            .order_by(
                MonitoringList.county,
                MonitoringList.township,
                MonitoringList.village,
                MonitoringList.household_no,
            ),
        )
