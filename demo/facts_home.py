"""Household facts: housing, water, disasters, asset registers, declarations and visits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .city import City
from .facts import REASONS, Facts, cents, days, near_miss
from .names import draw_given, draw_surnames
from .periods import Periods
from .plan import Plan, pick_one_per_household

__all__ = ["EVENTS", "disasters", "housing", "leads", "vehicles_business_property_payroll", "water"]


def housing(city: City, plan: Plan, periods: Periods, rng: np.random.Generator) -> pd.DataFrame:
    """住建 safety appraisals this year: A/B in the background, C/D for R-HOUSING."""
    n = len(city.hh)
    planted = plan.planted_mask(n)
    bad = plan.households("R-HOUSING")
    ok = np.flatnonzero(~planted & (rng.random(n) < 0.08))
    hhs = np.concatenate([ok, bad])
    k_ok, k = len(ok), len(hhs)
    grade = np.concatenate(
        [
            np.where(rng.random(k_ok) < 0.65, "A", "B"),
            np.where(rng.random(len(bad)) < 0.6, "C", "D"),
        ]
    ).astype(object)
    poor = np.isin(grade, ["C", "D"])
    struct_good = np.array(["砖混", "砖混", "砖混", "框架", "砖木"], dtype=object)
    struct_bad = np.array(["土木", "土木", "砖木", "木结构"], dtype=object)
    structure = np.where(
        poor, struct_bad[rng.integers(0, 4, k)], struct_good[rng.integers(0, 5, k)]
    )
    built = np.where(poor, rng.integers(1960, 1996, k), rng.integers(1978, 2022, k))
    start = np.datetime64(f"{periods.year}-01-05", "D")
    span = max(1, int((periods.day - start).astype(np.int64)))
    out = pd.DataFrame(
        {
            "hh": hhs,
            "structure": structure.astype(object),
            "built": built,
            "grade": grade,
            "date": start + days((rng.random(k) * span).astype(np.int64)),
            "renovate": np.where(poor & (rng.random(k) < 0.8), "是", "否").astype(object),
        }
    )
    return out.sort_values("hh", kind="stable").reset_index(drop=True)


def water(
    city: City, plan: Plan, periods: Periods, rng: np.random.Generator, f: Facts
) -> pd.DataFrame:
    """水利 survey (the previous quarter: the latest one never arrives)."""
    n = len(city.hh)
    planted = plan.planted_mask(n)
    bad = plan.households("R-WATER")
    ok = np.flatnonzero(~planted & (rng.random(n) < 0.5))
    hhs = np.concatenate([ok, bad])
    k = len(hhs)
    mode = rng.choice(3, size=k, p=[0.7, 0.2, 0.1])
    litres = np.select(
        [mode == 0, mode == 1],
        [rng.integers(60, 131, k), rng.integers(45, 91, k)],
        rng.integers(50, 101, k),
    )
    minutes = np.select(
        [mode == 0, mode == 1],
        [np.zeros(k, dtype=np.int64), rng.integers(2, 16, k)],
        rng.integers(0, 6, k),
    )
    quality = np.full(k, "是", dtype=object)
    # Near misses exactly on the line (40 L is enough, 20 minutes is not too far).
    nm = np.flatnonzero((np.arange(k) < len(ok)) & (rng.random(k) < 0.006))
    on_l = rng.random(len(nm)) < 0.5
    litres[nm[on_l]] = 40
    minutes[nm[~on_l]] = 20
    mode[nm[~on_l]] = 1
    f.near_misses.append(
        near_miss(hhs[nm], "R-WATER", np.where(on_l, "人均日用水量 40 升", "取水往返 20 分钟"))
    )
    b = np.arange(len(ok), k)
    v = rng.integers(0, 3, len(b))
    litres[b[v == 0]] = rng.integers(20, 39, int((v == 0).sum()))
    minutes[b[v == 1]] = rng.integers(25, 61, int((v == 1).sum()))
    mode[b[v == 1]] = 1
    quality[b[v == 2]] = "否"
    start, end = Periods.quarter_bounds(periods.prev_quarter)
    span = int((end - start).astype(np.int64)) + 1
    modes = np.array(["集中供水", "分散供水", "自备井"], dtype=object)
    out = pd.DataFrame(
        {
            "hh": hhs,
            "mode": modes[mode],
            "litres": litres,
            "minutes": minutes,
            "quality": quality,
            "date": start + days((rng.random(k) * span).astype(np.int64)),
        }
    )
    return out.sort_values("hh", kind="stable").reset_index(drop=True)


EVENTS = (("低温雨雪冰冻", 310), ("风雹", 200), ("暴雨洪涝", 155), ("台风", 80), ("干旱", 40))


def disasters(
    city: City, plan: Plan, periods: Periods, rng: np.random.Generator, f: Facts
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """应急 events of the last 12 months; the last one (干旱) reports no household."""
    n = len(city.hh)
    planted = plan.planted_mask(n)
    tw = city.hh["tw"].to_numpy()
    size = city.hh["size"].to_numpy()
    events = pd.DataFrame(
        {
            "event": np.arange(len(EVENTS)),
            "type": [e[0] for e in EVENTS],
            "date": [periods.day - np.timedelta64(back, "D") for _, back in EVENTS],
        }
    )
    rows = []
    n_tw = len(city.geo.tw_name)
    for e in range(len(EVENTS) - 1):
        hit = rng.choice(n_tw, size=3, replace=False)
        hhs = np.flatnonzero(np.isin(tw, hit) & ~planted & (rng.random(n) < 0.1))
        k = len(hhs)
        loss = np.round(rng.uniform(300, 6000, k), -1)
        nm = rng.random(k) < 0.005
        loss[nm] = np.round(rng.uniform(9000, 9900, int(nm.sum())), -1)
        f.near_misses.append(
            near_miss(
                hhs[nm], "R-DISASTER", "直接经济损失 " + (loss[nm] / 10000).astype(str) + " 万元"
            )
        )
        rows.append(
            pd.DataFrame(
                {
                    "event": e,
                    "hh": hhs,
                    "collapsed": 0,
                    "loss_c": cents(loss),
                    "people": 1 + (rng.random(k) * size[hhs]).astype(int),
                }
            )
        )
    bad = plan.households("R-DISASTER")
    k = len(bad)
    rooms = np.where(rng.random(k) < 0.4, rng.integers(1, 4, k), 0)
    loss = np.where(rooms > 0, rng.uniform(3000, 25000, k), rng.uniform(10000, 50000, k))
    rows.append(
        pd.DataFrame(
            {
                "event": rng.integers(0, len(EVENTS) - 1, k),
                "hh": bad,
                "collapsed": rooms,
                "loss_c": cents(np.round(loss, -1)),
                "people": 1 + (rng.random(k) * size[bad]).astype(int),
            }
        )
    )
    dis = pd.concat(rows, ignore_index=True)
    dis = dis.drop_duplicates(["event", "hh"], keep="last")  # a planted loss replaces a small one
    return events, dis.sort_values(["event", "hh"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- assets, leads


def vehicles_business_property_payroll(
    city: City, plan: Plan, f: Facts, periods: Periods, rng: np.random.Generator
) -> None:
    """Asset registers: harmless background holdings plus the planted asset flags."""
    p = city.persons
    hh = city.hh
    n = len(hh)
    hh_of = p["hh"].to_numpy()
    age = p["age"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    planted_assets = {
        k: plan.assets.loc[plan.assets["kind"] == k, "hh"].to_numpy()
        for k in ("car", "company", "payroll", "property")
    }
    adult = living & (age >= 22) & (age <= 59)

    def owner_in(hhs: np.ndarray) -> np.ndarray:
        _, who = pick_one_per_household(np.flatnonzero(np.isin(hh_of, hhs) & adult), hh_of, rng)
        return who

    anchor = hh["anchor"].to_numpy()
    head = hh["first"].to_numpy()

    def outsiders(k: int) -> np.ndarray:
        return rng.integers(0, len(f.outsiders), k)

    # Vehicles: motorbikes, tricycles and small trucks are no asset flag; old cars are gone.
    u = rng.random(n)
    small = np.flatnonzero(u < 0.12)
    oldcar = np.flatnonzero((u >= 0.12) & (u < 0.15))
    car_p = owner_in(planted_assets["car"])
    vtypes = np.array(["普通二轮摩托车", "三轮汽车", "低速货车", "轻型货车"], dtype=object)
    k1, k2, k3 = len(small), len(oldcar), len(car_p)
    n_out = max(1, round((k1 + k2 + k3) * 0.04))
    f.vehicles = pd.DataFrame(
        {
            "pidx": np.concatenate(
                [
                    np.where(rng.random(k1) < 0.7, anchor[small], head[small]),
                    anchor[oldcar],
                    car_p,
                    np.full(n_out, -1),
                ]
            ),
            "oidx": np.concatenate([np.full(k1 + k2 + k3, -1), outsiders(n_out)]),
            "type": np.concatenate(
                [
                    vtypes[rng.choice(4, size=k1, p=[0.45, 0.2, 0.15, 0.2])],
                    np.where(rng.random(k2) < 0.6, "小型轿车", "小型普通客车"),
                    np.array(["小型轿车", "小型普通客车", "中型客车"], dtype=object)[
                        rng.choice(3, size=k3, p=[0.5, 0.4, 0.1])
                    ],
                    np.where(rng.random(n_out) < 0.7, "小型轿车", "小型普通客车"),
                ]
            ).astype(object),
            "status": np.concatenate(
                [
                    np.where(
                        rng.random(k1) < 0.85,
                        "正常",
                        np.where(rng.random(k1) < 0.6, "注销", "报废"),
                    ),
                    np.where(rng.random(k2) < 0.5, "注销", "报废"),
                    np.full(k3, "正常"),
                    np.full(n_out, "正常"),
                ]
            ).astype(object),
            "registered": periods.day - days(rng.integers(30, 5000, k1 + k2 + k3 + n_out)),
            "planted": np.concatenate(
                [
                    np.zeros(k1 + k2, dtype=bool),
                    np.ones(k3, dtype=bool),
                    np.zeros(n_out, dtype=bool),
                ]
            ),
        }
    )
    f.vehicles["plate"] = _plates(len(f.vehicles), rng)

    # Market entities: sole traders and co-operatives in the background, companies planted.
    sole = np.flatnonzero(rng.random(n) < 0.03)
    rep_p = owner_in(planted_assets["company"])
    k1, k2 = len(sole), len(rep_p)
    n_out = max(1, round((k1 + k2) * 0.04))
    is_coop = rng.random(k1) < 0.25
    btype = np.concatenate(
        [
            np.where(is_coop, "农民专业合作社", "个体工商户"),
            np.where(rng.random(k2) < 0.8, "有限责任公司", "股份有限公司"),
            np.where(rng.random(n_out) < 0.7, "有限责任公司", "个体工商户"),
        ]
    ).astype(object)
    f.business = pd.DataFrame(
        {
            "pidx": np.concatenate([anchor[sole], rep_p, np.full(n_out, -1)]),
            "oidx": np.concatenate([np.full(k1 + k2, -1), outsiders(n_out)]),
            "type": btype,
            "status": np.concatenate(
                [
                    np.where(
                        rng.random(k1) < 0.8,
                        "存续",
                        np.where(rng.random(k1) < 0.75, "注销", "吊销"),
                    ),
                    np.full(k2 + n_out, "存续"),
                ]
            ).astype(object),
            "founded": periods.day - days(rng.integers(60, 6000, k1 + k2 + n_out)),
            "capital": np.select(
                [btype == "个体工商户", btype == "农民专业合作社", btype == "有限责任公司"],
                [
                    rng.integers(1, 51, k1 + k2 + n_out),
                    rng.integers(10, 201, k1 + k2 + n_out),
                    rng.integers(50, 1001, k1 + k2 + n_out),
                ],
                rng.integers(500, 5001, k1 + k2 + n_out),
            ),
            "planted": np.concatenate(
                [np.zeros(k1, dtype=bool), np.ones(k2, dtype=bool), np.zeros(n_out, dtype=bool)]
            ),
        }
    )

    # Property: most heads hold their rural house; planted people hold two more titles.
    homes = np.flatnonzero(rng.random(n) < 0.55)
    sold = np.flatnonzero(rng.random(n) < 0.08)
    prop_p = owner_in(planted_assets["property"])
    pp2 = np.repeat(prop_p, 2)
    k1, k2, k3 = len(homes), len(sold), len(pp2)
    n_out = max(1, round((k1 + k2 + k3) * 0.04))
    f.property = pd.DataFrame(
        {
            "pidx": np.concatenate([head[homes], head[sold], pp2, np.full(n_out, -1)]),
            "oidx": np.concatenate([np.full(k1 + k2 + k3, -1), outsiders(n_out)]),
            "status": np.concatenate(
                [
                    np.full(k1, "现势"),
                    np.full(k2, "注销"),
                    np.full(k3, "现势"),
                    np.full(n_out, "现势"),
                ]
            ).astype(object),
            "urban": np.concatenate(
                [np.zeros(k1 + k2, dtype=bool), np.ones(k3 + n_out, dtype=bool)]
            ),
            "area": np.round(
                np.concatenate([rng.uniform(90, 260, k1 + k2), rng.uniform(60, 160, k3 + n_out)]), 2
            ),
            "registered": periods.day - days(rng.integers(30, 4000, k1 + k2 + k3 + n_out)),
            "planted": np.concatenate(
                [
                    np.zeros(k1 + k2, dtype=bool),
                    np.ones(k3, dtype=bool),
                    np.zeros(n_out, dtype=bool),
                ]
            ),
        }
    )

    # Payroll: only planted people from the master (plus a few outsiders).
    pay_p = owner_in(planted_assets["payroll"])
    n_out = max(1, round(len(pay_p) * 0.04))
    f.payroll = pd.DataFrame(
        {
            "pidx": np.concatenate([pay_p, np.full(n_out, -1)]),
            "oidx": np.concatenate([np.full(len(pay_p), -1), outsiders(n_out)]),
            "category": np.concatenate(
                [
                    np.where(
                        age[pay_p] >= 55,
                        "退休",
                        np.where(rng.random(len(pay_p)) < 0.35, "行政", "事业"),
                    ),
                    np.where(rng.random(n_out) < 0.5, "行政", "事业"),
                ]
            ).astype(object),
        }
    )


def _plates(k: int, rng: np.random.Generator) -> np.ndarray:
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), dtype=object)
    chars = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"), dtype=object)
    digits = np.array(list("0123456789"), dtype=object)
    out = "赣K" + letters[rng.integers(0, len(letters), k)]
    for _ in range(2):
        out = out + chars[rng.integers(0, len(chars), k)]
    for _ in range(2):
        out = out + digits[rng.integers(0, 10, k)]
    return out


_LEAD_TEXT = {
    "因病": (
        "家中老人住院，医疗费用较高",
        "户主患重病，长期吃药，开支大",
        "孩子生病住院花了不少钱",
    ),
    "因学": ("两个孩子上学，学费生活费压力大", "孩子考上大学，学费凑不齐"),
    "因残": ("家人意外致残，无法干活", "残疾加重，需要人照顾"),
    "因灾": ("暴雨冲毁稻田和鱼塘", "房屋被风雹损坏"),
    "因意外事故": ("户主工地摔伤，几个月不能务工", "车祸受伤，住院治疗"),
    "因产业失败": ("养猪亏本，欠了饲料钱", "蜜橘滞销，收入大减"),
    "务工就业不稳": ("厂里停工，回乡后没找到活", "工资被拖欠，收入没着落"),
    "缺劳动力": ("儿子去世，家里只剩老人小孩", "家里劳动力外出失联"),
    "其他": ("房子漏雨，担心住不安全", "家里吃水困难", "生活困难，请求帮扶"),
}
_RULE_REASON = {
    "R-MEDICAL": "因病",
    "R-RIGID": "因病",
    "R-MEDINS": "因病",
    "R-SCHOOL": "因学",
    "R-DISABILITY": "因残",
    "R-DISASTER": "因灾",
    "R-WORK": "务工就业不稳",
    "R-LABOUR": "缺劳动力",
    "R-INCOME": "因产业失败",
    "R-DROP": "因产业失败",
}


def leads(city: City, plan: Plan, f: Facts, periods: Periods, rng: np.random.Generator) -> None:
    """Self-declarations (daily files) and cadre visits (weekly files)."""
    leads = plan.leads
    hhs = leads["hh"].to_numpy()
    k = len(hhs)
    first_rule = plan.risks.drop_duplicates("hh").set_index("hh")["rule"]
    reasons = np.array(REASONS, dtype=object)
    reason = reasons[rng.integers(0, len(reasons), k)]
    cor = leads["corroborated"].to_numpy()
    for i in np.flatnonzero(cor):
        reason[i] = _RULE_REASON.get(first_rule.get(hhs[i], ""), "其他")
    text = np.array(
        [
            _LEAD_TEXT[r][int(u * len(_LEAD_TEXT[r]))]
            for r, u in zip(reason, rng.random(k), strict=True)
        ],
        dtype=object,
    )
    phone = _phones(k, rng)
    via_app = rng.random(k) < 0.5
    # Declarations fall on a handful of recent days: one file per day.
    day_back = np.array([19, 15, 11, 6, 2])
    d = np.flatnonzero(via_app)
    di = rng.integers(0, len(day_back), len(d))
    f.declarations = (
        pd.DataFrame(
            {
                "hh": hhs[d],
                "file_day": periods.day - days(day_back[di]),
                "reason": reason[d],
                "text": text[d],
                "phone": phone[d],
                "id_given": rng.random(len(d)) < 0.85,
                "secs": rng.integers(7 * 3600, 22 * 3600, len(d)),
            }
        )
        .sort_values(["file_day", "secs"], kind="stable")
        .reset_index(drop=True)
    )
    # Visits: four weekly files; quiet households visited with nothing found, too.
    n = len(city.hh)
    quiet = np.flatnonzero(
        ~plan.planted_mask(n) & ~np.isin(np.arange(n), hhs) & (rng.random(n) < 0.008)
    )
    v = np.flatnonzero(~via_app)
    vh = np.concatenate([hhs[v], quiet])
    kv = len(vh)
    week = rng.integers(0, 4, kv)
    # Four complete Monday-Sunday weeks before as_of; visits are on weekdays.
    monday = _last_full_week_monday(periods.day) - days(7 * (3 - week))
    visitors = draw_surnames(rng, 40) + draw_given(
        rng, rng.random(40) < 0.6, np.zeros(40, dtype=bool)
    )
    tw = city.hh["tw"].to_numpy()[vh]
    found = np.concatenate([np.ones(len(v), dtype=bool), np.zeros(len(quiet), dtype=bool)])
    f.visits = (
        pd.DataFrame(
            {
                "hh": vh,
                "week_monday": monday,
                "date": monday + days(rng.integers(0, 5, kv)),
                "category": np.where(
                    found, np.concatenate([reason[v], np.full(len(quiet), "")]), ""
                ).astype(object),
                "problem": np.where(
                    found,
                    np.concatenate([text[v], np.full(len(quiet), "")]),
                    "走访未发现返贫致贫风险",
                ).astype(object),
                "phone": np.concatenate([phone[v], _phones(len(quiet), rng)]),
                "visitor": visitors[(tw * 2 + rng.integers(0, 2, kv)) % 40],
            }
        )
        .sort_values(["week_monday", "date", "hh"], kind="stable")
        .reset_index(drop=True)
    )


def _last_full_week_monday(day: np.datetime64) -> np.datetime64:
    """Monday of the last Monday-Sunday week that ended on or before `day`."""
    dow = int((day.astype("datetime64[D]").astype(np.int64) - 4) % 7)  # 1970-01-05 was Monday
    last_sunday = day - np.timedelta64((dow + 1) % 7, "D")
    return last_sunday - np.timedelta64(6, "D")


def _phones(k: int, rng: np.random.Generator) -> np.ndarray:
    prefix = np.array(
        [
            "135",
            "136",
            "137",
            "138",
            "139",
            "150",
            "152",
            "158",
            "159",
            "182",
            "187",
            "188",
            "177",
            "180",
            "189",
            "199",
        ],
        dtype=object,
    )
    return prefix[rng.integers(0, len(prefix), k)] + pd.Series(rng.integers(0, 10**8, k)).astype(
        str
    ).str.zfill(8).to_numpy(dtype=object)
