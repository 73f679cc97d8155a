"""Income risks: below the monitoring line (R-INCOME), close above it (W-NEAR-LINE), a
sharp drop (R-DROP), and rigid costs above the household's income (R-RIGID: medical,
school and disaster costs of the window against last year's net income).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.education import _school_year_overlaps
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.health import _medical_costs
from warehouse.rules.inputs import RuleInputs, _in_window, _income
from warehouse.rules.rolling import income_by_year

__all__ = ["rule_income", "rule_rigid"]


def rule_income(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """The latest income (the rolling window's where monthly wages allow: ``rolling``)
    against its year's line; a drop against the year before."""
    inc = income_by_year(inputs, rules, as_of)
    latest = inc.sort_values("year").drop_duplicates("household_no", keep="last")
    latest = latest.dropna(subset=["income_pc"])
    line = latest["year"].astype(int).map(rules.line)
    below = latest[latest["income_pc"] < line]
    bl = line[below.index]
    out = [
        _signals(
            below,
            "R-INCOME",
            below["income_pc"],
            bl,
            below["period"]
            + "人均纯收入 "
            + _fmt(below["income_pc"])
            + " 元，低于监测线 "
            + _fmt(bl)
            + " 元"
            + _noted(below),
        )
    ]
    margin = 1 + rules["near_line_margin"]
    near = latest[(latest["income_pc"] >= line) & (latest["income_pc"] < line * margin)]
    nl = line[near.index]
    out.append(
        _signals(
            near,
            "W-NEAR-LINE",
            near["income_pc"],
            nl * margin,
            near["period"]
            + "人均纯收入 "
            + _fmt(near["income_pc"])
            + " 元，距监测线 "
            + _fmt(nl)
            + " 元不足 10%"
            + _noted(near),
        )
    )
    prev = inc.assign(year=inc["year"] + 1)[["household_no", "year", "income_pc"]]
    pair = latest.merge(prev, on=["household_no", "year"], suffixes=("", "_prev"))
    drop_to = pair["income_pc_prev"] * (1 - rules["income_drop_ratio"])
    dropped = pair[(pair["income_pc"] <= drop_to) & (pair["income_pc_prev"] > 0)]
    out.append(
        _signals(
            dropped,
            "R-DROP",
            dropped["income_pc"],
            drop_to[dropped.index],
            "人均纯收入由 "
            + _fmt(dropped["income_pc_prev"])
            + " 元降至 "
            + _fmt(dropped["income_pc"])
            + " 元"
            + _noted(dropped),
        )
    )
    return out


def _noted(rows: pd.DataFrame) -> pd.Series:
    """The income's note (the wage months and source), after a '；', or nothing."""
    note = rows["note"].fillna("").astype(str)
    return note.where(note.eq(""), "；" + note)


def rule_rigid(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    months = rules["window_months"]
    medical = _medical_costs(inputs, rules, as_of).groupby("household_no")["out_of_pocket"].sum()
    school = inputs.linked("jiaoyu_students")
    # Only school years that overlap the window, like the other rigid costs.
    school = school[_school_year_overlaps(school["school_year"], rules, as_of)]
    school = school.groupby("household_no")["self_paid"].sum()
    dis = inputs.linked("yingji_disaster")
    dis = dis[_in_window(dis["occurred_on"], as_of, months)]
    disaster = dis.groupby("household_no")["direct_loss"].sum()
    spend = pd.concat(
        [medical.rename("medical"), school.rename("school"), disaster.rename("disaster")], axis=1
    ).fillna(0)
    spend["total"] = spend.sum(axis=1)
    inc = _income(inputs, rules)
    prev = inc[inc["year"] == as_of.year - 1].set_index("household_no")
    joined = prev.join(spend, how="inner")
    hit = joined[(joined["total"] > joined["income_net"]) & joined["income_net"].notna()]
    hit = hit.reset_index()
    # The national type is the cause of the largest cost (ties: medical, school, disaster).
    cause = hit[["medical", "school", "disaster"]].astype(float).idxmax(axis=1)
    risk_code = cause.map({"medical": "因病", "school": "因学", "disaster": "因自然灾害"})
    return [
        _signals(
            hit,
            "R-RIGID",
            hit["total"],
            hit["income_net"],
            "近12个月刚性支出 "
            + _fmt(hit["total"])
            + " 元（医疗 "
            + _fmt(hit["medical"])
            + "、教育 "
            + _fmt(hit["school"])
            + "、灾害 "
            + _fmt(hit["disaster"])
            + "）超过上年家庭纯收入 "
            + _fmt(hit["income_net"])
            + " 元",
            risk_code=risk_code.map(rules.risk_names),
        )
    ]
