"""Risk rules: per-household signals with evidence, object types and grades, as of a date.

Every rule is set-based (vectorised pandas over linked staging rows) and reads its
thresholds from a rule set (YAML, ``default.yaml`` beside this file). The run date comes
in as ``as_of``: nothing here reads the clock, so a rerun for the same date gives the
same signals. Domain: shared/domain.md "Default rules".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from sqlalchemy import Engine, delete, select

from connectors.spec import load_specs
from warehouse.db import bulk_insert, read_frame
from warehouse.intermediate import linked_view
from warehouse.models import (
    DimHousehold,
    DimPerson,
    HouseholdFlag,
    RiskSignal,
    staging_table,
)

__all__ = [
    "RuleInputs",
    "RuleSet",
    "compute_signals",
    "flag_households",
    "load_rule_set",
    "run_rules",
]

DEFAULT_RULES = Path(__file__).with_name("default.yaml")
SIGNAL_COLUMNS = [
    "household_no",
    "rule_id",
    "source_id",
    "load_id",
    "row_number",
    "record_key",
    "event_date",
    "value",
    "threshold",
    "evidence",
]


@dataclass(frozen=True)
class RuleSet:
    """Thresholds of one province and year (see default.yaml for meanings)."""

    raw: dict

    def line(self, year: int) -> float:
        lines = {int(k): float(v) for k, v in self.raw["monitoring_line"].items()}
        # A year without its own line uses the latest line set before it.
        known = [y for y in lines if y <= year] or [min(lines)]
        return lines[max(known)]

    def label(self, rule_id: str) -> str:
        return self.raw["labels"].get(rule_id, rule_id)

    def __getitem__(self, key):
        return self.raw[key]


def load_rule_set(path: str | Path | None = None) -> RuleSet:
    with Path(path or DEFAULT_RULES).open(encoding="utf-8") as fh:
        return RuleSet(yaml.safe_load(fh))


PERSON_SOURCE = "gongan_hukou"
PERSON_COLUMNS = [
    "person_key",
    "household_no",
    "birth_date",
    "relation",
    "status",
    "cancel_date",
    "cancel_reason",
]


class RuleInputs:
    """Linked staging rows per source (household_no, person_key + staging columns) and the
    register's persons, read once per run.

    ``person_key`` of a linked row is the register person the record was linked to (not
    the key of its own, possibly mistyped, ID). Tests pass ``frames`` (per source) and
    ``persons`` (dim_person rows) directly: rules are pure functions of these frames.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        frames: dict[str, pd.DataFrame] | None = None,
        persons: pd.DataFrame | None = None,
    ):
        self.engine = engine
        self.specs = load_specs()
        self._cache: dict[str, pd.DataFrame] = {}
        for source_id, frame in (frames or {}).items():
            # Columns a test leaves out are there, empty, as in a staged source.
            empty = self._empty(source_id)
            missing = {
                c: pd.Series(None, index=frame.index, dtype=empty[c].dtype)
                for c in empty.columns
                if c not in frame and c != "source_id"
            }
            self._cache[source_id] = frame.assign(**missing, source_id=source_id)
        self._persons = None if persons is None else self._person_frame(persons)

    def persons(self) -> pd.DataFrame:
        """One row per register person (dim_person): household, birth date, status,
        cancellation; with the register row behind it as evidence (source_id, load_id,
        row_number, record_key of the latest gongan_hukou row)."""
        if self._persons is None:
            if self.engine is None:
                self._persons = self._person_frame(pd.DataFrame(columns=PERSON_COLUMNS))
            else:
                stg = staging_table(self.specs[PERSON_SOURCE])
                with self.engine.connect() as conn:
                    people = read_frame(
                        conn, select(*[DimPerson.__table__.c[c] for c in PERSON_COLUMNS])
                    )
                    rows = read_frame(
                        conn,
                        select(
                            stg.c.person_key, stg.c.record_key, stg.c.load_id, stg.c.row_number
                        ).where(stg.c.person_key.is_not(None)),
                    )
                rows = rows.sort_values(["load_id", "row_number"]).drop_duplicates(
                    "person_key", keep="last"
                )
                self._persons = self._person_frame(people.merge(rows, on="person_key", how="left"))
        return self._persons

    @staticmethod
    def _person_frame(people: pd.DataFrame) -> pd.DataFrame:
        people = people.copy()
        for col in [*PERSON_COLUMNS, "record_key", "load_id", "row_number"]:
            if col not in people:
                people[col] = None
        for col in ("birth_date", "cancel_date"):
            people[col] = pd.to_datetime(people[col])
        return people.assign(source_id=PERSON_SOURCE)

    def linked(self, source_id: str) -> pd.DataFrame:
        if source_id not in self._cache and self.engine is None:
            return self._empty(source_id)
        if source_id not in self._cache:
            # The int_ layer: the source's records joined to their linked household.
            stmt = select(linked_view(self.specs[source_id]))
            with self.engine.connect() as conn:
                frame = read_frame(conn, stmt)
            for col in self.specs[source_id].columns:
                if col.field in frame and col.type in ("date", "datetime", "month"):
                    frame[col.field] = pd.to_datetime(frame[col.field])
                elif col.field in frame and col.type in ("amount", "integer"):
                    frame[col.field] = pd.to_numeric(frame[col.field])
            frame["source_id"] = source_id
            self._cache[source_id] = frame
        return self._cache[source_id]

    def _empty(self, source_id: str) -> pd.DataFrame:
        spec = self.specs[source_id]
        columns = ["household_no", "person_key", "record_key", "load_id", "row_number"]
        columns += spec.fields
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        for col in spec.columns:
            if col.type in ("date", "datetime", "month"):
                frame[col.field] = pd.Series(dtype="datetime64[ns]")
            elif col.type in ("amount", "integer"):
                frame[col.field] = pd.Series(dtype=float)
        return frame.assign(source_id=source_id)


