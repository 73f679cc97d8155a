"""build_facts: run every facts builder in order, planting the hardship chosen in the plan.

Order matters: deaths come first (they change who is alive), incomes last (they are
tuned against the medical, school and disaster costs built before them).
"""

from __future__ import annotations

import pandas as pd

from .city import City
from .facts import Facts, Rng
from .facts_health import assistance, illness, number_settlements, settlements
from .facts_home import disasters, housing, leads, vehicles_business_property_payroll, water
from .facts_income import incomes
from .facts_people import (
    disability,
    employment,
    enrollment,
    labour_deaths,
    outsiders,
    students,
)
from .periods import Periods
from .plan import Plan

__all__ = ["build_facts"]


def build_facts(
    city: City, plan: Plan, registry: pd.DataFrame, periods: Periods, rng: Rng
) -> Facts:
    """Build every domain's clean facts, planting the hardship chosen in `plan`."""
    f = Facts(periods=periods, registry=registry)
    labour_deaths(city, plan, periods, rng("labour"))
    f.outsiders = outsiders(city, rng("outsiders"))
    f.students = students(city, plan, registry, rng("students"), f)
    f.employment = employment(city, plan, f.students, periods, rng("employment"))
    f.assistance = assistance(city, plan, periods, rng("assistance"))
    f.settlements, f.corrections = settlements(city, plan, registry, periods, rng("medical"), f)
    f.illness = illness(city, plan, f, periods, rng("illness"))
    f.enrollment = enrollment(city, plan, registry, f.assistance, rng("enrollment"))
    f.disability = disability(city, plan, periods, rng("disability"))
    f.housing = housing(city, plan, periods, rng("housing"))
    f.water = water(city, plan, periods, rng("water"), f)
    f.events, f.disasters = disasters(city, plan, periods, rng("disaster"), f)
    vehicles_business_property_payroll(city, plan, f, periods, rng("assets"))
    leads(city, plan, f, periods, rng("leads"))
    incomes(city, plan, registry, f, periods, rng("income"))
    number_settlements(f, periods, rng("settle_times"))
    return f
