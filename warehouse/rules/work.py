"""Work and labour risks: 务工就业不稳 (R-WORK: newly unemployed, a wage cut, nobody of
working age at work) and 缺劳动力 (R-LABOUR: a working-age death, no member of working age).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.inputs import (
    RuleInputs,
    _age,
    _in_window,
    _latest,
    _living,
    _months_back,
    _who,
    _working_age,
)

__all__ = ["rule_labour", "rule_work"]


def rule_work(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """务工就业不稳: newly registered unemployed; recent wage below a share of the months
    before; working-age members but none employed in their latest month."""
    cfg = rules["work"]
    recent, baseline = cfg["recent_months"], cfg["baseline_months"]
    emp = inputs.linked("renshe_employment")
    emp = emp.assign(who=_who(emp), back=_months_back(emp["month"], as_of))
    emp = emp[(emp["back"] >= 0) & (emp["back"] < recent + baseline)]
    emp = _latest(emp, ["who", "month"], [])  # a month re-sent later replaces the earlier
    emp = emp.sort_values(["who", "month"], kind="stable")
    unemployed = emp["employment_status"].isin(cfg["unemployed_status"])
    employed = emp["employment_status"].isin(cfg["employed_status"])

    # Newly unemployed: still unemployed in the latest month, and registered within the
    # recent months (by 失业登记日期, or the status turning to 登记失业 in them).
    spell = (unemployed != unemployed.groupby(emp["who"]).shift()).groupby(emp["who"]).cumsum()
    emp = emp.assign(spell=spell, unemployed=unemployed)
    first = emp.groupby("who")["spell"].transform("min")
    spell_start = emp.groupby(["who", "spell"])["back"].transform("max")
    latest = emp.drop_duplicates("who", keep="last")
    recent_start = pd.Timestamp(as_of).to_period("M").start_time - pd.DateOffset(months=recent - 1)
    registered = (latest["unemployed_since"] >= recent_start) & (
        latest["unemployed_since"] <= pd.Timestamp(as_of)
    )
    turned = (spell_start[latest.index] < recent) & (latest["spell"] > first[latest.index])
    new = latest[latest["unemployed"] & (registered | turned)]
    out = [
        _signals(
            new,
            "R-WORK",
            None,
            None,
            "成员新登记失业（失业登记日期 "
            + new["unemployed_since"].dt.strftime("%Y-%m-%d").fillna("不详")
            + "）",
            event_date=new["unemployed_since"].fillna(new["month"]),
        )
    ]

    # Wage cut: a blank wage counts as nothing earned unless the member was working.
    wage = emp["monthly_wage"].where(employed, emp["monthly_wage"].fillna(0))
    is_recent = emp["back"] < recent
    before = wage.where(~is_recent).groupby(emp["who"]).mean()
    now = wage.where(is_recent).groupby(emp["who"]).mean()
    ratio = cfg["wage_drop_ratio"]
    cut = (before > 0) & (now < ratio * before)
    cut = cut[cut].index.difference(new["who"])
    rows = latest[latest["who"].isin(cut)]
    b, n = rows["who"].map(before), rows["who"].map(now)
    out.append(
        _signals(
            rows,
            "R-WORK",
            n,
            b * ratio,
            "近"
            + str(recent)
            + "个月平均工资 "
            + _fmt(n)
            + " 元，低于此前"
            + str(baseline)
            + "个月平均 "
            + _fmt(b)
            + f" 元的 {ratio:.0%}",
            event_date=rows["month"],
        )
    )

    # Working-age members, none employed in their latest month within the recent months.
    # Without any 人社 record in those months nobody can be seen working: no signal then,
    # rather than every household of the register.
    last = emp[emp["back"] < recent].drop_duplicates("who", keep="last")
    if last.empty:
        return out
    people = inputs.persons()
    members = people[_living(people) & _working_age(_age(people["birth_date"], as_of), rules)]
    working = set(last.loc[last["employment_status"].isin(cfg["employed_status"]), "who"])
    members = members.assign(working=members["person_key"].isin(working))
    per_hh = members.groupby("household_no")["working"].agg(["any", "size"])
    idle = per_hh[~per_hh["any"]]
    rows = _latest(members[members["household_no"].isin(idle.index)], "household_no", [])
    size = rows["household_no"].map(idle["size"]).astype(int)
    out.append(
        _signals(
            rows,
            "R-WORK",
            size.astype(float),
            None,
            "劳动年龄成员 "
            + size.astype(str)
            + " 人，近"
            + str(recent)
            + "个月最新就业状态均非在业",
        )
    )
    return out


def rule_labour(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """缺劳动力: a working-age member died within the window; or living members, none of
    working age."""
    people = inputs.persons()
    dead = people[
        people["cancel_reason"].isin(rules["labour"]["death_reasons"])
        & _in_window(people["cancel_date"], as_of, rules["window_months"])
    ]
    dead = dead[_working_age(_age(dead["birth_date"], dead["cancel_date"]), rules)]
    out = [
        _signals(
            dead,
            "R-LABOUR",
            None,
            None,
            "劳动年龄成员死亡（" + dead["relation"].fillna("成员").astype(str) + "）",
            event_date=dead["cancel_date"],
        )
    ]
    living = people[_living(people)]
    wa = _working_age(_age(living["birth_date"], as_of), rules)
    known = living["birth_date"].notna().groupby(living["household_no"]).all()
    has_wa = wa.groupby(living["household_no"]).any()
    none = has_wa[~has_wa & known].index
    rows = living[living["household_no"].isin(none)]
    rows = _latest(rows.assign(head=rows["relation"].eq("户主")), "household_no", ["head"])
    low, high = rules["working_age"]
    size = rows["household_no"].map(living.groupby("household_no").size())
    out.append(
        _signals(
            rows,
            "R-LABOUR",
            None,
            None,
            "在册成员 "
            + size.astype(str)
            + " 人，无 "
            + str(low)
            + "-"
            + str(high)
            + " 岁劳动年龄成员",
        )
    )
    return out