def _signals(
    frame: pd.DataFrame, rule_id: str, value, threshold, evidence, event_date=None, gap=False
) -> pd.DataFrame:
    """Signals of the frame's rows. ``gap``: this signal is a 三保障/water gap (red on its
    own); signals of a rule listed in ``gap_rules`` are gaps whatever is passed here."""
    out = pd.DataFrame(
        {
            "household_no": frame["household_no"].to_numpy(),
            "rule_id": rule_id,
            "source_id": frame["source_id"].to_numpy(),
            "load_id": frame["load_id"].to_numpy(),
            "row_number": frame["row_number"].to_numpy(),
            "record_key": frame["record_key"].to_numpy(),
        }
    )
    for name, val in (
        ("value", value),
        ("threshold", threshold),
        ("evidence", evidence),
        ("event_date", event_date),
        ("gap", gap),
    ):
        out[name] = val.to_numpy() if isinstance(val, pd.Series) else val
    return out


def _in_window(dates: pd.Series, as_of: dt.date, months: int) -> pd.Series:
    end = pd.Timestamp(as_of)
    return (dates > end - pd.DateOffset(months=months)) & (dates <= end)


def _fmt(values: pd.Series) -> pd.Series:
    return values.round(0).astype("Int64").astype("string")


def _age(birth: pd.Series, on) -> pd.Series:
    """Completed years from ``birth`` to ``on`` (a date or a Series of dates); NA if unknown."""
    on = pd.to_datetime(on)
    birth = pd.to_datetime(birth)
    if isinstance(on, pd.Series):
        oy, om, od = on.dt.year, on.dt.month, on.dt.day
    else:
        oy, om, od = on.year, on.month, on.day
    by, bm, bd = birth.dt.year, birth.dt.month, birth.dt.day
    before = (bm > om) | ((bm == om) & (bd > od))
    return (oy - by - before.astype("Int64")).astype("Int64")


def _working_age(ages: pd.Series, rules: RuleSet) -> pd.Series:
    low, high = rules["working_age"]
    return ((ages >= low) & (ages <= high)).fillna(False).astype(bool)


def _months_back(months: pd.Series, as_of: dt.date) -> pd.Series:
    """0 for the as-of month, 1 for the month before, ...; negative for later months."""
    months = pd.to_datetime(months)
    return (as_of.year * 12 + as_of.month) - (months.dt.year * 12 + months.dt.month)


def _who(frame: pd.DataFrame) -> pd.Series:
    """The person a row is about: its linked register person, else the row itself."""
    if "person_key" not in frame:
        return frame["record_key"].astype(object)
    return frame["person_key"].astype(object).fillna(frame["record_key"])


