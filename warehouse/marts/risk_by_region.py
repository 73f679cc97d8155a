"""``mart_risk_by_region`` -- grain: one row per county, township, village and risk type:
the households on the monitoring list with that risk type, by grade.

Rebuilt per run from ``mart_monitoring_list`` (so after it); region ids are numbered in
key order, so a rerun writes the same rows.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from warehouse.db import read_frame
from warehouse.models import MonitoringList, RiskByRegion

__all__ = ["risk_by_region"]


def risk_by_region(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        mart = read_frame(
            conn,
            select(
                MonitoringList.county,
                MonitoringList.township,
                MonitoringList.village,
                MonitoringList.risk_types,
                MonitoringList.grade,
            ),
        )
    if mart.empty:
        return pd.DataFrame(columns=[c.name for c in RiskByRegion.__table__.c])
    mart["risk_type"] = mart["risk_types"].str.split(";")
    long = mart.explode("risk_type")
    keys = ["county", "township", "village", "risk_type"]
    out = long.groupby(keys, dropna=False).agg(
        households=("grade", "size"),
        red=("grade", lambda g: int((g == "red").sum())),
        yellow=("grade", lambda g: int((g == "yellow").sum())),
        green=("grade", lambda g: int((g == "green").sum())),
    )
    out = out.reset_index()
    out.insert(0, "region_id", range(1, len(out) + 1))  # stable ids: a rerun writes the same
    return out
