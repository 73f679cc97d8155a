"""Facts of the safety net and health: 民政 cases, 医保 settlements, 卫健 illness cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .city import City
from .facts import Facts, cents, days, hh_sum, near_miss
from .periods import Periods
from .plan import Plan, pick_one_per_household

__all__ = ["assistance", "illness", "inpatient", "number_settlements", "settlements"]


def assistance(city: City, plan: Plan, periods: Periods, rng: np.random.Generator) -> pd.DataFrame:
    """民政 cases: old active and ended cases as background, new ones for R-ASSIST."""
    hh = city.hh
    n = len(hh)
    living_n = np.bincount(
        city.persons["hh"].to_numpy()[city.persons["status"].to_numpy() == "正常"], minlength=n
    )
    planted = plan.planted_mask(n)
    u = rng.random(n)
    old_active = np.flatnonzero(~planted & (u < 0.03))
    old_ended = np.flatnonzero(~planted & (u >= 0.03) & (u < 0.045))
    new = plan.households("R-ASSIST")
    rows = []
    for hhs, kind in ((old_active, "active"), (old_ended, "ended"), (new, "new")):
        k = len(hhs)
        r = rng.random(k)
        single = living_n[hhs] <= 1
        if kind == "new":
            cat = np.where(
                r < 0.55, "城乡低保", np.where(single & (r < 0.7), "特困供养", "临时救助")
            )
            approved = periods.day - days(rng.integers(5, 60, k))
            ended = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        elif kind == "active":
            cat = np.where(single & (r < 0.5), "特困供养", "城乡低保")
            approved = periods.day - days(rng.integers(550, 3000, k))
            ended = np.full(k, np.datetime64("NaT"), dtype="datetime64[D]")
        else:
            cat = np.where(r < 0.5, "城乡低保", "临时救助")
            approved = periods.day - days(rng.integers(800, 3000, k))
            ended = approved + days(rng.integers(30, 700, k))
            ended = np.minimum(ended, periods.day - days(30))
        cat = cat.astype(object)
        persons = np.where(cat == "城乡低保", 1 + (rng.random(k) * living_n[hhs]).astype(int), 1)
        monthly = np.select(
            [cat == "城乡低保", cat == "特困供养"],
            [persons * rng.integers(600, 781, k), rng.integers(1000, 1401, k)],
            np.round(rng.integers(1000, 5001, k), -2),
        )
        rows.append(
            pd.DataFrame(
                {
                    "hh": hhs,
                    "category": cat,
                    "persons": persons,
                    "monthly_c": monthly * 100,
                    "approved": approved,
                    "ended": ended,
                    "new": kind == "new",
                }
            )
        )
    return (
        pd.concat(rows, ignore_index=True).sort_values("hh", kind="stable").reset_index(drop=True)
    )


def settlements(
    city: City,
    plan: Plan,
    registry: pd.DataFrame,
    periods: Periods,
    rng: np.random.Generator,
    f: Facts,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """医保 settlements over 12 months; a household's out-of-pocket stays under 4,300.

    About 60% of R-MEDICAL households get big inpatient bills here; the others get a 卫健
    serious-illness case instead (`illness`). Near misses sit just under the thresholds.
    """
    p = city.persons
    n_hh = len(city.hh)
    age = p["age"].to_numpy()
    hh_of = p["hh"].to_numpy()
    living = np.flatnonzero(p["status"].to_numpy() == "正常")
    nv = rng.poisson(0.3 + age[living] / 90)
    pid = np.repeat(living, nv)
    m = len(pid)
    u = rng.random(m)
    p_in = 0.03 + age[pid] / 1200
    mt = np.where(u < p_in, 2, np.where(u < p_in + 0.06, 1, 0))
    total = np.select(
        [mt == 0, mt == 1],
        [
            np.clip(rng.lognormal(np.log(120), 0.7, m), 10, 2000),
            np.clip(rng.lognormal(np.log(600), 0.5, m), 50, 5000),
        ],
        np.clip(rng.lognormal(np.log(5000), 0.6, m), 800, 60000),
    )
    visits = _visit_frame(pid, rng.integers(0, 12, m), mt, cents(total), hh_of, registry, rng)
    # Cap each household's out-of-pocket at 1,500-4,300 by scaling its visits down.
    cap = cents(rng.uniform(1500, 4300, n_hh))
    spent = hh_sum(visits["self_c"].to_numpy(), visits["hh"].to_numpy(), n_hh)
    over = spent > cap
    factor = np.ones(n_hh)
    factor[over] = cap[over] / spent[over]
    fv = factor[visits["hh"].to_numpy()]
    for c in ("total_c", "hifp_c", "hifmi_c", "maf_c"):
        visits[c] = np.floor(visits[c].to_numpy() * fv).astype(np.int64)
    visits["self_c"] = visits["total_c"] - visits["hifp_c"] - visits["hifmi_c"] - visits["maf_c"]
    spent = hh_sum(visits["self_c"].to_numpy(), visits["hh"].to_numpy(), n_hh)

    registered = registry["registered"].to_numpy()
    planted = plan.planted_mask(n_hh)
    extra = []
    # R-MEDICAL (bill variant): big inpatient out-of-pocket for one member.
    target = plan.households("R-MEDICAL")
    k = len(target)
    n_bill = int(np.clip(round(0.6 * k), 1, k - 1)) if k >= 2 else k  # both variants appear
    bill = np.sort(rng.permutation(target)[:n_bill])
    f.medical_bill_hh = bill
    cand = np.flatnonzero(np.isin(hh_of, bill) & (p["status"].to_numpy() == "正常"))
    bhh, bp = pick_one_per_household(cand, hh_of, rng)
    need = np.where(
        registered[bhh], rng.uniform(6000, 15000, len(bhh)), rng.uniform(22000, 50000, len(bhh))
    )
    extra.append((bp, cents(need) - spent[bhh]))
    # Near misses: registered households just under 5,000; others just under 20,000.
    quiet = ~planted & (np.bincount(hh_of[living], minlength=n_hh) > 0)
    r = rng.random(n_hh)
    nm_reg = np.flatnonzero(quiet & registered & (r < 0.01))
    nm_oth = np.flatnonzero(quiet & ~registered & (r < 0.005))
    goal = np.zeros(n_hh)
    goal[nm_reg] = rng.uniform(4500, 4990, len(nm_reg))
    goal[nm_oth] = rng.uniform(15000, 19900, len(nm_oth))
    nm_hh = np.concatenate([nm_reg, nm_oth])
    cand = np.flatnonzero(np.isin(hh_of, nm_hh) & (p["status"].to_numpy() == "正常"))
    nhh, np_ = pick_one_per_household(cand, hh_of, rng)
    tgt = cents(goal[nhh])
    extra.append((np_, tgt - spent[nhh]))
    f.near_misses.append(
        near_miss(nhh, "R-MEDICAL", "12个月自付 " + (tgt // 100).astype(str) + " 元")
    )
    add = [inpatient(pp, amt, hh_of, registry, rng) for pp, amt in extra if len(pp)]
    visits = pd.concat([visits, *add], ignore_index=True)

    # Corrections: a few background settlements re-sent next month with lower amounts.
    vh = visits["hh"].to_numpy()
    fixable = ~planted[vh] & ~np.isin(vh, nm_hh) & (visits["month"].to_numpy() < 11)
    fix = np.flatnonzero(fixable & (rng.random(len(visits)) < 0.004))
    corr = visits.iloc[fix].copy()
    k = rng.uniform(0.8, 0.97, len(fix))
    for c in ("total_c", "hifp_c", "hifmi_c", "maf_c"):
        corr[c] = np.floor(corr[c].to_numpy() * k).astype(np.int64)
    corr["self_c"] = corr["total_c"] - corr["hifp_c"] - corr["hifmi_c"] - corr["maf_c"]
    corr["month"] = corr["month"] + 1
    corr["row"] = fix  # which original it corrects (numbered later)
    return visits, corr.reset_index(drop=True)


def _visit_frame(
    pid: np.ndarray,
    month: np.ndarray,
    mt: np.ndarray,
    total_c: np.ndarray,
    hh_of: np.ndarray,
    registry: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Split totals into insurance parts; out-of-pocket is what is left."""
    m = len(pid)
    reg = registry["registered"].to_numpy()[hh_of[pid]]
    hifp_share = np.select(
        [mt == 0, mt == 1],
        [rng.uniform(0.3, 0.5, m), rng.uniform(0.55, 0.7, m)],
        rng.uniform(0.55, 0.72, m),
    )
    hifmi_share = np.where((mt == 2) & (total_c > 1_000_000), rng.uniform(0, 0.08, m), 0)
    maf_share = np.where((mt == 2) & reg, rng.uniform(0, 0.1, m), 0)
    hifp = np.floor(total_c * hifp_share).astype(np.int64)
    hifmi = np.floor(total_c * hifmi_share).astype(np.int64)
    maf = np.floor(total_c * maf_share).astype(np.int64)
    return pd.DataFrame(
        {
            "pidx": pid,
            "hh": hh_of[pid],
            "month": month,
            "med_type": mt,
            "total_c": total_c,
            "hifp_c": hifp,
            "hifmi_c": hifmi,
            "maf_c": maf,
            "self_c": total_c - hifp - hifmi - maf,
        }
    )


