"""Which households get planted hardship, leads and asset flags (domain.md default rules).

About 6% of households get one risk type (a fifth of them a second one); every type is
planted at least twice, so even a 300-household city exercises every rule. The rest of
the city is the clean background that must stay below every threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .city import City

__all__ = ["ASSET_KINDS", "RISK_RULES", "Plan", "choose_plan", "pick_one_per_household"]

RISK_RULES = (
    "R-LABOUR",
    "R-RIGID",
    "R-SCHOOL",
    "R-INCOME",
    "R-DROP",
    "R-MEDICAL",
    "R-DISABILITY",
    "R-DISASTER",
    "R-WORK",
    "R-HOUSING",
    "R-WATER",
    "R-MEDINS",
    "R-ASSIST",
)
# Rules that add an event without touching income, so they combine with any other.
_SECONDARY = (
    "R-MEDICAL",
    "R-DISABILITY",
    "R-DISASTER",
    "R-HOUSING",
    "R-WATER",
    "R-MEDINS",
    "R-ASSIST",
    "R-WORK",
)
ASSET_KINDS = ("car", "company", "payroll", "property")
RULE_SHARE = 0.0045  # of households, per risk type
LEAD_SHARE = 0.003  # uncorroborated leads (households with no other signal)
ASSET_SHARE = 0.0015  # per asset kind


@dataclass
class Plan:
    """Planted facts: `risks` (hh, rule), `leads` (hh, corroborated), `assets` (hh, kind)."""

    risks: pd.DataFrame
    leads: pd.DataFrame
    assets: pd.DataFrame

    def households(self, rule: str) -> np.ndarray:
        return self.risks.loc[self.risks["rule"] == rule, "hh"].to_numpy()

    def planted_mask(self, n: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[self.risks["hh"].to_numpy()] = True
        return m


def pick_one_per_household(
    cand: np.ndarray, hh_of: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """From candidate person indices choose one at random per household.

    Returns (households, persons), sorted by household.
    """
    cand = np.asarray(cand, dtype=np.int64)
    if len(cand) == 0:
        return cand, cand
    key = rng.random(len(cand))
    order = np.lexsort((key, hh_of[cand]))
    hh_sorted = hh_of[cand][order]
    uniq, first = np.unique(hh_sorted, return_index=True)
    return uniq, cand[order][first]


def choose_plan(city: City, registered: np.ndarray, rng: np.random.Generator) -> Plan:
    """Choose planted households. `registered`: 脱贫户 or monitored (a per-household mask)."""
    p = city.persons
    n = len(city.hh)
    hh_of = p["hh"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    age = p["age"].to_numpy()
    head = p["relation"].to_numpy() == "户主"
    # Members still registered at the end of last year (living, or cancelled this year).
    year_start = np.datetime64(f"{int(str(city.as_of)[:4])}-01-01", "D")
    cdate = p["cancel_date"].to_numpy().astype("datetime64[D]")
    prev_member = living | (cdate >= year_start)
    n_prev = np.bincount(hh_of[prev_member], minlength=n)

    def has(mask: np.ndarray) -> np.ndarray:
        return np.bincount(hh_of[mask], minlength=n) > 0

    eligible = {
        "R-LABOUR": has(living & ~head & (age >= 17) & (age <= 59)),
        # Rigid spending beats income only where income is small: 1-2 person households
        # outside the registry (their medical threshold is 20,000, so costs can stay
        # under every single-item threshold and still exceed the year's income).
        "R-RIGID": ~registered & (n_prev <= 2),
        "R-SCHOOL": has(living & (age >= 6) & (age <= 21)),
    }
    k = max(2, round(n * RULE_SHARE))
    taken = np.zeros(n, dtype=bool)
    rows = []
    for rule in RISK_RULES:
        pool = np.flatnonzero(eligible.get(rule, np.ones(n, dtype=bool)) & ~taken)
        pick = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
        taken[pick] = True
        rows.append(pd.DataFrame({"hh": pick, "rule": rule, "role": "primary"}))
    primary = pd.concat(rows, ignore_index=True)
    # A fifth of planted households get a second, independent hardship.
    sec = primary.loc[rng.random(len(primary)) < 0.2].copy()
    n_sec = len(_SECONDARY)
    prim = np.array([_SECONDARY.index(r) if r in _SECONDARY else n_sec for r in sec["rule"]])
    in_sec = prim < n_sec
    # Draw among the secondary rules other than the household's primary one.
    idx = (rng.random(len(sec)) * np.where(in_sec, n_sec - 1, n_sec)).astype(np.int64)
    idx += in_sec & (idx >= prim)
    rule = np.array(_SECONDARY, dtype=object)[idx]
    # R-LABOUR may remove the only working-age member: nobody is left to lose a job.
    rule[(sec["rule"].to_numpy() == "R-LABOUR") & (rule == "R-WORK")] = "R-MEDINS"
    sec["rule"] = rule
    sec["role"] = "secondary"
    risks = (
        pd.concat([primary, sec], ignore_index=True)
        .sort_values(["hh", "rule"], kind="stable")
        .reset_index(drop=True)
    )

    # Leads: some on planted households (they corroborate), some on quiet households.
    planted_hh = np.unique(risks["hh"].to_numpy())
    k_cor = max(2, round(len(planted_hh) * 0.15))
    cor = np.sort(rng.choice(planted_hh, size=min(k_cor, len(planted_hh)), replace=False))
    quiet = np.flatnonzero(~taken)
    k_lead = max(3, round(n * LEAD_SHARE))
    unc = np.sort(rng.choice(quiet, size=min(k_lead, len(quiet)), replace=False))
    leads = pd.concat(
        [
            pd.DataFrame({"hh": cor, "corroborated": True}),
            pd.DataFrame({"hh": unc, "corroborated": False}),
        ],
        ignore_index=True,
    )
    taken_lead = taken.copy()
    taken_lead[unc] = True

    # Asset flags: half on planted households (eligibility to verify), half on others.
    k_asset = max(2, round(n * ASSET_SHARE))
    arows = []
    used = np.zeros(n, dtype=bool)
    adult = has(living & (age >= 22) & (age <= 59))
    labour = np.zeros(n, dtype=bool)  # R-LABOUR may take the only adult: no asset there
    labour[risks.loc[risks["rule"] == "R-LABOUR", "hh"].to_numpy()] = True
    for kind in ASSET_KINDS:
        k_pl = k_asset // 2 + k_asset % 2
        pool_pl = np.flatnonzero(taken & adult & ~used & ~labour)
        pool_bg = np.flatnonzero(~taken_lead & adult & ~used)
        a = rng.choice(pool_pl, size=min(k_pl, len(pool_pl)), replace=False)
        b = rng.choice(pool_bg, size=min(k_asset - len(a), len(pool_bg)), replace=False)
        pick = np.sort(np.concatenate([a, b]))
        used[pick] = True
        arows.append(pd.DataFrame({"hh": pick, "kind": kind}))
    assets = pd.concat(arows, ignore_index=True)
    return Plan(risks=risks, leads=leads, assets=assets)
