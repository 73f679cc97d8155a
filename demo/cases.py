"""County decisions for the demo: case stories with a known outcome (ground truth).

The county answers the monitoring list through the ``county_decisions`` source. Stories,
each with the case status the pipeline must derive (``truth/cases.csv``):

- on flagged households: no decision yet (lead), verification started (verifying),
  admitted recently (confirmed, too soon to eliminate), admitted and helped for months
  (assisting, still at risk so not eligible), not admitted (leaves the list), and an old
  case eliminated for another risk that the current one reopens (case 2, a lead again);
- on quiet households: an old case being helped whose risk is gone (assisting, eligible
  for elimination, on the list as a watch), an elimination done right (off the list),
  a verification that found nothing (not admitted, off the list), and an elimination
  three months after admission (kept on the list as a conflict: six months are required).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from warehouse.rules import load_rule_set

from .city import City
from .periods import Periods

__all__ = ["DECISION_COLUMNS", "plan_cases"]

DECISION_COLUMNS = ["hh", "decision", "days_ago", "risk_types", "measures", "object_type"]
_RULES = load_rule_set()
# Counties write risk types three ways, all accepted: the national label (as on the list
# they were sent), the national code, or the project's earlier label.
LABELS = {code: kind.label for code, kind in _RULES["risk_types"].items()}
CODES = {code: code for code in LABELS}
OLD_LABELS = {**LABELS}
for _rule, _code in _RULES["risk_of_rule"].items():
    if _RULES.risk_code(_RULES.label(_rule)) == _code:
        OLD_LABELS[_code] = _RULES.label(_rule)
# An old case eliminated for a risk no rule raises, so any current risk is a new one.
GONE = _RULES.risk_label("05")
# Story -> (expected status, case_no, on the list, elimination check, conflict expected).
OUTCOMES = {
    "lead": ("lead", 1, True, "", False),
    "verifying": ("verifying", 1, True, "", False),
    "confirmed": ("confirmed", 1, True, "not_eligible", False),
    "assisting": ("assisting", 1, True, "not_eligible", False),
    "not_admitted": ("not_admitted", 1, False, "", False),
    "reopened": ("lead", 2, True, "", False),
    "hasty_eliminated": ("eliminated", 1, True, "", True),
    "recovered": ("assisting", 1, True, "eligible", False),
    "eliminated": ("eliminated", 1, False, "", False),
    "cleared": ("not_admitted", 1, False, "", False),
}


def _take(pool: np.ndarray, k: int, rng: np.random.Generator, used: np.ndarray) -> np.ndarray:
    pool = pool[~used[pool]]
    pick = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
    used[pick] = True
    return pick


def plan_cases(
    city: City,
    registry: pd.DataFrame,
    income_pc_cur: np.ndarray,
    hits: pd.DataFrame,
    near_hh: np.ndarray,
    periods: Periods,
    line: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(decisions, stories): decision rows to write, and one story per household decided
    on or flagged (``hh``, ``story``). ``income_pc_cur`` in yuan; ``line``: this year's."""
    n = len(city.hh)
    # Tags (兜底保障) are not risks: a household with only a tag is not on the list.
    risk = hits[hits["rule_id"].str.startswith("R-") & ~hits["rule_id"].isin(list(_RULES["tags"]))]
    rules_of = risk.groupby("hh")["rule_id"].agg(lambda s: sorted(set(s)))
    code = risk["risk_code"].fillna(risk["rule_id"].map(_RULES["risk_of_rule"]))
    codes_of = code.groupby(risk["hh"]).agg(lambda s: sorted(set(s)))
    flagged = rules_of.index.to_numpy()
    used = np.zeros(n, dtype=bool)
    k = max(1, round(len(flagged) * 0.08))

    stories = {}
    for story in ("reopened", "not_admitted", "verifying", "confirmed", "assisting"):
        stories[story] = _take(flagged, k, rng, used)
    # Every other flagged household (a risk, or a lead alone) waits for a decision.
    listed = np.union1d(flagged, hits.loc[hits["rule_id"].eq("LEAD"), "hh"].to_numpy())
    stories["lead"] = listed[~used[listed]]

    quiet = np.ones(n, dtype=bool)
    quiet[hits["hh"].to_numpy()] = False
    quiet[near_hh] = False
    p = city.persons
    wa = (
        (p["status"].to_numpy() == "正常")
        & (p["age"].to_numpy() >= 16)
        & (p["age"].to_numpy() <= 59)
    )
    has_wa = np.bincount(p["hh"].to_numpy()[wa], minlength=n) > 0
    comfortable = quiet & has_wa & (income_pc_cur >= 1.3 * line)
    for story in ("recovered", "eliminated", "cleared", "hasty_eliminated"):
        stories[story] = _take(np.flatnonzero(comfortable), max(1, k // 2), rng, used)

    object_type = np.where(
        registry["reg_type"].to_numpy() == "脱贫户", "脱贫不稳定户", "边缘易致贫户"
    )
    rows = []

    def add(hh, decision, days_ago, types="", measures=""):
        for h in np.atleast_1d(hh):
            rows.append((int(h), decision, int(days_ago), types, measures, object_type[h]))

    def labels(h, names=LABELS) -> str:
        return ";".join(names[c] for c in codes_of.get(h, []))

    for h in stories["verifying"]:
        add(h, "开始核实", rng.integers(1, 10), labels(h))
    for h in stories["confirmed"]:
        start = int(rng.integers(40, 120))
        add(h, "开始核实", start, labels(h, CODES))
        add(h, "认定纳入", start - 8, labels(h, CODES))
    for h in stories["assisting"]:
        start = int(rng.integers(210, 320))
        add(h, "开始核实", start, labels(h, OLD_LABELS))
        add(h, "认定纳入", start - 10, labels(h, OLD_LABELS))
        add(h, "落实帮扶", start - 30, "", "公益性岗位;技能培训")
    for h in stories["not_admitted"]:
        # After every dated signal (none is later than the day before the run).
        add(h, "开始核实", 12, labels(h))
        add(h, "不予纳入", 1, labels(h))
    for h in stories["reopened"]:
        add(h, "认定纳入", 330, GONE)
        add(h, "落实帮扶", 300, "", "产业帮扶")
        add(h, "风险消除", 90, GONE)
    for h in stories["hasty_eliminated"]:
        add(h, "认定纳入", 100, LABELS["01"])
        add(h, "落实帮扶", 90, "", "医疗救助")
        add(h, "风险消除", 20, LABELS["01"])
    for h in stories["recovered"]:
        add(h, "认定纳入", 280, LABELS["01"])
        add(h, "落实帮扶", 270, "", "医疗救助;技能培训")
    for h in stories["eliminated"]:
        add(h, "认定纳入", 360, LABELS["04"])
        add(h, "落实帮扶", 340, "", "受灾救助;公益性岗位")
        add(h, "风险消除", 30, LABELS["04"])
    for h in stories["cleared"]:
        add(h, "开始核实", 25, LABELS["01"])
        add(h, "不予纳入", 15, LABELS["01"])

    decisions = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    decisions["date"] = periods.day - decisions["days_ago"].to_numpy().astype("timedelta64[D]")
    decisions = decisions.sort_values(["date", "hh"], kind="stable").reset_index(drop=True)
    story = pd.concat(
        [pd.DataFrame({"hh": hh, "story": name}) for name, hh in stories.items() if len(hh)],
        ignore_index=True,
    ).sort_values("hh", kind="stable")
    return decisions, story.reset_index(drop=True)
