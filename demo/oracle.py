"""Ground truth of hardship: domain.md's default rules evaluated on the clean facts.

This is what a correct pipeline should find once every quirk is undone. `check_plan`
verifies that the generator did what it meant to: every planted rule fires, and no rule
fires for a background household.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .city import WORK_MAX, WORK_MIN, City, age_on
from .facts import EMPLOYED, LINE_CUR, LINE_PREV, UNEMPLOYED, Facts
from .plan import RISK_RULES, Plan

__all__ = ["CARS", "COMPANIES", "check_plan", "evaluate_rules"]

CARS = ("小型普通客车", "小型轿车", "中型客车")
COMPANIES = ("有限责任公司", "股份有限公司")
MED_LIMIT_REGISTERED, MED_LIMIT_OTHER = 500_000, 2_000_000  # cents
SCHOOL_LIMIT, DISASTER_LIMIT = 1_000_000, 1_000_000


def _yuan(c: np.ndarray) -> np.ndarray:
    return (np.asarray(c) / 100).round(2).astype(str)


def evaluate_rules(city: City, f: Facts) -> pd.DataFrame:
    """All rule hits as (hh, rule_id, detail), one row per household and rule."""
    per = f.periods
    p = city.persons
    n = len(city.hh)
    hh_of = p["hh"].to_numpy()
    day = per.day
    year_ago = day - np.timedelta64(365, "D")
    hits: list[pd.DataFrame] = []

    def add(hh: np.ndarray, rule: str, detail: np.ndarray | str, code=None) -> None:
        hits.append(
            pd.DataFrame(
                {
                    "hh": np.asarray(hh, dtype=np.int64),
                    "rule_id": rule,
                    "detail": detail,
                    "risk_code": code,  # None: the rule's national type
                }
            )
        )

    inc = f.income
    pc_cur, pc_prev = inc["pc_cur"].to_numpy(), inc["pc_prev"].to_numpy()
    h = np.flatnonzero(pc_cur < LINE_CUR * 100)
    add(h, "R-INCOME", f"{per.year}年人均纯收入 " + _yuan(pc_cur[h]) + f" 元 < {LINE_CUR:.0f}")
    h = np.flatnonzero(pc_prev < LINE_PREV * 100)
    add(
        h,
        "R-INCOME",
        f"{per.prev_year}年人均纯收入 " + _yuan(pc_prev[h]) + f" 元 < {LINE_PREV:.0f}",
    )
    h = np.flatnonzero(pc_cur <= 0.7 * pc_prev)
    add(h, "R-DROP", "人均纯收入 " + _yuan(pc_prev[h]) + " -> " + _yuan(pc_cur[h]))

    s = f.settlements
    self_c = s["self_c"].to_numpy().copy()
    if len(f.corrections):
        pos = pd.Index(s["setl_id"]).get_indexer(f.corrections["setl_id"])
        self_c[pos] = f.corrections["self_c"].to_numpy()
    med = np.bincount(s["hh"].to_numpy(), weights=self_c, minlength=n).astype(np.int64)
    sch = np.bincount(
        f.students["hh"].to_numpy(), weights=f.students["selfpay_c"].to_numpy(), minlength=n
    ).astype(np.int64)
    dis = np.bincount(
        f.disasters["hh"].to_numpy(), weights=f.disasters["loss_c"].to_numpy(), minlength=n
    ).astype(np.int64)
    rigid = med + sch + dis
    h = np.flatnonzero(rigid > inc["total_prev"].to_numpy())
    # Its national type is the cause of the largest cost (ties: medical, school, disaster).
    cause = np.array(["01", "02", "04"], dtype=object)[np.argmax([med[h], sch[h], dis[h]], axis=0)]
    add(
        h,
        "R-RIGID",
        "刚性支出 "
        + _yuan(rigid[h])
        + " 元 > 上年家庭纯收入 "
        + _yuan(inc["total_prev"].to_numpy()[h])
        + " 元",
        cause,
    )
    registered = f.registry["registered"].to_numpy()
    limit = np.where(registered, MED_LIMIT_REGISTERED, MED_LIMIT_OTHER)
    h = np.flatnonzero(med >= limit)
    add(h, "R-MEDICAL", "12个月医疗自付 " + _yuan(med[h]) + " 元")
    ill = f.illness[f.illness["pidx"] >= 0]
    add(hh_of[ill["pidx"].to_numpy()], "R-MEDICAL", "大病专项救治: " + ill["disease"].to_numpy())

    st = f.students
    big = st["selfpay_c"].to_numpy() >= SCHOOL_LIMIT
    add(
        st["hh"].to_numpy()[big],
        "R-SCHOOL",
        "自付费用 " + _yuan(st["selfpay_c"].to_numpy()[big]) + " 元",
    )
    age = p["age"].to_numpy()[st["pidx"].to_numpy()]
    gone = np.isin(st["status"].to_numpy(), ["辍学", "疑似辍学"]) & (age >= 6) & (age <= 15)
    add(st["hh"].to_numpy()[gone], "R-SCHOOL", "义务教育阶段" + st["status"].to_numpy()[gone])

    d = f.disability
    new = (
        (d["grade"].to_numpy() <= 2)
        & (d["status"].to_numpy() == "有效")
        & (d["issued"].to_numpy() > year_ago)
    )
    add(
        hh_of[d["pidx"].to_numpy()[new]],
        "R-DISABILITY",
        "新办残疾证 " + np.array(["", "一级", "二级"], dtype=object)[d["grade"].to_numpy()[new]],
    )

    ev_date = f.events.set_index("event")["date"]
    dz = f.disasters
    recent = ev_date.reindex(dz["event"]).to_numpy() > year_ago
    bad = recent & ((dz["loss_c"].to_numpy() >= DISASTER_LIMIT) | (dz["collapsed"].to_numpy() > 0))
    add(
        dz["hh"].to_numpy()[bad],
        "R-DISASTER",
        "损失 "
        + _yuan(dz["loss_c"].to_numpy()[bad])
        + " 元, 倒塌 "
        + dz["collapsed"].to_numpy()[bad].astype(str)
        + " 间",
    )

    _work_rules(city, f, add)
    _labour_rules(city, per, add)

    hs = f.housing
    poor = np.isin(hs["grade"].to_numpy(), ["C", "D"])
    add(hs["hh"].to_numpy()[poor], "R-HOUSING", "鉴定等级 " + hs["grade"].to_numpy()[poor])
    w = f.water
    bad = (
        (w["litres"].to_numpy() < 40)
        | (w["minutes"].to_numpy() > 20)
        | (w["quality"].to_numpy() == "否")
    )
    add(
        w["hh"].to_numpy()[bad],
        "R-WATER",
        "用水量 "
        + w["litres"].to_numpy()[bad].astype(str)
        + " 升, 往返 "
        + w["minutes"].to_numpy()[bad].astype(str)
        + " 分钟, 水质达标:"
        + w["quality"].to_numpy()[bad],
    )
    e = f.enrollment
    no = e["status"].to_numpy() == "未参保"
    add(hh_of[e["pidx"].to_numpy()[no]], "R-MEDINS", "成员未参保")
    a = f.assistance
    new = (a["approved"].to_numpy() > year_ago) & a["ended"].isna().to_numpy()
    add(a["hh"].to_numpy()[new], "R-ASSIST", "新增" + a["category"].to_numpy()[new])

    dec = f.declarations
    add(dec["hh"].to_numpy(), "LEAD", "自主申报: " + dec["reason"].to_numpy())
    vis = f.visits[f.visits["category"] != ""]
    add(vis["hh"].to_numpy(), "LEAD", "走访发现: " + vis["category"].to_numpy())
    _asset_rules(city, f, add)

    out = pd.concat(hits, ignore_index=True)
    out = out.sort_values(["hh", "rule_id"], kind="stable")  # first added detail wins
    return out.drop_duplicates(["hh", "rule_id"]).reset_index(drop=True)


def _work_rules(city: City, f: Facts, add) -> None:
    per = f.periods
    p = city.persons
    n = len(city.hh)
    hh_of = p["hh"].to_numpy()
    emp = f.employment
    ehh = hh_of[emp.pidx]
    new = (emp.status[:, -1] == UNEMPLOYED) & (emp.unemp_date >= per.month_start(9))
    add(ehh[new], "R-WORK", "新登记失业")
    # Average over the months with a wage in the 9 months before; a missing wage in the
    # last 3 months counts as nothing earned.
    paid = ~np.isnan(emp.wage[:, :9])
    before = np.nan_to_num(emp.wage[:, :9]).sum(axis=1) / np.maximum(paid.sum(axis=1), 1)
    last = np.nan_to_num(emp.wage[:, 9:]).mean(axis=1)
    cut = (before > 0) & (last < 0.5 * before)
    add(ehh[cut & ~new], "R-WORK", "近3月平均工资不足此前一半")
    # Working-age members but none employed in the latest month.
    age = p["age"].to_numpy()
    wa = (p["status"].to_numpy() == "正常") & (age >= WORK_MIN) & (age <= WORK_MAX)
    has_wa = np.bincount(hh_of[wa], minlength=n) > 0
    working = np.isin(emp.status[:, -1], EMPLOYED)
    has_job = np.bincount(ehh[working], minlength=n) > 0
    add(np.flatnonzero(has_wa & ~has_job), "R-WORK", "有劳动年龄成员但无人就业")


def _labour_rules(city: City, per, add) -> None:
    p = city.persons
    n = len(city.hh)
    hh_of = p["hh"].to_numpy()
    dead = p["cancel_reason"].to_numpy() == "死亡"
    cdate = p["cancel_date"].to_numpy().astype("datetime64[D]")
    recent = dead & (cdate > per.day - np.timedelta64(365, "D"))
    idx = np.flatnonzero(recent)
    at_death = age_on(p["birth"].to_numpy()[idx], cdate[idx])
    wa_death = idx[(at_death >= WORK_MIN) & (at_death <= WORK_MAX)]
    add(hh_of[wa_death], "R-LABOUR", "劳动年龄成员死亡")
    age = p["age"].to_numpy()
    living = p["status"].to_numpy() == "正常"
    wa = living & (age >= WORK_MIN) & (age <= WORK_MAX)
    has_any = np.bincount(hh_of[living], minlength=n) > 0
    has_wa = np.bincount(hh_of[wa], minlength=n) > 0
    add(np.flatnonzero(has_any & ~has_wa), "R-LABOUR", "无劳动年龄成员")


def _asset_rules(city: City, f: Facts, add) -> None:
    hh_of = city.persons["hh"].to_numpy()
    v = f.vehicles
    car = (
        (v["pidx"].to_numpy() >= 0)
        & np.isin(v["type"].to_numpy(), CARS)
        & (v["status"].to_numpy() == "正常")
    )
    add(hh_of[v["pidx"].to_numpy()[car]], "ASSET", "车辆: " + v["type"].to_numpy()[car])
    b = f.business
    rep = (b["pidx"].to_numpy() >= 0) & np.isin(b["type"].to_numpy(), COMPANIES)
    add(hh_of[b["pidx"].to_numpy()[rep]], "ASSET", "法定代表人: " + b["type"].to_numpy()[rep])
    pay = f.payroll[f.payroll["pidx"] >= 0]
    add(hh_of[pay["pidx"].to_numpy()], "ASSET", "财政供养: " + pay["category"].to_numpy())
    pr = f.property
    act = (pr["pidx"].to_numpy() >= 0) & (pr["status"].to_numpy() == "现势")
    cnt = np.bincount(hh_of[pr["pidx"].to_numpy()[act]], minlength=len(city.hh))
    h = np.flatnonzero(cnt >= 2)
    add(h, "ASSET", "现势不动产 " + cnt[h].astype(str) + " 处")


def check_plan(plan: Plan, hits: pd.DataFrame, n_households: int) -> None:
    """Raise if a planted rule does not fire or a background household crosses a rule."""
    risk = hits[hits["rule_id"].isin(RISK_RULES)]
    got = set(zip(risk["hh"].tolist(), risk["rule_id"].tolist(), strict=True))
    want = set(zip(plan.risks["hh"].tolist(), plan.risks["rule"].tolist(), strict=True))
    missing = sorted(want - got)
    planted = plan.planted_mask(n_households)
    stray = risk[~planted[risk["hh"].to_numpy()]]
    problems = []
    if missing:
        problems.append(f"planted but not firing: {missing[:10]}")
    if len(stray):
        problems.append(
            f"background households crossing a rule: {stray.head(10).to_dict('records')}"
        )
    lead_hh = set(hits.loc[hits["rule_id"] == "LEAD", "hh"].tolist())
    if lead_hh != set(plan.leads["hh"].tolist()):
        problems.append("leads differ from the plan")
    asset_hh = set(hits.loc[hits["rule_id"] == "ASSET", "hh"].tolist())
    if asset_hh != set(plan.assets["hh"].tolist()):
        diff = sorted(asset_hh ^ set(plan.assets["hh"].tolist()))
        problems.append(f"asset flags differ from the plan: {diff[:10]}")
    if problems:
        raise AssertionError("demo city is inconsistent: " + "; ".join(problems))
