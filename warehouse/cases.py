"""The case lifecycle of monitored households, derived per run date (set-based, reproducible).

A case starts as a lead (线索) when the rules flag a household, moves with the county's
decisions (source ``county_decisions``: 开始核实 -> verifying, 认定纳入 -> confirmed,
落实帮扶 -> assisting, 不予纳入 -> not_admitted, 风险消除 -> eliminated) and stays on the
monitoring list while open, flagged or not. A closed case (not admitted, eliminated) leaves
the list; a *new* risk opens the next case as a lead again. New means a risk type the
county did not decide on, or a dated signal after the closing decision: evidence the
county already weighed never reopens a case.

For confirmed and assisting cases the elimination-eligibility check (domain.md) lists what
still blocks 风险消除; a county elimination the rules contradict is kept as
``decision_conflict`` (a warning is a lead to verify, never a verdict).

Everything here is a pure function of frames (``derive_cases``) so it is tested on tiny
inputs; ``build_cases`` reads them from the warehouse and stores ``household_case``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, case, delete, select

from connectors.spec import load_specs
from warehouse.db import bulk_insert, read_frame
from warehouse.models import (
    DimHousehold,
    DimPerson,
    HouseholdCase,
    HouseholdFlag,
    RecordLink,
    RiskSignal,
    staging_table,
)
from warehouse.partition import in_county
from warehouse.rules import RuleInputs, RuleSet
from warehouse.rules.inputs import _age, _living, _working_age
from warehouse.rules.rolling import income_by_year

__all__ = ["CaseInputs", "build_cases", "case_counts", "derive_cases", "suggest_measures"]

DECISIONS_SOURCE = "county_decisions"
CASE_COLUMNS = [c.name for c in HouseholdCase.__table__.c]
_SPLIT = re.compile(r"[;；,，、\s]+")


@dataclass
class CaseInputs:
    """What the lifecycle is derived from (all frames; see ``build_cases`` for the reads).

    - ``flags``: household_flag rows of every run date up to the one derived (history).
    - ``signals``: risk_signal rows of the run date (household_no, rule_id, risk_type,
      event_date).
    - ``decisions``: county decisions (household_no, decision, decided_on, risk_types,
      measures, object_type, load_id, row_number).
    - ``persons``: register persons (household_no, birth_date, status).
    - ``income``: per household and year, per-capita income (household_no, year, income_pc).
    """

    flags: pd.DataFrame
    signals: pd.DataFrame
    decisions: pd.DataFrame
    persons: pd.DataFrame
    income: pd.DataFrame


def _items(values: pd.Series, keys: pd.Series) -> pd.DataFrame:
    """'因病；因学' per key -> one (key, item) row per listed item, blanks dropped."""
    split = values.fillna("").astype(str).str.split(_SPLIT, regex=True)
    items = pd.DataFrame({"key": keys.to_numpy(), "item": split.to_numpy()}).explode("item")
    return items[items["item"].notna() & items["item"].ne("")]


def _union(items: pd.DataFrame) -> pd.Series:
    """Per key, its distinct items in order of first appearance, ';'-joined."""
    items = items.drop_duplicates()
    return items.groupby("key", sort=False)["item"].agg(";".join)


def _codes(names: pd.Series, rules: RuleSet) -> pd.Series:
    """National risk type codes of the names a county wrote; an unknown name stays itself
    (it then matches no signal, so the signal counts as new)."""
    return names.map(rules.risk_names).fillna(names)


def _national(names: pd.Series, rules: RuleSet) -> pd.Series:
    """The national label of each name a county wrote (unknown names unchanged)."""
    return _codes(names, rules).map(rules.risk_label)


def suggest_measures(
    risk_rules: pd.DataFrame, labour: pd.Series, object_type: pd.Series, rules: RuleSet
) -> pd.Series:
    """Suggested help measures per household: by risk type, then by labour, then for all.

    ``risk_rules``: (household_no, rule_id) rows; ``labour``: working-age members per
    household; ``object_type``: per household. Returns ';'-joined measures per household.
    """
    cfg = rules["measures"]
    households = labour.index
    by_risk = risk_rules.assign(
        measure=risk_rules["rule_id"].map(lambda r: cfg["by_risk"].get(r, []))
    )
    has_labour = labour.gt(0)
    edge = object_type.reindex(households).eq("边缘易致贫户")
    parts = [
        by_risk[["household_no", "measure"]],
        pd.DataFrame(
            {
                "household_no": households,
                "measure": np.where(
                    has_labour,
                    pd.Series([cfg["with_labour"]] * len(households), dtype=object),
                    pd.Series([cfg["without_labour"]] * len(households), dtype=object),
                ),
            }
        ),
        pd.DataFrame(
            {
                "household_no": households[has_labour.to_numpy() & edge.to_numpy()],
                "measure": [cfg["with_labour_edge"]] * int((has_labour & edge).sum()),
            }
        ),
        pd.DataFrame({"household_no": households, "measure": [cfg["everyone"]] * len(households)}),
    ]
    frame = pd.concat(parts, ignore_index=True).explode("measure")
    frame = frame[frame["household_no"].isin(households) & frame["measure"].notna()]
    return _union(frame.rename(columns={"household_no": "key", "measure": "item"})).reindex(
        households
    )


def _working_age_members(persons: pd.DataFrame, rules: RuleSet, as_of: dt.date) -> pd.Series:
    living = persons[_living(persons)]
    ages = _age(living["birth_date"], as_of)
    return _working_age(ages, rules).groupby(living["household_no"]).sum().astype(int)


def _decision_events(decisions: pd.DataFrame, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """Decisions up to the run date, in order, each with its status and case episode."""
    cfg = rules["cases"]
    d = decisions.copy()
    d["decided_on"] = pd.to_datetime(d["decided_on"])
    d = d[d["household_no"].notna() & d["decided_on"].notna()]
    d = d[d["decided_on"] <= pd.Timestamp(as_of)]
    d["status"] = d["decision"].map(cfg["status_by_decision"])
    d = d[d["status"].notna()].sort_values(
        ["household_no", "decided_on", "load_id", "row_number"], kind="stable"
    )
    closing = d["status"].isin(cfg["closing"])
    # Episode k holds the decisions after the k-th close, the closing decision included.
    d["episode"] = closing.astype(int).groupby(d["household_no"]).cumsum() - closing.astype(int)
    d["closing"] = closing
    return d.reset_index(drop=True)


def derive_cases(inputs: CaseInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """The current case of every household that was ever flagged or decided on."""
    cfg = rules["cases"]
    today = pd.Timestamp(as_of)
    flags = inputs.flags.copy()
    flags["as_of"] = pd.to_datetime(flags["as_of"])
    flags = flags[flags["as_of"] <= today]
    now = flags[flags["as_of"] == today].set_index("household_no").rename_axis(None)
    signals = inputs.signals.copy()
    signals["event_date"] = pd.to_datetime(signals["event_date"])
    if "risk_code" not in signals:
        signals["risk_code"] = signals["risk_type"].map(rules.risk_names)
    signals = signals[signals["household_no"].isin(now.index)]
    events = _decision_events(inputs.decisions, rules, as_of)

    # Unnamed, so that merges on a household_no column never meet an index of that name.
    households = pd.Index(sorted(set(flags["household_no"]) | set(events["household_no"])))
    if households.empty:
        return pd.DataFrame(columns=CASE_COLUMNS)
    case = pd.DataFrame(index=households)
    last = events.groupby("household_no").tail(1).set_index("household_no")
    closes = events[events["closing"]].groupby("household_no")
    case["closes"] = closes.size().reindex(households, fill_value=0)
    case["close_date"] = closes["decided_on"].max().reindex(households)
    case["last_status"] = last["status"].reindex(households)
    case["last_date"] = last["decided_on"].reindex(households)
    case["flagged"] = households.isin(now.index)
    closed_last = case["last_status"].isin(cfg["closing"])

    # A closed case reopens on a new risk: a type never decided on, or dated after the close.
    # Types compare by national code: a county may write the code, the national label or
    # an old label; a tag (兜底保障) is no risk and never reopens a case.
    decided = _items(events["risk_types"], events["household_no"]).rename(
        columns={"key": "household_no", "item": "types"}
    )
    decided["risk_code"] = _codes(decided["types"], rules)
    is_risk = signals["rule_id"].map(rules.is_risk).astype(bool)
    sig = signals[is_risk | signals["rule_id"].str.startswith("L-")].merge(
        case[["close_date"]], left_on="household_no", right_index=True
    )
    known = pd.MultiIndex.from_frame(decided[["household_no", "risk_code"]])
    untouched = ~pd.MultiIndex.from_frame(sig[["household_no", "risk_code"]]).isin(known)
    new_type = sig["rule_id"].map(rules.is_risk).astype(bool) & untouched
    after = sig["event_date"] > sig["close_date"]
    new = sig[new_type | after]
    reopened = closed_last & case["flagged"] & households.isin(new["household_no"])

    # The current episode: after the last close when reopened or still deciding.
    case["case_no"] = case["closes"] + 1
    case.loc[closed_last & ~reopened, "case_no"] = case["closes"]
    case["status"] = case["last_status"].where(~reopened, "lead").fillna("lead")
    case["reopened"] = reopened | (case["closes"].gt(0) & ~closed_last)
    episode = events.merge(case[["case_no"]], left_on="household_no", right_index=True).query(
        "episode == case_no - 1"
    )
    ep = episode.groupby("household_no")
    first_decision = ep["decided_on"].min().reindex(households)
    first_flag = flags.groupby("household_no")["as_of"].min().reindex(households)
    lead_date = pd.to_datetime(now["lead_date"]).reindex(households)
    flag_after = flags.merge(case[["close_date"]], left_on="household_no", right_index=True)
    flag_after = (
        flag_after[flag_after["as_of"] > flag_after["close_date"]]
        .groupby("household_no")["as_of"]
        .min()
        .reindex(households)
    )
    new_dated = new[new["event_date"] > new["close_date"]].groupby("household_no")["event_date"]
    first_episode = case["case_no"].eq(1)
    opened = pd.concat(
        [
            first_decision,
            first_flag.where(first_episode),
            lead_date.where(first_episode),
            flag_after.where(~first_episode),
            new_dated.min().reindex(households).where(~first_episode),
        ],
        axis=1,
    ).min(axis=1)
    case["opened_at"] = opened.fillna(today)
    case["status_since"] = case["last_date"].where(case["status"].ne("lead") & ~reopened)
    case["status_since"] = case["status_since"].fillna(case["opened_at"])
    deciding = case["status"].isin(["lead", "verifying"])
    due = case["opened_at"] + pd.Timedelta(days=int(rules["decision_days"]))
    case["decision_due"] = due.where(deciding)
    case["overdue"] = deciding & (due < today)
    confirmed = episode[episode["status"] == "confirmed"].groupby("household_no")["decided_on"]
    case["confirmed_at"] = confirmed.max().reindex(households)
    case["closed_at"] = case["close_date"].where(case["status"].isin(cfg["closing"]))
    decided_now = _items(episode["risk_types"], episode["household_no"])
    decided_now["item"] = _national(decided_now["item"], rules)
    case["decided_risk_types"] = _union(decided_now).reindex(households)
    applied = _items(episode["measures"], episode["household_no"])
    case["measures"] = _union(applied).reindex(households)
    n_measures = applied.drop_duplicates().groupby("key").size().reindex(households, fill_value=0)

    labour = _working_age_members(inputs.persons, rules, as_of).reindex(households, fill_value=0)
    case["working_age_members"] = labour
    # The type that stands: the county's, once it confirmed one in this case; else the
    # rules' (which hold the national system's type first: docs/policy.md).
    confirmed_types = episode[
        episode["status"].isin(["confirmed", "assisting"])
        & episode["object_type"].fillna("").ne("")
    ]
    county_type = confirmed_types.groupby("household_no")["object_type"].last()
    county_type = county_type.reindex(households)
    rules_type = now["object_type"].replace("", np.nan).reindex(households)
    object_type = county_type.fillna(rules_type)
    case["object_type"] = object_type
    case["object_type_source"] = np.where(
        county_type.notna(), "county", np.where(rules_type.notna(), "rules", None)
    )
    # Risks to help with: the current signals, else the types the county decided on.
    code_to_rule: dict[str, str] = {}
    for rule_id, code in rules["risk_of_rule"].items():
        code_to_rule.setdefault(code, rule_id)
    current = signals.loc[is_risk, ["household_no", "rule_id"]]
    decided_rules = (
        decided.assign(rule_id=decided["risk_code"].map(code_to_rule))
        .dropna(subset=["rule_id"])[["household_no", "rule_id"]]
        .loc[lambda f: ~f["household_no"].isin(current["household_no"])]
    )
    case["suggested_measures"] = suggest_measures(
        pd.concat([current, decided_rules], ignore_index=True).drop_duplicates(),
        labour,
        object_type,
        rules,
    )

    # 风险消除 eligibility for cases being helped, and county eliminations to re-check.
    eliminated = case["status"].eq("eliminated") & ~reopened
    blockers, conflicts = _elimination_check(
        case, inputs, flags, signals, labour, n_measures, eliminated, rules, today
    )
    helped = case["status"].isin(["confirmed", "assisting"])
    case["elimination_blockers"] = blockers.where(helped)
    case["elimination_check"] = np.where(
        helped, np.where(case["elimination_blockers"].isna(), "eligible", "not_eligible"), None
    )
    case["decision_conflict"] = conflicts
    # Closed cases leave the list, unless the closing decision needs a second look.
    case["on_list"] = (
        (case["flagged"] & ~(closed_last & ~reopened))
        | case["status"].isin(cfg["open"])
        | case["decision_conflict"].notna()
    )
    case["as_of"] = as_of
    case = case.rename_axis("household_no").reset_index()
    for col in ("opened_at", "status_since", "decision_due", "confirmed_at", "closed_at"):
        case[col] = pd.to_datetime(case[col]).dt.date
    case["case_no"] = case["case_no"].astype(int)
    return case[CASE_COLUMNS]


def _rules_flagged(flags: pd.DataFrame, rules: RuleSet) -> pd.DataFrame:
    """(household_no, as_of, rule_id) of every flag; flags written before rule ids were kept
    give their rules back from their labels."""
    if "rule_ids" in flags:
        items = _items(flags["rule_ids"], flags.index.to_series())
    else:
        items = pd.DataFrame(columns=["key", "item"])
    by_label = {label: rule_id for rule_id, label in rules["labels"].items()}
    old = flags.index[flags["rule_ids"].isna()] if "rule_ids" in flags else flags.index
    labels = _items(flags.loc[old, "risk_types"], old.to_series())
    labels["item"] = labels["item"].map(by_label)
    items = pd.concat([items, labels.dropna()], ignore_index=True)
    rows = flags.loc[items["key"].to_numpy(), ["household_no", "as_of"]].reset_index(drop=True)
    return rows.assign(rule_id=items["item"].to_numpy())


def _elimination_check(
    case: pd.DataFrame,
    inputs: CaseInputs,
    flags: pd.DataFrame,
    signals: pd.DataFrame,
    labour: pd.Series,
    n_measures: pd.Series,
    eliminated: pd.Series,
    rules: RuleSet,
    today: pd.Timestamp,
) -> tuple[pd.Series, pd.Series]:
    """(blockers, conflicts) per household, in Chinese; NaN where none holds.

    Blockers: the domain.md conditions for 风险消除 not met yet. Conflicts: for households
    the county marked eliminated, every condition that decision broke (income stable above
    the line, rigid costs, 三保障 and water, labour, six months, measures): judged on the
    flags of the months before the decision and on the run date's signals.
    """
    elim = rules["cases"]["elimination"]
    households = case.index
    months = int(elim["min_months_since_confirmed"])
    stable = pd.DateOffset(months=int(elim["income_stable_months"]))
    confirmed = case["confirmed_at"]
    too_soon = confirmed.isna() | (confirmed + pd.DateOffset(months=months) > today)
    few_measures = n_measures < int(elim["min_measures"])
    is_risk = signals["rule_id"].map(rules.is_risk).astype(bool)

    def signalled(rule_ids) -> np.ndarray:
        return households.isin(signals.loc[signals["rule_id"].isin(rule_ids), "household_no"])

    flagged = _rules_flagged(flags.reset_index(drop=True), rules)
    flagged = flagged.merge(case[["close_date"]], left_on="household_no", right_index=True)

    def flagged_before_close(rule_ids) -> np.ndarray:
        """Flagged for one of the rules in the months up to the closing decision."""
        hit = flagged[
            flagged["rule_id"].isin(rule_ids)
            & (flagged["as_of"] <= flagged["close_date"])
            & (flagged["as_of"] > flagged["close_date"] - stable)
        ]
        return households.isin(hit["household_no"])

    # Income stable: no income signal in any run of the last months, latest income >= line.
    recent = flagged[flagged["as_of"] > today - stable]
    income_risk = households.isin(
        recent.loc[recent["rule_id"].isin(elim["income_rules"]), "household_no"]
    )
    income_risk |= signalled(elim["income_rules"])
    inc = inputs.income.dropna(subset=["year"]).sort_values("year")
    inc = inc.drop_duplicates("household_no", keep="last").set_index("household_no")
    below = (inc["income_pc"] < inc["year"].astype(int).map(rules.line)).reindex(households)
    below_now = below.fillna(False).astype(bool)
    no_labour = labour.eq(0)
    at_risk = households.isin(signals.loc[is_risk, "household_no"])
    rigid_now, gaps_now = signalled(elim["rigid_rules"]), signalled(rules["gap_rules"])
    blockers = [
        (at_risk, "仍有风险预警"),
        (too_soon, f"认定未满{months}个月"),
        (few_measures, "未落实帮扶措施"),
        (income_risk | below_now, "收入未稳定高于监测线"),
        (below.isna(), "缺少收入数据"),
        (rigid_now, "刚性支出未化解"),
        (gaps_now, "三保障或饮水安全未保障"),
        (no_labour, "家庭无劳动力（不得标注风险消除）"),
    ]
    soon_at_close = confirmed.isna() | (
        confirmed + pd.DateOffset(months=months) > case["close_date"]
    )
    conflicts = [
        (no_labour, "无劳动力户不得标注风险消除"),
        (soon_at_close, f"认定未满{months}个月即标注风险消除"),
        (few_measures, "未落实帮扶措施即标注风险消除"),
        (
            flagged_before_close(elim["income_rules"]) | below_now,
            "收入未稳定高于监测线即标注风险消除",
        ),
        (below.isna(), "缺少收入数据即标注风险消除"),
        (flagged_before_close(elim["rigid_rules"]) | rigid_now, "刚性支出未化解即标注风险消除"),
        (
            flagged_before_close(rules["gap_rules"]) | gaps_now,
            "三保障或饮水安全未保障即标注风险消除",
        ),
    ]
    return (
        _join_reasons(blockers, households),
        _join_reasons(conflicts, households).where(eliminated),
    )


def _join_reasons(reasons: list[tuple[pd.Series, str]], index: pd.Index) -> pd.Series:
    """'；'-joined texts of the reasons that hold, per row (NaN when none holds)."""
    joined = pd.Series("", index=index, dtype=object)
    for mask, text in reasons:
        joined = joined + np.where(np.asarray(mask, dtype=bool), text + "；", "")
    joined = joined.str.rstrip("；")
    return joined.where(joined.ne(""))


def _decisions(engine: Engine, county: str | None = None) -> pd.DataFrame:
    """Every staged county decision with its household (of one ``county``, if given).

    The 户号 the county was given is the key; the head's link only fills an unknown one."""
    stg = staging_table(load_specs()[DECISIONS_SOURCE])
    household = case(
        (stg.c.hukou_no.in_(select(DimHousehold.household_no)), stg.c.hukou_no),
        else_=RecordLink.household_no,
    )
    stmt = (
        select(
            stg.c.hukou_no,
            stg.c.decision,
            stg.c.decided_on,
            stg.c.object_type,
            stg.c.risk_types,
            stg.c.measures,
            stg.c.load_id,
            stg.c.row_number,
            household.label("household_no"),
        )
        .outerjoin(
            RecordLink,
            and_(
                RecordLink.source_id == DECISIONS_SOURCE, RecordLink.record_key == stg.c.record_key
            ),
        )
        .where(in_county(household, county))
    )
    # Every read in a fixed order: results must not depend on the order rows come back in.
    stmt = stmt.order_by(stg.c.decided_on, stg.c.record_key)
    with engine.connect() as conn:
        return read_frame(conn, stmt)


