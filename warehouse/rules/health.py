"""Health risks: 因病 (R-MEDICAL: out-of-pocket costs of the window, a serious illness),
因残 (R-DISABILITY: a new card of a severe grade), 基本医疗保障 (R-MEDINS, a gap: a
living member not enrolled).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.inputs import RuleInputs, _in_window, _latest, _living, _registered, _who

__all__ = ["rule_disability", "rule_medical", "rule_medins"]


def _medical_costs(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    setl = inputs.linked("yibao_settlement")
    setl = setl[_in_window(setl["settled_at"], as_of, rules["window_months"])]
    return setl.dropna(subset=["out_of_pocket"])


def rule_medical(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    setl = _medical_costs(inputs, rules, as_of)
    totals = setl.groupby("household_no")["out_of_pocket"].agg(["sum", "count"])
    evidence_rows = setl.sort_values("out_of_pocket").drop_duplicates("household_no", keep="last")
    evidence_rows = evidence_rows.set_index("household_no").join(totals).reset_index()
    registered = evidence_rows["household_no"].isin(_registered(inputs))
    threshold = registered.map(
        {True: rules["medical"]["registered_threshold"], False: rules["medical"]["other_threshold"]}
    ).astype(float)
    hit = evidence_rows[evidence_rows["sum"] >= threshold]
    th = threshold[hit.index]
    out = [
        _signals(
            hit,
            "R-MEDICAL",
            hit["sum"],
            th,
            "近12个月医疗自付合计 "
            + _fmt(hit["sum"])
            + " 元（"
            + hit["count"].astype(str)
            + " 笔结算），达到阈值 "
            + _fmt(th)
            + " 元",
            event_date=hit["settled_at"].dt.normalize(),
        )
    ]
    ill = inputs.linked("weijian_illness")
    ill = ill[
        _in_window(ill["diagnosis_date"].fillna(ill["report_month"]), as_of, rules["window_months"])
    ]
    out.append(
        _signals(
            ill,
            "R-MEDICAL",
            None,
            None,
            "大病专项救治：" + ill["disease"].astype(str),
            event_date=ill["diagnosis_date"],
        )
    )
    return out


def rule_disability(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """因残: a valid card of a severe grade issued within the window."""
    cfg = rules["disability"]
    cards = inputs.linked("canlian_disability")
    hit = cards[
        cards["grade"].isin(cfg["grades"])
        & cards["card_status"].isin(cfg["valid_status"])
        & _in_window(cards["issued_on"], as_of, rules["window_months"])
    ]
    hit = _latest(hit.assign(who=_who(hit)), ["household_no", "who"], ["issued_on"])
    return [
        _signals(
            hit,
            "R-DISABILITY",
            None,
            None,
            f"近{rules['window_months']}个月新办残疾人证："
            + hit["category"].fillna("").astype(str)
            + hit["grade"].astype(str),
            event_date=hit["issued_on"],
        )
    ]


def rule_medins(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """基本医疗保障 (gap): a living member not enrolled in their latest year."""
    enr = inputs.linked("yibao_enrollment")
    enr = enr[enr["year"] <= as_of.year]
    enr = _latest(enr.assign(who=_who(enr)), "who", ["year"])
    people = inputs.persons()
    gone = set(people.loc[~_living(people), "person_key"])
    hit = enr[enr["status"].isin(rules["medins"]["not_enrolled_status"]) & ~enr["who"].isin(gone)]
    return [
        _signals(
            hit,
            "R-MEDINS",
            None,
            None,
            "成员" + hit["year"].astype(int).astype(str) + "年度" + hit["status"].astype(str),
        )
    ]
