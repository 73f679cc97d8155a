"""BI marts, one module per mart, each rebuilt per run (its grain in its docstring).

- ``monitoring_list``: ``mart_monitoring_list``, one row per household on the list.
- ``source_health``: ``mart_source_health``, one row per source (freshness, overdue).
- ``match_quality``: ``mart_match_quality``, one row per source (how records linked).
- ``risk_by_region``: ``mart_risk_by_region``, one row per village and risk type.

A new mart: a model in ``warehouse.models`` (named ``mart_<entity>``, grain in its
docstring), a module here computing its rows, and a call where the run builds marts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete

from warehouse.db import bulk_insert
from warehouse.marts.match_quality import match_quality
from warehouse.marts.monitoring_list import (
    build_deidentified_list,
    build_monitoring_list,
    read_monitoring_list,
)
from warehouse.marts.risk_by_region import risk_by_region
from warehouse.marts.source_health import expected_period, source_health
from warehouse.models import MatchQuality, RiskByRegion, SourceHealth

__all__ = [
    "build_deidentified_list",
    "build_monitoring_list",
    "build_operational_marts",
    "expected_period",
    "match_quality",
    "read_monitoring_list",
    "risk_by_region",
    "source_health",
]


def build_operational_marts(engine: Engine, as_of: dt.date) -> dict[str, int]:
    """Rebuild the three operational marts (source health, match quality, risk by region:
    call it after ``build_monitoring_list``) in one transaction; returns their row counts."""
    frames = {
        SourceHealth: source_health(engine, as_of),
        MatchQuality: match_quality(engine),
        RiskByRegion: risk_by_region(engine),
    }
    with engine.begin() as conn:
        for model, frame in frames.items():
            conn.execute(delete(model))
            bulk_insert(conn, model.__table__, frame[[c.name for c in model.__table__.c]])
    return {model.__tablename__: len(frame) for model, frame in frames.items()}