def _latest(frame: pd.DataFrame, key, order: list[str]) -> pd.DataFrame:
    """The last row per key after sorting by ``order`` (then load and row number); an
    unknown value (a missing date) sorts first, so it never hides a known one."""
    return frame.sort_values(
        [*order, "load_id", "row_number"], kind="stable", na_position="first"
    ).drop_duplicates(key, keep="last")


def _living(persons: pd.DataFrame) -> pd.Series:
    return persons["status"].fillna("正常").ne("注销")


def _registered(inputs: RuleInputs) -> pd.Index:
    reg = inputs.linked("xczx_registry")
    mask = reg["registry_type"].eq("脱贫户") | reg["monitored_type"].notna()
    return pd.Index(reg.loc[mask, "household_no"].unique())


def _income(inputs: RuleInputs, rules: RuleSet) -> pd.DataFrame:
    """Per household and income year: per-capita and total net income (latest row wins)."""
    inc = inputs.linked("nync_income").sort_values(["load_id", "row_number"])
    return inc.dropna(subset=["year"]).drop_duplicates(["household_no", "year"], keep="last")


def rule_income(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    inc = _income(inputs, rules)
    latest = inc.sort_values("year").drop_duplicates("household_no", keep="last")
    latest = latest.dropna(subset=["income_pc"])
    line = latest["year"].astype(int).map(rules.line)
    below = latest[latest["income_pc"] < line]
    bl = line[below.index]
    year = below["year"].astype(int).astype(str)
    out = [
        _signals(
            below,
            "R-INCOME",
            below["income_pc"],
            bl,
            year
            + "年人均纯收入 "
            + _fmt(below["income_pc"])
            + " 元，低于监测线 "
            + _fmt(bl)
            + " 元",
        )
    ]
    margin = 1 + rules["near_line_margin"]
    near = latest[(latest["income_pc"] >= line) & (latest["income_pc"] < line * margin)]
    nl = line[near.index]
    out.append(
        _signals(
            near,
            "W-NEAR-LINE",
            near["income_pc"],
            nl * margin,
            "人均纯收入 " + _fmt(near["income_pc"]) + " 元，距监测线 " + _fmt(nl) + " 元不足 10%",
        )
    )
    prev = inc.assign(year=inc["year"] + 1)[["household_no", "year", "income_pc"]]
    pair = latest.merge(prev, on=["household_no", "year"], suffixes=("", "_prev"))
    drop_to = pair["income_pc_prev"] * (1 - rules["income_drop_ratio"])
    dropped = pair[(pair["income_pc"] <= drop_to) & (pair["income_pc_prev"] > 0)]
    out.append(
        _signals(
            dropped,
            "R-DROP",
            dropped["income_pc"],
            drop_to[dropped.index],
            "人均纯收入由 "
            + _fmt(dropped["income_pc_prev"])
            + " 元降至 "
            + _fmt(dropped["income_pc"])
            + " 元",
        )
    )
    return out


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


def rule_rigid(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    months = rules["window_months"]
    medical = _medical_costs(inputs, rules, as_of).groupby("household_no")["out_of_pocket"].sum()
    school = inputs.linked("jiaoyu_students")
    # Only school years that overlap the window, like the other rigid costs.
    school = school[_school_year_overlaps(school["school_year"], rules, as_of)]
    school = school.groupby("household_no")["self_paid"].sum()
    dis = inputs.linked("yingji_disaster")
    dis = dis[_in_window(dis["occurred_on"], as_of, months)]
    disaster = dis.groupby("household_no")["direct_loss"].sum()
    spend = pd.concat(
        [medical.rename("medical"), school.rename("school"), disaster.rename("disaster")], axis=1
    ).fillna(0)
    spend["total"] = spend.sum(axis=1)
    inc = _income(inputs, rules)
    prev = inc[inc["year"] == as_of.year - 1].set_index("household_no")
    joined = prev.join(spend, how="inner")
    hit = joined[(joined["total"] > joined["income_net"]) & joined["income_net"].notna()]
    hit = hit.reset_index()
    return [
        _signals(
            hit,
            "R-RIGID",
            hit["total"],
            hit["income_net"],
            "近12个月刚性支出 "
            + _fmt(hit["total"])
            + " 元（医疗 "
            + _fmt(hit["medical"])
            + "、教育 "
            + _fmt(hit["school"])
            + "、灾害 "
            + _fmt(hit["disaster"])
            + "）超过上年家庭纯收入 "
            + _fmt(hit["income_net"])
            + " 元",
        )
    ]


def _school_year_overlaps(school_year: pd.Series, rules: RuleSet, as_of: dt.date) -> pd.Series:
    """学年 like 2025-2026 overlapping the rolling window (a school year runs 12 months)."""
    start_year = pd.to_numeric(
        school_year.astype("string").str.extract(r"(\d{4})", expand=False), errors="coerce"
    )
    start = pd.to_datetime(
        {"year": start_year, "month": rules["school"]["year_start_month"], "day": 1},
        errors="coerce",
    )
    end = start + pd.DateOffset(months=12)
    window_start = pd.Timestamp(as_of) - pd.DateOffset(months=rules["window_months"])
    return (start <= pd.Timestamp(as_of)) & (end > window_start)


def rule_school(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """因学: a student's self-paid cost in a school year (sum of its terms) at or above the
    threshold; a child of compulsory-school age whose latest status is a dropout (a gap)."""
    cfg = rules["school"]
    st = inputs.linked("jiaoyu_students")
    st = st[_school_year_overlaps(st["school_year"], rules, as_of)]
    st = st.assign(
        who=_who(st),
        term_rank=st["term"].map({t: i for i, t in enumerate(cfg["term_order"])}).fillna(-1),
    )
    # A term re-sent later replaces the earlier one.
    terms = _latest(st, ["who", "school_year", "term"], [])
    per_year = terms.groupby(["who", "school_year"])["self_paid"].transform("sum")
    terms = terms.assign(year_total=per_year)
    bills = terms[terms["year_total"] >= cfg["min_self_paid"]]
    bills = _latest(bills, ["who", "school_year"], ["self_paid"])  # largest term as evidence
    out = [
        _signals(
            bills,
            "R-SCHOOL",
            bills["year_total"],
            float(cfg["min_self_paid"]),
            bills["school_year"].astype(str)
            + "学年教育自付费用 "
            + _fmt(bills["year_total"])
            + f" 元，达到阈值 {cfg['min_self_paid']:.0f} 元",
        )
    ]
    latest = _latest(st, "who", ["school_year", "term_rank"])
    gone = latest[latest["enrolment_status"].isin(cfg["dropout_status"])]
    people = inputs.persons().drop_duplicates("person_key").set_index("person_key")
    birth = pd.Series(people["birth_date"].reindex(gone["who"]).to_numpy(), index=gone.index)
    age = _age(birth, as_of)
    low, high = cfg["compulsory_age"]
    by_age = (age >= low) & (age <= high)
    by_stage = gone["stage"].isin(cfg["compulsory_stages"])  # only when the age is unknown
    gone = gone[by_age.fillna(by_stage).astype(bool).to_numpy()]
    out.append(
        _signals(
            gone,
            "R-SCHOOL",
            None,
            None,
            "义务教育阶段学生"
            + gone["enrolment_status"].astype(str)
            + "（"
            + gone["school_year"].astype(str)
            + gone["term"].fillna("").astype(str)
            + "，"
            + gone["stage"].fillna("").astype(str)
            + "）",
            gap=bool(cfg["dropout_is_gap"]),
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


def rule_assist(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """兜底保障: a case approved within the window; sources with the same cases count once."""
    cfg = rules["assist"]
    cases = pd.concat([inputs.linked(source) for source in cfg["sources"]], ignore_index=True)
    cases = cases[
        cases["category"].isin(cfg["categories"])
        & _in_window(cases["approval_date"], as_of, rules["window_months"])
    ]
    rank = {source: -i for i, source in enumerate(cfg["sources"])}
    cases = cases.assign(
        source_rank=cases["source_id"].map(rank).astype(float),
        day=cases["approval_date"].dt.normalize(),
    )
    cases = _latest(cases, ["household_no", "category", "day"], ["source_rank"])
    return [
        _signals(
            cases,
            "R-ASSIST",
            cases["monthly_amount"],
            None,
            "新增"
            + cases["category"].astype(str)
            + "（审批日期 "
            + cases["approval_date"].dt.strftime("%Y-%m-%d")
            + "）",
            event_date=cases["approval_date"],
        )
    ]


def rule_leads(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    months = rules["window_months"]
    dec = inputs.linked("declarations")
    dec = dec[_in_window(dec["applied_at"], as_of, months)]
    visits = inputs.linked("cadre_visits")
    visits = visits[_in_window(visits["visited_on"], as_of, months)]
    nothing = "|".join(rules["leads"]["no_finding_patterns"])
    visits = visits[~visits["finding"].fillna("").str.contains(nothing, regex=True)]
    return [
        _signals(
            dec,
            "L-DECLARATION",
            None,
            None,
            "农户申报（" + dec["reason"].astype(str) + "）：" + dec["reason_text"].fillna(""),
            event_date=dec["applied_at"].dt.normalize(),
        ),
        _signals(
            visits,
            "L-VISIT",
            None,
            None,
            "走访发现（"
            + visits["reason"].fillna("其他").astype(str)
            + "）："
            + visits["finding"].fillna(""),
            event_date=visits["visited_on"],
        ),
    ]


def rule_assets(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> list[pd.DataFrame]:
    """Asset checks: flags to verify eligibility, shown on the list, never a risk."""
    cfg = rules["assets"]
    cars = inputs.linked("gongan_vehicle")
    cars = cars[
        cars["vehicle_type"].isin(cfg["vehicle_types"])
        & cars["vehicle_status"].isin(cfg["vehicle_active_status"])
    ]
    firms = inputs.linked("scjg_business")
    firms = firms[
        firms["entity_type"].isin(cfg["company_types"])
        & firms["registration_status"].isin(cfg["company_active_status"])
    ]
    payroll = inputs.linked("caizheng_payroll")
    props = inputs.linked("bdc_property")
    props = props[props["right_status"].eq("现势")]
    count = props.groupby("household_no")["record_key"].transform("size")
    props = props[count >= cfg["min_active_properties"]].drop_duplicates("household_no")
    return [
        _signals(cars, "A-VEHICLE", None, None, "车辆：" + cars["vehicle_type"].astype(str)),
        _signals(
            firms,
            "A-COMPANY",
            None,
            None,
            "法定代表人："
            + firms["company_name"].fillna("").astype(str)
            + "（"
            + firms["entity_type"].astype(str)
            + "）",
        ),
        _signals(
            payroll,
            "A-PAYROLL",
            None,
            None,
            "财政供养：" + payroll["staff_category"].fillna("").astype(str),
        ),
        _signals(
            props,
            "A-PROPERTY",
            count[props.index].astype(float),
            float(cfg["min_active_properties"]),
            "现势不动产 " + count[props.index].astype(str) + " 处",
        ),
    ]


RULES = (
    rule_income,
    rule_medical,
    rule_disaster,
    rule_housing,
    rule_rigid,
    rule_school,
    rule_disability,
    rule_work,
    rule_labour,
    rule_water,
    rule_medins,
    rule_assist,
    rule_leads,
    rule_assets,
)


def compute_signals(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """Every signal of every household as of the date (not yet written)."""
    parts = [part for rule in RULES for part in rule(inputs, rules, as_of) if len(part)]
    if not parts:
        return pd.DataFrame(columns=[*SIGNAL_COLUMNS, "gap", "risk_type"])
    signals = pd.concat(parts, ignore_index=True)[[*SIGNAL_COLUMNS, "gap"]]
    signals["risk_type"] = signals["rule_id"].map(rules.label)
    signals["gap"] = signals["gap"].astype(bool) | signals["rule_id"].isin(rules["gap_rules"])
    return signals.sort_values(
        ["household_no", "rule_id", "source_id", "load_id", "row_number"]
    ).reset_index(drop=True)


def _lead_reason(signals: pd.DataFrame) -> pd.Series:
    reason = signals["evidence"].str.extract(r"^[^（]*（([^）]*)）", expand=False)
    kind = signals["rule_id"].map({"L-DECLARATION": "申报", "L-VISIT": "走访"})
    return reason + "（" + kind + "）"


def flag_households(
    signals: pd.DataFrame, rules: RuleSet, inputs: RuleInputs, as_of: dt.date
) -> pd.DataFrame:
    """One row per flagged household: object type, risk types, grade, lead date."""
    if signals.empty:
        return pd.DataFrame(columns=[c.name for c in HouseholdFlag.__table__.c])
    is_asset = signals["rule_id"].str.startswith("A-")
    assets = signals[is_asset]
    sig = signals[~is_asset].copy()
    if sig.empty:
        return pd.DataFrame(columns=[c.name for c in HouseholdFlag.__table__.c])
    is_risk = sig["rule_id"].str.startswith("R-")
    is_lead = sig["rule_id"].str.startswith("L-")
    sig["label"] = sig["risk_type"].where(~is_lead, _lead_reason(sig))
    # Labels in the rule set's order: risks first, then watch signals, then leads.
    rank = {rule_id: i for i, rule_id in enumerate(rules["labels"])}
    labels = (
        sig.drop_duplicates(["household_no", "label"])
        .assign(order=lambda f: f["rule_id"].map(rank).fillna(len(rank)))
        .sort_values(["household_no", "order", "label"])
        .groupby("household_no")["label"]
        .agg(";".join)
    )
    risk_rules = sig[is_risk].groupby("household_no")["rule_id"].agg(lambda s: set(s))
    flags = pd.DataFrame({"risk_types": labels})
    flags["evidence_count"] = sig.groupby("household_no").size()
    flags["lead_date"] = sig[is_lead].groupby("household_no")["event_date"].min()
    flags["rules"] = risk_rules.reindex(flags.index).apply(
        lambda v: v if isinstance(v, set) else set()
    )
    n_risks = flags["rules"].map(len)
    # A gap: a signal marked so by its rule (e.g. a dropout), or any signal of a gap rule.
    gap = sig["rule_id"].isin(rules["gap_rules"])
    if "gap" in sig:
        gap = gap | sig["gap"].fillna(False).astype(bool)
    has_gap = gap.groupby(sig["household_no"]).any().reindex(flags.index, fill_value=False)
    red = flags["rules"].map(lambda r: "R-RIGID" in r) | has_gap | (n_risks >= 2)
    flags["grade"] = "green"
    flags.loc[n_risks == 1, "grade"] = "yellow"
    flags.loc[red, "grade"] = "red"

    reg = (
        inputs.linked("xczx_registry")
        .sort_values(["load_id", "row_number"])
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    above_line = sig[sig["rule_id"] == "W-NEAR-LINE"]["household_no"]
    income = (
        _income(inputs, rules)
        .sort_values("year")
        .drop_duplicates("household_no", keep="last")
        .set_index("household_no")
    )
    line = income["year"].astype(int).map(rules.line)
    income_ok = (income["income_pc"] >= line).reindex(flags.index, fill_value=False)
    monitored = reg["monitored_type"].reindex(flags.index)
    registered = reg["registry_type"].reindex(flags.index).eq("脱贫户")
    object_type = pd.Series("边缘易致贫户", index=flags.index)
    object_type[income_ok | flags.index.isin(above_line)] = "突发严重困难户"
    object_type[registered] = "脱贫不稳定户"
    object_type = monitored.fillna(object_type)
    flags["object_type"] = object_type
    flags["as_of"] = as_of
    asset_labels = (
        assets.assign(label=assets["rule_id"].map(rules.label), order=assets["rule_id"].map(rank))
        .drop_duplicates(["household_no", "label"])
        .sort_values(["household_no", "order"])
        .groupby("household_no")["label"]
        .agg(";".join)
    )
    flags["asset_check"] = asset_labels.reindex(flags.index)
    flags["lead_date"] = pd.to_datetime(flags["lead_date"]).dt.date
    flags = flags.reset_index().rename(columns={"index": "household_no"})
    return flags[[c.name for c in HouseholdFlag.__table__.c]]


def run_rules(engine: Engine, as_of: dt.date, rules: RuleSet | None = None) -> pd.DataFrame:
    """Compute and store the signals and household flags of one run date (replacing it)."""
    rules = rules or load_rule_set()
    inputs = RuleInputs(engine)
    signals = compute_signals(inputs, rules, as_of)
    flags = flag_households(signals, rules, inputs, as_of)
    with engine.connect() as conn:
        known = set(read_frame(conn, select(DimHousehold.household_no))["household_no"])
    flags = flags[flags["household_no"].isin(known)]
    with engine.begin() as conn:
        conn.execute(delete(RiskSignal).where(RiskSignal.as_of == as_of))
        conn.execute(delete(HouseholdFlag).where(HouseholdFlag.as_of == as_of))
        bulk_insert(
            conn,
            RiskSignal.__table__,
            signals.assign(as_of=as_of, signal_no=range(1, len(signals) + 1))[
                [c.name for c in RiskSignal.__table__.c]
            ],
        )
        bulk_insert(conn, HouseholdFlag.__table__, flags)
    return flags
