"""Clean facts of the demo city: what each department would record if nobody made mistakes.

This module holds the shared types and helpers; the builders live in facts_people,
facts_health, facts_home and facts_income, and story.build_facts runs them in order.

Each builder returns plain tables keyed by person index (`pidx`, a row of
`city.persons`) or household index (`hh`). Money is kept in integer cents so sums
and thresholds are exact. Quirks are added later, when the facts are written as files.

The background is kept below every threshold of domain.md's default rules; the planted
households (plan.py) cross exactly the thresholds chosen for them, and `oracle.py`
re-checks both claims on these facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .city import City
from .periods import Periods

__all__ = [
    "EMPLOYED",
    "EMP_STATUS",
    "LINE_CUR",
    "LINE_PREV",
    "MED_TYPES",
    "NOT_WORKING",
    "REASONS",
    "UNEMPLOYED",
    "Employment",
    "Facts",
    "Rng",
    "build_registry",
    "cents",
    "days",
    "hh_sum",
    "near_miss",
]

LINE_CUR, LINE_PREV = 8000.0, 7800.0  # monitoring line (yuan per person per year)
EMP_STATUS = ("省外务工", "省内务工", "本地就业", "公益性岗位", "登记失业", "未就业")
EMPLOYED = (0, 1, 2, 3)
UNEMPLOYED, NOT_WORKING = 4, 5
MED_TYPES = ("门诊", "门特", "住院")
REASONS = (
    "因病",
    "因学",
    "因残",
    "因灾",
    "因意外事故",
    "因产业失败",
    "务工就业不稳",
    "缺劳动力",
    "其他",
)

Rng = Callable[[str], np.random.Generator]


@dataclass
class Employment:
    """Monthly employment of the people 人社 tracks: (person, month) matrices."""

    pidx: np.ndarray
    status: np.ndarray  # (n, 12) int8 index into EMP_STATUS
    wage: np.ndarray  # (n, 12) float yuan, NaN where no wage
    region: np.ndarray  # object: where they work
    unemp_date: np.ndarray  # datetime64[D], NaT unless registered unemployed


@dataclass
class Facts:
    """All clean facts; see each builder for the columns."""

    periods: Periods
    registry: pd.DataFrame
    income: pd.DataFrame = None
    students: pd.DataFrame = None
    employment: Employment = None
    settlements: pd.DataFrame = None
    corrections: pd.DataFrame = None
    enrollment: pd.DataFrame = None
    illness: pd.DataFrame = None
    disability: pd.DataFrame = None
    housing: pd.DataFrame = None
    water: pd.DataFrame = None
    events: pd.DataFrame = None
    disasters: pd.DataFrame = None
    assistance: pd.DataFrame = None
    vehicles: pd.DataFrame = None
    business: pd.DataFrame = None
    property: pd.DataFrame = None
    payroll: pd.DataFrame = None
    declarations: pd.DataFrame = None
    visits: pd.DataFrame = None
    outsiders: pd.DataFrame = None
    near_misses: list[pd.DataFrame] = field(default_factory=list)
    medical_bill_hh: np.ndarray = None  # R-MEDICAL households planted as a big bill


# ------------------------------------------------------- helpers shared by the facts_* modules


def days(a: np.ndarray | int) -> np.ndarray:
    return np.asarray(a).astype(np.int64).astype("timedelta64[D]")


def hh_sum(values: np.ndarray, hh: np.ndarray, n: int) -> np.ndarray:
    return (
        np.bincount(hh, weights=values, minlength=n).astype(np.int64)
        if len(hh)
        else (np.zeros(n, dtype=np.int64))
    )


def cents(yuan: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(yuan, dtype=np.float64) * 100).astype(np.int64)


def near_miss(hh: np.ndarray, rule: str, detail: np.ndarray | str) -> pd.DataFrame:
    return pd.DataFrame({"hh": hh, "rule_id": rule, "detail": detail})


def build_registry(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """乡村振兴 registry status per household: 脱贫户 (35%), monitored types, 户编号."""
    hh = city.hh
    n = len(hh)
    tuopin = rng.random(n) < 0.35
    mon = np.full(n, "", dtype=object)
    m1 = tuopin & (rng.random(n) < 0.04)
    mon[m1] = "脱贫不稳定户"
    m2 = ~tuopin & (rng.random(n) < 0.03)
    mon[m2] = np.where(rng.random(int(m2.sum())) < 0.65, "边缘易致贫户", "突发严重困难户")
    monitored = mon != ""
    in_reg = tuopin | monitored
    reg_type = np.where(tuopin, "脱贫户", np.where(in_reg, "一般农户", "")).astype(object)
    elim = np.where(monitored, np.where(rng.random(n) < 0.5, "已消除", "未消除"), "")
    year = np.where(tuopin, rng.integers(2014, 2021, n), 0)
    # 户编号: county + township no. + village no. + running number within the village.
    vil = hh["vil"].to_numpy()
    tw = hh["tw"].to_numpy()
    geo = city.geo
    tw_in_county = tw - np.searchsorted(geo.tw_county_code, geo.tw_county_code[tw])
    vil_in_tw = vil - geo.tw_first_village[tw]
    seq = pd.Series(vil).groupby(vil).cumcount().to_numpy() + 1
    reg_no = (
        hh["county_code"].to_numpy(dtype=object)
        + pd.Series(tw_in_county + 1).astype(str).str.zfill(3).to_numpy(dtype=object)
        + pd.Series(vil_in_tw + 1).astype(str).str.zfill(3).to_numpy(dtype=object)
        + pd.Series(seq).astype(str).str.zfill(5).to_numpy(dtype=object)
    )
    return pd.DataFrame(
        {
            "in_registry": in_reg,
            "reg_type": reg_type,
            "mon_type": mon,
            "elim": elim,
            "tuopin_year": year,
            "reg_no": reg_no,
            "registered": tuopin | monitored,
        }
    )