def inpatient(
    pid: np.ndarray,
    self_c: np.ndarray,
    hh_of: np.ndarray,
    registry: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Inpatient stays with a given out-of-pocket amount (insurance paid the rest)."""
    m = len(pid)
    self_c = np.maximum(np.asarray(self_c, dtype=np.int64), 100)
    share = rng.uniform(0.3, 0.5, m)  # out-of-pocket share of the bill
    total = np.ceil(self_c / share).astype(np.int64)
    reg = registry["registered"].to_numpy()[hh_of[pid]]
    rest = total - self_c
    maf = np.where(reg, np.floor(rest * 0.1), 0).astype(np.int64)
    hifmi = np.where(total > 1_000_000, np.floor(rest * 0.1), 0).astype(np.int64)
    return pd.DataFrame(
        {
            "pidx": pid,
            "hh": hh_of[pid],
            "month": rng.integers(0, 12, m),
            "med_type": 2,
            "total_c": total,
            "hifp_c": rest - maf - hifmi,
            "hifmi_c": hifmi,
            "maf_c": maf,
            "self_c": self_c,
        }
    )


def number_settlements(f: Facts, periods: Periods, rng: np.random.Generator) -> None:
    """Give settlements times and IDs once every row (planted too) is known."""
    v = f.settlements
    month = v["month"].to_numpy()
    start = np.array([periods.month_start(i) for i in range(12)])
    end = np.array([periods.month_end(i) for i in range(12)])
    span = (end - start).astype(np.int64) + 1
    day = start[month] + days((rng.random(len(v)) * span[month]).astype(np.int64))
    secs = rng.integers(8 * 3600, 18 * 3600, len(v))
    v["time"] = day.astype("datetime64[s]") + secs.astype("timedelta64[s]")
    order = np.lexsort((v["time"].to_numpy(),))
    ym = np.array([f"{y:04d}{m:02d}" for y, m in periods.months], dtype=object)
    seq = np.empty(len(v), dtype=np.int64)
    seq[order] = np.arange(len(v))
    v["setl_id"] = (
        "JS" + ym[month] + pd.Series(seq + 1).astype(str).str.zfill(9).to_numpy(dtype=object)
    )
    c = f.corrections
    c["setl_id"] = v["setl_id"].to_numpy()[c["row"].to_numpy()]
    c["time"] = v["time"].to_numpy()[c["row"].to_numpy()]
    c.drop(columns="row", inplace=True)


def illness(
    city: City, plan: Plan, f: Facts, periods: Periods, rng: np.random.Generator
) -> pd.DataFrame:
    """卫健 serious-illness cases: the R-MEDICAL households without a big bill."""
    p = city.persons
    hh_of = p["hh"].to_numpy()
    target = np.setdiff1d(plan.households("R-MEDICAL"), f.medical_bill_hh)
    cand = np.flatnonzero(np.isin(hh_of, target) & (p["status"].to_numpy() == "正常"))
    _, who = pick_one_per_household(cand, hh_of, rng)
    diseases = np.array(
        [
            "食管癌",
            "胃癌",
            "结肠癌",
            "直肠癌",
            "肺癌",
            "肝癌",
            "乳腺癌",
            "宫颈癌",
            "终末期肾病",
            "急性心肌梗死",
            "脑梗死",
            "重性精神疾病",
            "耐多药肺结核",
            "儿童白血病",
            "儿童先天性心脏病",
            "血友病",
        ],
        dtype=object,
    )
    hospitals = np.array(
        [
            "新余市人民医院",
            "新余市中医院",
            "新余市第四医院",
            "分宜县人民医院",
            "江西省人民医院",
            "南昌大学第一附属医院",
        ],
        dtype=object,
    )
    age = p["age"].to_numpy()[who]
    dis = diseases[rng.integers(0, 13, len(who))]
    male = p["male"].to_numpy()[who]
    dis[male & np.isin(dis, ["乳腺癌", "宫颈癌"])] = "肺癌"
    kid = age < 15
    dis[kid] = diseases[13 + rng.integers(0, 3, int(kid.sum()))]
    n_out = max(1, len(who) // 20)
    o = f.outsiders.sample(n=min(n_out, len(f.outsiders)), random_state=rng).index.to_numpy()
    k = len(who) + len(o)
    return pd.DataFrame(
        {
            "pidx": np.concatenate([who, np.full(len(o), -1)]),
            "oidx": np.concatenate([np.full(len(who), -1), o]),
            "disease": np.concatenate([dis, diseases[rng.integers(0, 13, len(o))]]),
            "diagnosed": periods.day - days(rng.integers(20, 330, k)),
            "hospital": hospitals[rng.integers(0, len(hospitals), k)],
        }
    )
