"""Counties: the unit monitoring is organised by, and the partition of the cross-check.

After the city-wide steps (dimensions from the 公安 register, record linking), each county's
rules, cases, list and exports are computed apart (in parallel under Airflow): every
county step reads and replaces only the rows of its county's households. A household
without a known county (its address names none) falls in the partition ``未知``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, Select, select, true

from warehouse.models import DimHousehold

__all__ = ["UNKNOWN_COUNTY", "counties", "county_households", "in_county", "is_county"]

UNKNOWN_COUNTY = "未知"  # as the exports name it


def counties(engine: Engine) -> list[str]:
    """The register's counties in name order (``未知`` for households without one)."""
    with engine.connect() as conn:
        names = conn.execute(select(DimHousehold.county).distinct()).scalars().all()
    return sorted({name or UNKNOWN_COUNTY for name in names})


def is_county(column: ColumnElement, county: str | None) -> ColumnElement[bool]:
    """``column`` (a county name) is ``county``; NULL for the unknown county; ``None``: any
    (the whole city)."""
    if county is None:
        return true()
    return column.is_(None) if county == UNKNOWN_COUNTY else column == county


def county_households(county: str | None) -> Select:
    """The household numbers of a county (``None``: the city's), as a subquery to filter by."""
    return select(DimHousehold.household_no).where(is_county(DimHousehold.county, county))


def in_county(household_no: ColumnElement, county: str | None) -> ColumnElement[bool]:
    """A household-number column restricted to a county (``None``: the whole city)."""
    if county is None:
        return true()
    return household_no.in_(county_households(county))