def read_case_inputs(
    engine: Engine, as_of: dt.date, rules: RuleSet, county: str | None = None
) -> CaseInputs:
    """The lifecycle's inputs from the warehouse (flags up to the run date), for the city
    or one ``county``'s households."""
    rule_inputs = RuleInputs(engine, county=county)
    with engine.connect() as conn:
        flags = read_frame(
            conn,
            select(
                HouseholdFlag.as_of,
                HouseholdFlag.household_no,
                HouseholdFlag.object_type,
                HouseholdFlag.risk_types,
                HouseholdFlag.rule_ids,
                HouseholdFlag.lead_date,
            )
            .where(HouseholdFlag.as_of <= as_of, in_county(HouseholdFlag.household_no, county))
            .order_by(HouseholdFlag.as_of, HouseholdFlag.household_no),
        )
        signals = read_frame(
            conn,
            select(
                RiskSignal.household_no,
                RiskSignal.rule_id,
                RiskSignal.risk_type,
                RiskSignal.risk_code,
                RiskSignal.event_date,
            )
            .where(RiskSignal.as_of == as_of, in_county(RiskSignal.household_no, county))
            .order_by(RiskSignal.household_no, RiskSignal.signal_no),
        )
        persons = read_frame(
            conn,
            select(DimPerson.household_no, DimPerson.birth_date, DimPerson.status)
            .where(in_county(DimPerson.household_no, county))
            .order_by(DimPerson.person_key),
        )
    decisions = _decisions(engine, county)
    return CaseInputs(
        flags=flags,
        signals=signals,
        decisions=decisions,
        persons=persons,
        # The income the rules judged: the run year's from the rolling 12 months of wages
        # where 人社's monthly rows allow it, else the annual row.
        income=income_by_year(rule_inputs, rules, as_of)[["household_no", "year", "income_pc"]],
    )


def build_cases(
    engine: Engine, as_of: dt.date, rules: RuleSet, county: str | None = None
) -> pd.DataFrame:
    """Derive and store the cases of the run date, for the city or one ``county``
    (replacing those rows only)."""
    cases = derive_cases(read_case_inputs(engine, as_of, rules, county), rules, as_of)
    with engine.begin() as conn:
        conn.execute(
            delete(HouseholdCase).where(
                HouseholdCase.as_of == as_of, in_county(HouseholdCase.household_no, county)
            )
        )
        bulk_insert(conn, HouseholdCase.__table__, cases)
    return cases


def case_counts(engine: Engine, as_of: dt.date) -> dict[str, int]:
    """Cases of the run date by status, plus overdue leads, eligible and conflicting cases."""
    with engine.connect() as conn:
        cases = read_frame(conn, select(HouseholdCase).where(HouseholdCase.as_of == as_of))
    counts = {k: int(v) for k, v in cases["status"].value_counts().items()}
    counts["overdue"] = int(cases["overdue"].astype(bool).sum())
    counts["eligible"] = int(cases["elimination_check"].eq("eligible").sum())
    counts["conflict"] = int(cases["decision_conflict"].notna().sum())
    return counts
