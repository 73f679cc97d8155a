"""Income over a rolling window (domain.md: per-capita net income over a rolling 12
months): where a household's members have monthly wage rows (人社 就业失业), its wage
income is the sum of their wages over the window ending with the run month, combined with
the non-wage parts of its latest annual income row (农业农村 nync_income).

Missing months: a member's month without a row (not delivered, or the row quarantined) is
filled with that member's mean wage of its known months (the window annualised per
member); a row with a no-wage status (登记失业, 未就业) and no wage is a known month with
no wage; a row of a working status without a wage figure is not known. A member with
fewer known months than ``min_months``: the household keeps the annual wage, and the
evidence says why. Members without monthly rows add nothing: where 人社 tracks any member
of a household, its monthly rows are taken as the household's wage income. A household
without an annual row has no income figure (its position stays unknown).

The result is one income row per household for the run year (``year`` = the run date's
year, judged against that year's line), replacing an annual row of that year; rows of
earlier years stay as delivered (R-DROP compares with them, R-RIGID reads last year's).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.inputs import RuleInputs, _income, _latest, _months_back

__all__ = ["income_by_year", "rolling_wages"]


def rolling_wages(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """Per household with monthly wage rows in the window: ``wage`` (annualised sum),
    ``fallback`` (a member has too few known months: keep the annual wage) and ``note``
    (Chinese: the months and the source used)."""
    cfg = rules["rolling_income"]
    columns = ["wage", "fallback", "note"]
    if not cfg["enabled"]:
        return pd.DataFrame(columns=columns)
    months = int(cfg["months"])
    rows = inputs.linked(cfg["source"])
    rows = rows[rows["household_no"].notna() & rows["person_key"].notna()].copy()
    rows["back"] = _months_back(rows["month"], as_of)
    rows = rows[(rows["back"] >= 0) & (rows["back"] < months)]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    # One row per member and month: the latest delivered (a correction replaces).
    rows = _latest(rows, ["person_key", "back"], ["back"])
    no_wage = rows["employment_status"].isin(cfg["no_wage_status"])
    rows["known"] = rows["monthly_wage"].notna() | no_wage
    rows["amount"] = rows["monthly_wage"].fillna(0.0).where(rows["known"], 0.0)
    # Which months each member knows, as bits (month ``back`` is bit ``back``; one row per
    # member and month, so the sum is the bit set).
    rows["bit"] = np.left_shift(1, rows["back"].astype(np.int64)).where(rows["known"], 0)
    person = rows.groupby("person_key").agg(
        household_no=("household_no", "last"),
        known=("known", "sum"),
        total=("amount", "sum"),
        bits=("bit", "sum"),
    )
    person["wage"] = person["total"] * months / person["known"].where(person["known"] > 0)
    person["short"] = person["known"] < cfg["min_months"]
    house = person.groupby("household_no").agg(
        wage=("wage", "sum"),
        fallback=("short", "any"),
        members=("known", "size"),
        least=("known", "min"),
    )
    # A month is missing for the household when any member with rows lacks it.
    missing = {
        b: np.bitwise_and(person["bits"], 1 << b)
        .eq(0)
        .groupby(person["household_no"])
        .any()
        .reindex(house.index)
        for b in range(months)
    }

    end = pd.Period(as_of, freq="M")
    label = [(end - b).strftime("%Y-%m") for b in range(months)]
    window = f"{label[-1]}至{label[0]}"
    gaps = pd.Series("", index=house.index, dtype=object)
    for b in range(months - 1, -1, -1):  # oldest first
        gaps = gaps.where(~missing[b], gaps + np.where(gaps.eq(""), "", "、") + label[b])
    source = inputs.specs[cfg["source"]]
    where = f"{source.department}{source.title}月度数据"
    used = (
        "工资性收入按"
        + where
        + " "
        + window
        + " 计 "
        + house["wage"].round(0).astype("Int64").astype("string").fillna("0")
        + " 元（"
        + house["members"].astype(str)
        + "名成员"
    )
    used = used + np.where(
        gaps.eq(""),
        "，12个月齐全）".replace("12", str(months)),
        "，缺 " + gaps + " 按该成员已有月份月均补足）",
    )
    short = (
        where
        + " "
        + window
        + " 有成员已知月份仅 "
        + house["least"].astype(str)
        + " 个月（少于 "
        + str(cfg["min_months"])
        + " 个月），工资性收入仍取年度核算"
    )
    house["note"] = used.where(~house["fallback"], short)
    house.loc[house["fallback"], "wage"] = np.nan
    return house[columns]


def income_by_year(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """``_income`` (per household and year) with the run year's row from the rolling
    window where monthly wages allow it. Extra columns: ``period`` (how the evidence names
    the income's period: '2026年' or '近12个月（2025-12至2026-11）'), ``note`` (the
    wage's months and source, or why the annual wage stands; '' for a plain annual row)."""
    key = f"__income_by_year_{as_of.isoformat()}"
    cache = inputs._cache
    if key in cache:
        return cache[key]
    inc = _income(inputs, rules).copy()
    inc["period"] = inc["year"].astype("Int64").astype("string") + "年"
    inc["note"] = ""
    wages = rolling_wages(inputs, rules, as_of)
    if len(wages):
        months = int(rules["rolling_income"]["months"])
        end = pd.Period(as_of, freq="M")
        window = (
            f"近{months}个月（{(end - (months - 1)).strftime('%Y-%m')}至{end.strftime('%Y-%m')}）"
        )
        base = (
            inc[(inc["year"] <= as_of.year) & inc["income_pc"].notna()]
            .sort_values("year", kind="stable")
            .drop_duplicates("household_no", keep="last")
        )
        wages = wages.rename_axis("household_no").reset_index()
        base = base.merge(wages, on="household_no", suffixes=("", "_w"))
        rolled = base[~base["fallback"].astype(bool)].copy()
        annual_wage = rolled["income_wage"].fillna(0.0)
        members = rolled["members"].where(
            rolled["members"] > 0, rolled["income_net"] / rolled["income_pc"]
        )
        # No household size to divide by (no 家庭人口, no income to derive it from): the
        # annual row stands as delivered.
        sized = np.isfinite(members.astype(float)) & (members > 0)
        rolled, annual_wage, members = rolled[sized], annual_wage[sized], members[sized]
        change = rolled["wage"] - annual_wage
        rolled["income_net"] = rolled["income_net"] + change
        rolled["income_pc"] = rolled["income_pc"] + change / members
        rolled["income_wage"] = rolled["wage"]
        rolled["period"] = window
        rolled["note"] = (
            rolled["note_w"]
            + "，其余收入取"
            + inputs.specs["nync_income"].department
            + rolled["year"].astype(int).astype(str)
            + "年核算"
        )
        rolled["year"] = as_of.year
        kept = base[base["fallback"].astype(bool)]
        inc = inc.merge(
            kept[["household_no", "year", "note_w"]], on=["household_no", "year"], how="left"
        )
        inc["note"] = inc["note_w"].fillna(inc["note"])
        inc = inc.drop(columns="note_w")
        replaced = inc["household_no"].isin(rolled["household_no"]) & inc["year"].eq(as_of.year)
        inc = pd.concat(
            [inc[~replaced], rolled[list(inc.columns)]],
            ignore_index=True,
        )
    cache[key] = inc
    return inc
