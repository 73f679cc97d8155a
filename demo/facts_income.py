"""Household income (农业农村 accounts), tuned against rigid spending."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .city import City
from .facts import LINE_CUR, LINE_PREV, Facts, hh_sum, near_miss
from .facts_health import inpatient
from .facts_home import EVENTS
from .periods import Periods
from .plan import Plan, pick_one_per_household

__all__ = ["incomes"]


def incomes(
    city: City,
    plan: Plan,
    registry: pd.DataFrame,
    f: Facts,
    periods: Periods,
    rng: np.random.Generator,
) -> None:
    """Per-capita net income for last year and this year (mid-year update, annualised).

    Background incomes sit at least 12% above the line and fall less than 30%; planted
    R-INCOME / R-DROP / R-RIGID households get their story. Rigid spending is then
    compared with last year's income, raising income where a clean household would
    otherwise cross R-RIGID by accident.
    """
    p = city.persons
    n = len(city.hh)
    hh_of = p["hh"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    year_start = np.datetime64(f"{periods.year}-01-01", "D")
    cdate = p["cancel_date"].to_numpy().astype("datetime64[D]")
    n_cur = np.bincount(hh_of[living], minlength=n)
    n_prev = np.bincount(hh_of[living | (cdate >= year_start)], minlength=n)
    reg = registry["reg_type"].to_numpy() == "脱贫户"
    pc_prev = np.where(
        reg, rng.lognormal(np.log(14000), 0.35, n), rng.lognormal(np.log(17000), 0.4, n)
    )
    pc_prev = np.maximum(pc_prev, 9500)
    pc_cur = np.maximum(pc_prev * rng.uniform(0.92, 1.15, n), 9700)
    planted = plan.planted_mask(n)
    r = rng.random(n)
    band = np.flatnonzero(~planted & (r < 0.03))
    pc_prev[band] = LINE_PREV * rng.uniform(1.13, 1.2, len(band))
    pc_cur[band] = LINE_CUR * rng.uniform(1.13, 1.2, len(band))
    drop = np.flatnonzero(~planted & (r >= 0.03) & (r < 0.04))
    pc_prev[drop] = rng.uniform(14000, 22000, len(drop))
    pc_cur[drop] = pc_prev[drop] * rng.uniform(0.72, 0.78, len(drop))

    low = plan.households("R-INCOME")
    pc_cur[low] = rng.uniform(4500, 7700, len(low))
    pc_prev[low] = pc_cur[low] * rng.uniform(1.0, 1.2, len(low))
    fall = plan.households("R-DROP")
    ratio = rng.uniform(0.45, 0.68, len(fall))
    pc_prev[fall] = np.maximum(rng.uniform(16000, 30000, len(fall)), 9400 / ratio)
    pc_cur[fall] = pc_prev[fall] * ratio
    rigid_hh = plan.households("R-RIGID")
    pc_prev[rigid_hh] = LINE_PREV * rng.uniform(1.15, 1.3, len(rigid_hh))
    pc_cur[rigid_hh] = LINE_CUR * rng.uniform(1.15, 1.3, len(rigid_hh))

    # R-RIGID: costs under every single threshold that together beat last year's income.
    def spent() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        med = hh_sum(_final_self(f), f.settlements["hh"].to_numpy(), n)
        sch = hh_sum(f.students["selfpay_c"].to_numpy(), f.students["hh"].to_numpy(), n)
        dis = hh_sum(f.disasters["loss_c"].to_numpy(), f.disasters["hh"].to_numpy(), n)
        return med, sch, dis

    med, sch, dis = spent()
    total_prev = np.round(pc_prev * 100 * n_prev)
    target = total_prev[rigid_hh] * rng.uniform(1.15, 1.35, len(rigid_hh))
    need = target - med[rigid_hh] - sch[rigid_hh] - dis[rigid_hh]
    add_m = np.clip(need, 0, 1_900_000 - med[rigid_hh]).astype(np.int64)
    add_d = np.clip(need - add_m, 0, 950_000 - dis[rigid_hh]).astype(np.int64)
    add_d = (np.ceil(add_d / 1000) * 1000).astype(np.int64)  # losses are reported to 10 yuan
    cand = np.flatnonzero(np.isin(hh_of, rigid_hh) & living)
    mh, mp = pick_one_per_household(cand, hh_of, rng)
    amt = add_m[np.searchsorted(rigid_hh, mh)]
    keep = amt > 0
    f.settlements = pd.concat(
        [f.settlements, inpatient(mp[keep], amt[keep], hh_of, registry, rng)], ignore_index=True
    )
    dh = rigid_hh[add_d > 0]
    if len(dh):
        had = f.disasters.groupby("hh")["event"].apply(set).to_dict() if len(f.disasters) else {}
        ev = []
        for h in dh:  # a handful of households: pick an event they were not yet reported in
            free = [e for e in range(len(EVENTS) - 1) if e not in had.get(h, set())]
            ev.append(free[int(rng.integers(0, len(free)))])
        size = city.hh["size"].to_numpy()
        f.disasters = (
            pd.concat(
                [
                    f.disasters,
                    pd.DataFrame(
                        {
                            "event": ev,
                            "hh": dh,
                            "collapsed": 0,
                            "loss_c": add_d[add_d > 0],
                            "people": np.minimum(size[dh], 2),
                        }
                    ),
                ],
                ignore_index=True,
            )
            .sort_values(["event", "hh"], kind="stable")
            .reset_index(drop=True)
        )

    # Keep everyone else clear of R-RIGID: rigid costs stay under 70% of last year's income.
    med, sch, dis = spent()
    rigid = med + sch + dis
    total_prev = pc_prev * n_prev
    locked = np.zeros(n, dtype=bool)
    locked[low] = True
    locked[rigid_hh] = True
    lift = ~locked & (rigid > 0.7 * total_prev * 100)
    factor = np.ones(n)
    factor[lift] = rigid[lift] / (0.7 * total_prev[lift] * 100)
    pc_prev *= factor
    pc_cur *= factor

    f.near_misses.append(
        near_miss(band[factor[band] == 1], "R-INCOME", "人均纯收入在监测线1.13-1.2倍")
    )
    f.near_misses.append(near_miss(drop[factor[drop] == 1], "R-DROP", "人均纯收入下降22-28%"))
    out = {"n_prev": n_prev, "n_cur": n_cur}
    for tag, pc, size in (("prev", pc_prev, n_prev), ("cur", pc_cur, n_cur)):
        total = np.round(pc * size * 100).astype(np.int64)
        w = rng.uniform(0.45, 0.65, n)  # shares leave at least 7% for transfers
        b = rng.uniform(0.1, 0.25, n)
        pr = rng.uniform(0.0, 0.03, n)
        wage = np.round(total * w).astype(np.int64)
        bus = np.round(total * b).astype(np.int64)
        prop = np.round(total * pr).astype(np.int64)
        out[f"wage_{tag}"] = wage
        out[f"business_{tag}"] = bus
        out[f"property_{tag}"] = prop
        out[f"transfer_{tag}"] = total - wage - bus - prop
        out[f"expense_{tag}"] = np.round(bus * rng.uniform(0.2, 0.6, n)).astype(np.int64)
        out[f"total_{tag}"] = total
        out[f"pc_{tag}"] = np.round(total / size).astype(np.int64)
    _monthly_wages_match(city, f, out)
    f.income = pd.DataFrame(out)


def _monthly_wages_match(city: City, f: Facts, out: dict[str, np.ndarray]) -> None:
    """This year's 工资性收入 is what 人社 paid the household's tracked members over the 12
    months to the run date (the rolling window the pipeline sums): their monthly wages are
    scaled, per household, to the household's wage; a household whose tracked members
    earned nothing has no wage income (its share goes to transfers; the total stays).
    Cents are exact: the rounding remainder goes to the household's first paid month."""
    emp = f.employment
    if emp is None or not len(emp.pidx):
        return
    n = len(city.hh)
    ehh = city.persons["hh"].to_numpy()[emp.pidx]
    paid = ~np.isnan(emp.wage)
    raw = np.nan_to_num(emp.wage) * 100
    per_hh = np.bincount(ehh, weights=raw.sum(axis=1), minlength=n)
    tracked = np.bincount(ehh, minlength=n) > 0
    wage = out["wage_cur"]
    idle = tracked & (per_hh <= 0)
    out["transfer_cur"] = out["transfer_cur"] + np.where(idle, wage, 0)
    wage = np.where(idle, 0, wage)
    out["wage_cur"] = wage
    factor = np.where(per_hh > 0, wage / np.where(per_hh > 0, per_hh, 1), 0.0)
    cents = np.where(paid, np.round(raw * factor[ehh][:, None]), 0).astype(np.int64)
    short = wage - np.bincount(ehh, weights=cents.sum(axis=1), minlength=n).astype(np.int64)
    # The first paid cell of each household (row-major) takes the remainder.
    rows, cols = np.nonzero(paid)
    first_hh, first = np.unique(ehh[rows], return_index=True)
    cents[rows[first], cols[first]] += short[first_hh]
    emp.wage = np.where(paid, cents / 100, np.nan)


def _final_self(f: Facts) -> np.ndarray:
    """Out-of-pocket per settlement after corrections (a correction replaces the original)."""
    s = f.settlements["self_c"].to_numpy().copy()
    c = f.corrections
    if len(c) and "row" in c:
        s[c["row"].to_numpy()] = c["self_c"].to_numpy()
    return s
