"""BI marts, rebuilt per run from the household flags and dimensions.

``mart_monitoring_list`` -- grain: one row per household flagged at the latest run date.
No raw ID numbers: the head's ID is shown masked.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from warehouse.db import bulk_insert, read_frame
from warehouse.models import DimHousehold, HouseholdFlag, MonitoringList

__all__ = ["build_monitoring_list", "read_monitoring_list"]


def build_monitoring_list(engine: Engine, as_of: dt.date, decision_days: int = 15) -> int:
    """Replace mart_monitoring_list with the flags of ``as_of``; returns its row count."""
    with engine.connect() as conn:
        flags = read_frame(conn, select(HouseholdFlag).where(HouseholdFlag.as_of == as_of))
        first = read_frame(
            conn,
            select(
                HouseholdFlag.household_no,
                func.min(HouseholdFlag.as_of).label("first_flagged_at"),
            ).group_by(HouseholdFlag.household_no),
        )
        places = read_frame(conn, select(DimHousehold))
    mart = flags.merge(first, on="household_no", how="left").merge(
        places, on="household_no", how="left"
    )
    first_at = pd.to_datetime(mart["first_flagged_at"])
    lead = pd.to_datetime(mart["lead_date"]).fillna(first_at)
    mart["decision_due"] = (lead + pd.Timedelta(days=decision_days)).dt.date
    mart["first_flagged_at"] = first_at.dt.date
    mart["status"] = "lead"  # the case lifecycle is tracked from county decisions (issue 6)
    mart = mart[[c.name for c in MonitoringList.__table__.c]].sort_values("household_no")
    with engine.begin() as conn:
        conn.execute(delete(MonitoringList))
        bulk_insert(conn, MonitoringList.__table__, mart)
    return len(mart)


def read_monitoring_list(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(MonitoringList).order_by(
                MonitoringList.county,
                MonitoringList.township,
                MonitoringList.village,
                MonitoringList.household_no,
            ),
        )
