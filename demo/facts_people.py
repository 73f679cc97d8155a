"""Facts about people: deaths, outsiders, school, work, insurance and disability cards."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .city import WORK_MAX, WORK_MIN, City, recompute_anchor
from .facts import NOT_WORKING, UNEMPLOYED, Employment, Facts, cents, days, near_miss
from .ids import id_strings
from .names import draw_given, draw_surnames
from .periods import Periods
from .plan import Plan, pick_one_per_household

__all__ = ["disability", "employment", "enrollment", "labour_deaths", "outsiders", "students"]


def labour_deaths(city: City, plan: Plan, periods: Periods, rng: np.random.Generator) -> None:
    """R-LABOUR: a working-age member (not the head) died in the last 12 months."""
    p = city.persons
    target = plan.households("R-LABOUR")
    hh_of = p["hh"].to_numpy()
    age = p["age"].to_numpy()
    cand = np.flatnonzero(
        np.isin(hh_of, target)
        & (p["status"].to_numpy() == "正常")
        & (p["relation"].to_numpy() != "户主")
        & (age >= 17)
        & (age <= 59)
    )
    _, who = pick_one_per_household(cand, hh_of, rng)
    status = p["status"].to_numpy(dtype=object).copy()
    reason = p["cancel_reason"].to_numpy(dtype=object).copy()
    cdate = p["cancel_date"].to_numpy().copy()
    status[who] = "注销"
    reason[who] = "死亡"
    cdate[who] = periods.day - days(rng.integers(15, 330, len(who)))
    p["status"], p["cancel_reason"], p["cancel_date"] = status, reason, cdate
    recompute_anchor(city)


def outsiders(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """People who are not in the master: city residents, people from elsewhere."""
    n = max(50, len(city.hh) // 8)
    male = rng.random(n) < 0.6
    birth = np.datetime64("1950-01-01", "D") + days(rng.integers(0, 18000, n))
    local = rng.random(n) < 0.5
    others = np.array(
        ["360102", "360111", "360982", "360902", "360403", "361002", "430102", "441303"],
        dtype=object,
    )
    code = np.where(
        local,
        np.where(rng.random(n) < 0.6, "360502", "360521"),
        others[rng.integers(0, len(others), n)],
    ).astype(np.int64)
    # Local outsiders use sequence numbers 800-999, which the master never uses.
    k = rng.integers(0, 100, n)
    seq = np.where(local, 800 + 2 * k + male, 2 * rng.integers(0, 399, n) + 1 + ~male)
    b = pd.DatetimeIndex(birth)
    ymd = (b.year * 10000 + b.month * 100 + b.day).to_numpy().astype(np.int64)
    body = code * 10**11 + ymd * 1000 + seq
    first = np.sort(np.unique(body, return_index=True)[1])  # drop the rare repeat
    body, male, birth = body[first], male[first], birth[first]
    names = draw_surnames(rng, len(first)) + draw_given(
        rng, male, birth < np.datetime64("1975-01-01")
    )
    return pd.DataFrame({"name": names, "id": id_strings(body), "male": male, "birth": birth})


def students(
    city: City, plan: Plan, registry: pd.DataFrame, rng: np.random.Generator, f: Facts
) -> pd.DataFrame:
    """学籍: everyone 3-17 and half of 18-21; R-SCHOOL plants a dropout or a big bill."""
    p = city.persons
    hh_of = p["hh"].to_numpy()
    age = p["age"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    n = len(p)
    uni = rng.random(n) < 0.55
    is_student = living & (((age >= 3) & (age <= 17)) | ((age >= 18) & (age <= 21) & uni))
    # R-SCHOOL: a child 6-15 drops out, or a student 16-21 pays >= 10,000 this year.
    target = plan.households("R-SCHOOL")
    in_t = np.isin(hh_of, target)
    kid = np.flatnonzero(in_t & living & (age >= 6) & (age <= 15))
    teen = np.flatnonzero(in_t & living & (age >= 16) & (age <= 21))
    want_bill = rng.random(len(city.hh)) < 0.5
    hh_kid, p_kid = pick_one_per_household(kid, hh_of, rng)
    hh_teen, p_teen = pick_one_per_household(teen, hh_of, rng)
    bill_hh = np.setdiff1d(hh_teen, hh_kid[~want_bill[hh_kid]])  # no kid, or a coin says bill
    p_bill = p_teen[np.isin(hh_teen, bill_hh)]
    p_drop = p_kid[~np.isin(hh_kid, bill_hh)]
    is_student[p_bill] = True

    idx = np.flatnonzero(is_student)
    a = age[idx]
    stage = np.select(
        [a <= 5, a <= 11, a <= 14, a <= 17],
        ["学前", "小学", "初中", np.where(rng.random(len(idx)) < 0.7, "高中", "中职")],
        np.where(rng.random(len(idx)) < 0.45, "高职", "本科"),
    ).astype(object)
    tw = city.hh["township"].to_numpy()[hh_of[idx]]
    county = city.hh["county_name"].to_numpy()[hh_of[idx]]
    pick = rng.random(len(idx))

    def choose(opts: tuple[str, ...]) -> np.ndarray:
        arr = np.array(opts, dtype=object)
        return arr[(pick * len(arr)).astype(np.int64)]

    school = np.select(
        [
            stage == "学前",
            stage == "小学",
            stage == "初中",
            stage == "高中",
            stage == "中职",
            stage == "高职",
        ],
        [
            tw + "中心幼儿园",
            tw + "中心小学",
            tw + "中学",
            choose(("新余市第一中学", "新余市第四中学", "新余市实验中学", "分宜县第一中学")),
            choose(("新余市中等专业学校", "分宜县职业中学", "渝水区职业技术学校")),
            choose(("江西冶金职业技术学院", "江西新能源科技职业学院", "江西工商职业技术学院")),
        ],
        choose(("新余学院", "江西工程学院", "南昌大学", "江西师范大学", "江西财经大学")),
    ).astype(object)
    school = np.where(
        (stage == "初中") & (county == "分宜县") & (pick < 0.2), "分宜县第二中学", school
    ).astype(object)
    lo = {"学前": 800, "小学": 0, "初中": 0, "高中": 1200, "中职": 0, "高职": 3000, "本科": 3500}
    hi = {
        "学前": 2500,
        "小学": 600,
        "初中": 600,
        "高中": 3500,
        "中职": 1500,
        "高职": 7000,
        "本科": 8500,
    }
    lo_a = np.array([lo[s] for s in stage], dtype=np.float64)
    hi_a = np.array([hi[s] for s in stage], dtype=np.float64)
    selfpay = np.round(lo_a + rng.random(len(idx)) * (hi_a - lo_a), -1)
    reg = registry["registered"].to_numpy()[hh_of[idx]]
    subsidy = np.where(reg & (stage != "学前"), np.round(rng.uniform(500, 2500, len(idx)), -1), 0)
    status = np.full(len(idx), "在读", dtype=object)
    status[(a >= 15) & (rng.random(len(idx)) < 0.01)] = "休学"
    planted = np.zeros(len(idx), dtype=bool)
    pos_bill = np.searchsorted(idx, p_bill)
    selfpay[pos_bill] = np.round(rng.uniform(10000, 16000, len(p_bill)), -1)
    planted[pos_bill] = True
    pos_drop = np.searchsorted(idx, p_drop)
    status[pos_drop] = np.where(rng.random(len(p_drop)) < 0.5, "辍学", "疑似辍学")
    planted[pos_drop] = True
    # Near misses: a few college bills just under 10,000.
    nm = (
        ~planted
        & np.isin(stage, ["高职", "本科"])
        & (rng.random(len(idx)) < 0.02)
        & ~np.isin(hh_of[idx], plan.risks["hh"].to_numpy())
    )
    selfpay[nm] = np.round(rng.uniform(9000, 9990, int(nm.sum())), -1)
    st = pd.DataFrame(
        {
            "pidx": idx,
            "hh": hh_of[idx],
            "stage": stage,
            "school": school,
            "status": status,
            "selfpay_c": cents(selfpay),
            "subsidy_c": cents(subsidy),
            "planted": planted,
        }
    )
    f.near_misses.append(
        near_miss(
            st.loc[nm, "hh"].to_numpy(),
            "R-SCHOOL",
            "自付费用 " + selfpay[nm].astype(np.int64).astype(str) + " 元",
        )
    )
    return st


def employment(
    city: City, plan: Plan, students: pd.DataFrame, periods: Periods, rng: np.random.Generator
) -> Employment:
    """人社 monthly records: the anchor always works; R-WORK plants a job loss or pay cut."""
    p = city.persons
    n = len(p)
    age = p["age"].to_numpy()
    hh_of = p["hh"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    studying = np.zeros(n, dtype=bool)
    studying[students["pidx"].to_numpy()] = True
    anchor = np.zeros(n, dtype=bool)
    anc = city.hh["anchor"].to_numpy()
    anchor[anc[anc >= 0]] = True
    working_age = living & (age >= WORK_MIN) & (age <= WORK_MAX) & ~studying
    tracked = working_age & (anchor | (rng.random(n) < 0.5))
    idx = np.flatnonzero(tracked)
    m = len(idx)
    kind = rng.choice(4, size=m, p=[0.35, 0.25, 0.33, 0.07])
    kind = np.where(~anchor[idx] & (rng.random(m) < 0.15), NOT_WORKING, kind)
    base = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [
            rng.uniform(4200, 7500, m),
            rng.uniform(3500, 6000, m),
            rng.uniform(2400, 4500, m),
            rng.uniform(800, 1500, m),
        ],
        np.nan,
    )
    status = np.repeat(kind[:, None], 12, axis=1).astype(np.int8)
    wage = np.round(base[:, None] * rng.uniform(0.93, 1.07, (m, 12)), -1)
    far = np.array(
        ["广东省深圳市", "广东省东莞市", "浙江省宁波市", "福建省厦门市", "上海市", "江苏省苏州市"],
        dtype=object,
    )
    near = np.array(["江西省南昌市", "江西省宜春市", "江西省萍乡市", "江西省赣州市"], dtype=object)
    local = city.hh["county_name"].to_numpy()[hh_of[idx]]
    region = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [
            far[rng.integers(0, len(far), m)],
            near[rng.integers(0, len(near), m)],
            "新余市" + local,
            "新余市" + local + city.hh["township"].to_numpy()[hh_of[idx]],
        ],
        "",
    ).astype(object)
    unemp = np.full(m, np.datetime64("NaT"), dtype="datetime64[D]")
    # R-WORK: the anchor loses the job in one of the last 3 months, or the pay halves.
    target = plan.households("R-WORK")
    who = anc[target]
    who = who[(who >= 0) & tracked[np.maximum(who, 0)]]
    pos = np.searchsorted(idx, who)
    lose = rng.random(len(pos)) < 0.5
    for j, (row, gone) in enumerate(zip(pos, lose, strict=True)):
        if gone:
            m0 = 9 + j % 3
            status[row, m0:] = UNEMPLOYED
            wage[row, m0:] = np.nan
            unemp[row] = periods.month_start(m0) + days(rng.integers(0, 10))
            unemp[row] = min(unemp[row], periods.day)
        else:
            wage[row, 9:] = np.round(wage[row, 9:] * rng.uniform(0.2, 0.4), -1)
    return Employment(pidx=idx, status=status, wage=wage, region=region, unemp_date=unemp)


def enrollment(
    city: City,
    plan: Plan,
    registry: pd.DataFrame,
    assistance: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """医保 enrolment: every living person, except R-MEDINS members (未参保)."""
    p = city.persons
    hh_of = p["hh"].to_numpy()
    idx = np.flatnonzero(p["status"].to_numpy() == "正常")
    n_hh = len(city.hh)
    cat = np.full(n_hh, "", dtype=object)
    cat[registry["reg_type"].to_numpy() == "脱贫户"] = "脱贫人口"
    cat[registry["mon_type"].to_numpy() != ""] = "监测对象"
    active = assistance[assistance["ended"].isna()]
    for c, label in (("城乡低保", "低保"), ("特困供养", "特困")):
        cat[active.loc[active["category"] == c, "hh"].to_numpy()] = label
    status = np.full(len(idx), "正常参保", dtype=object)
    cand = idx[np.isin(hh_of[idx], plan.households("R-MEDINS"))]
    _, who = pick_one_per_household(cand, hh_of, rng)
    status[np.searchsorted(idx, who)] = "未参保"
    return pd.DataFrame({"pidx": idx, "status": status, "subsidy": cat[hh_of[idx]]})


def disability(city: City, plan: Plan, periods: Periods, rng: np.random.Generator) -> pd.DataFrame:
    """残联 cards: severe ones (一级/二级) are old in the background, new for R-DISABILITY."""
    p = city.persons
    n = len(p)
    hh_of = p["hh"].to_numpy()
    age = p["age"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    prob = np.where(age < 18, 0.005, np.where(age < 60, 0.015, 0.05))
    has = rng.random(n) < prob
    cand = np.flatnonzero(np.isin(hh_of, plan.households("R-DISABILITY")) & living)
    _, new = pick_one_per_household(cand, hh_of, rng)
    has[new] = False
    idx = np.flatnonzero(has)
    k = len(idx)
    grade = rng.choice(np.arange(1, 5), size=k, p=[0.1, 0.2, 0.35, 0.35])
    severe = grade <= 2
    issued = periods.day - days(
        np.where(severe, rng.integers(400, 5000, k), rng.integers(30, 5000, k))
    )
    status = np.where(living[idx], "有效", "注销").astype(object)
    kn = len(new)
    cat_p = [0.15, 0.15, 0.04, 0.40, 0.10, 0.08, 0.08]
    out = pd.DataFrame(
        {
            "pidx": np.concatenate([idx, new]),
            "category": np.concatenate(
                [
                    rng.choice(np.arange(1, 8), size=k, p=cat_p),
                    rng.choice(np.arange(1, 8), size=kn, p=cat_p),
                ]
            ),
            "grade": np.concatenate([grade, rng.integers(1, 3, kn)]),
            "issued": np.concatenate([issued, periods.day - days(rng.integers(10, 330, kn))]),
            "status": np.concatenate([status, np.full(kn, "有效", dtype=object)]),
            "planted": np.concatenate([np.zeros(k, dtype=bool), np.ones(kn, dtype=bool)]),
        }
    )
    return out.sort_values("pidx", kind="stable").reset_index(drop=True)
