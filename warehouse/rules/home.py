"""Home risks: 因灾 (R-DISASTER: a loss or collapsed rooms), 住房安全 (R-HOUSING, a gap: the
latest assessment unsafe), 饮水安全 (R-WATER, a gap: the latest survey below standard).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.rules.config import RuleSet
from warehouse.rules.evidence import _fmt, _signals
from warehouse.rules.inputs import RuleInputs, _in_window, _latest

__all__ = ["rule_disaster", "rule_housing", "rule_water"]


def rule_disaster(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    dis = inputs.linked("yingji_disaster")
    dis = dis[_in_window(dis["occurred_on"], as_of, rules["window_months"])]
    cfg = rules["disaster"]
    hit = dis[
        (dis["direct_loss"].fillna(0) >= cfg["min_loss"])
        | (dis["rooms_collapsed"].fillna(0) >= cfg["min_rooms_collapsed"])
    ]
    return [
        _signals(
            hit,
            "R-DISASTER",
            hit["direct_loss"],
            float(cfg["min_loss"]),
            hit["disaster_type"].astype(str)
            + "：直接经济损失 "
            + _fmt(hit["direct_loss"].fillna(0))
            + " 元，倒塌房屋 "
            + hit["rooms_collapsed"].fillna(0).astype(int).astype(str)
            + " 间",
            event_date=hit["occurred_on"],
        )
    ]


def rule_housing(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    house = inputs.linked("zhujian_housing")
    house = house[house["assessed_on"].isna() | (house["assessed_on"] <= pd.Timestamp(as_of))]
    latest = house.sort_values(["assessed_on", "load_id", "row_number"]).drop_duplicates(
        "household_no", keep="last"
    )
    hit = latest[latest["grade"].isin(rules["housing"]["unsafe_grades"])]
    return [
        _signals(
            hit,
            "R-HOUSING",
            None,
            None,
            "住房安全鉴定为 " + hit["grade"].astype(str) + " 级",
            event_date=hit["assessed_on"],
        )
    ]


def rule_water(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """饮水安全 (gap): the latest survey finds too little water, too long a fetch or bad
    quality."""
    cfg = rules["water"]
    water = inputs.linked("shuili_water")
    water = water[water["checked_on"].isna() | (water["checked_on"] <= pd.Timestamp(as_of))]
    latest = _latest(water, "household_no", ["checked_on"])
    little = latest["litres_per_person_day"] < cfg["min_litres_per_person_day"]
    far = latest["fetch_minutes"] > cfg["max_fetch_minutes"]
    bad = latest["quality_ok"].isin(cfg["unsafe_quality"])
    hit = latest[little | far | bad]
    reasons = pd.concat(
        [
            ("人均日用水量 " + _fmt(hit["litres_per_person_day"]) + " 升").where(little[hit.index]),
            ("取水往返 " + _fmt(hit["fetch_minutes"]) + " 分钟").where(far[hit.index]),
            pd.Series("水质不达标", index=hit.index).where(bad[hit.index]),
        ],
        axis=1,
    )
    text = reasons.apply(lambda r: "、".join(r.dropna()), axis=1) if len(hit) else ""
    return [
        _signals(
            hit,
            "R-WATER",
            hit["litres_per_person_day"].where(little[hit.index]),  # value: the water amount
            pd.Series(float(cfg["min_litres_per_person_day"]), index=hit.index).where(
                little[hit.index]
            ),
            "饮水安全不达标：" + text,
            event_date=hit["checked_on"],
        )
    ]
