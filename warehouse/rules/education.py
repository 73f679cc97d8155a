"""Education risk: 因学 (R-SCHOOL: a school year's self-paid cost; a compulsory-age
dropout, a gap).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.inputs import RuleInputs, _age, _latest, _who

__all__ = ["rule_school"]


def _school_year_overlaps(school_year: pd.Series, rules: RuleSet, as_of: dt.date) -> pd.Series:
    """学年 like 2025-2026 overlapping the rolling window (a school year runs 12 months)."""
    start_year = pd.to_numeric(
        school_year.astype("string").str.extract(r"(\d{4})", expand=False), errors="coerce"
    )
    start = pd.to_datetime(
        {"year": start_year, "month": rules["school"]["year_start_month"], "day": 1},
        errors="coerce",
    )
    end = start + pd.DateOffset(months=12)
    window_start = pd.Timestamp(as_of) - pd.DateOffset(months=rules["window_months"])
    return (start <= pd.Timestamp(as_of)) & (end > window_start)


def rule_school(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """因学: a student's self-paid cost in a school year (sum of its terms) at or above the
    threshold; a child of compulsory-school age whose latest status is a dropout (a gap)."""
    cfg = rules["school"]
    st = inputs.linked("jiaoyu_students")
    st = st[_school_year_overlaps(st["school_year"], rules, as_of)]
    st = st.assign(
        who=_who(st),
        term_rank=st["term"].map({t: i for i, t in enumerate(cfg["term_order"])}).fillna(-1),
    )
    # A term re-sent later replaces the earlier one.
    terms = _latest(st, ["who", "school_year", "term"], [])
    per_year = terms.groupby(["who", "school_year"])["self_paid"].transform("sum")
    terms = terms.assign(year_total=per_year)
    bills = terms[terms["year_total"] >= cfg["min_self_paid"]]
    bills = _latest(bills, ["who", "school_year"], ["self_paid"])  # largest term as evidence
    out = [
        _signals(
            bills,
            "R-SCHOOL",
            bills["year_total"],
            float(cfg["min_self_paid"]),
            bills["school_year"].astype(str)
            + "学年教育自付费用 "
            + _fmt(bills["year_total"])
            + f" 元，达到阈值 {cfg['min_self_paid']:.0f} 元",
        )
    ]
    latest = _latest(st, "who", ["school_year", "term_rank"])
    gone = latest[latest["enrolment_status"].isin(cfg["dropout_status"])]
    people = inputs.persons().drop_duplicates("person_key").set_index("person_key")
    birth = pd.Series(people["birth_date"].reindex(gone["who"]).to_numpy(), index=gone.index)
    age = _age(birth, as_of)
    low, high = cfg["compulsory_age"]
    by_age = (age >= low) & (age <= high)
    by_stage = gone["stage"].isin(cfg["compulsory_stages"])  # only when the age is unknown
    gone = gone[by_age.fillna(by_stage).astype(bool).to_numpy()]
    out.append(
        _signals(
            gone,
            "R-SCHOOL",
            None,
            None,
            "义务教育阶段学生"
            + gone["enrolment_status"].astype(str)
            + "（"
            + gone["school_year"].astype(str)
            + gone["term"].fillna("").astype(str)
            + "，"
            + gone["stage"].fillna("").astype(str)
            + "）",
            gap=bool(cfg["dropout_is_gap"]),
        )
    )
    return out
