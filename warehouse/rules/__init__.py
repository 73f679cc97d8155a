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
from sqlalchemy import Engine, and_, delete, select

from connectors.spec import load_specs
from warehouse.db import bulk_insert, read_frame
from warehouse.models import DimHousehold, HouseholdFlag, RecordLink, RiskSignal, staging_table

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


class RuleInputs:
    """Linked staging rows per source (household_no + staging columns), read once per run.

    Tests pass ``frames`` directly: rules are pure functions of these frames.
    """

    def __init__(self, engine: Engine | None = None, frames: dict[str, pd.DataFrame] | None = None):
        self.engine = engine
        self.specs = load_specs()
        self._cache: dict[str, pd.DataFrame] = {}
        for source_id, frame in (frames or {}).items():
            self._cache[source_id] = frame.assign(source_id=source_id)

    def linked(self, source_id: str) -> pd.DataFrame:
        if source_id not in self._cache and self.engine is None:
            return self._empty(source_id)
        if source_id not in self._cache:
            stg = staging_table(self.specs[source_id])
            stmt = (
                select(RecordLink.household_no, stg)
                .join(
                    RecordLink,
                    and_(
                        RecordLink.source_id == source_id,
                        RecordLink.record_key == stg.c.record_key,
                    ),
                )
                .where(RecordLink.household_no.is_not(None))
            )
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
        columns = ["household_no", "record_key", "load_id", "row_number", *spec.fields]
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        for col in spec.columns:
            if col.type in ("date", "datetime", "month"):
                frame[col.field] = pd.Series(dtype="datetime64[ns]")
            elif col.type in ("amount", "integer"):
                frame[col.field] = pd.Series(dtype=float)
        return frame.assign(source_id=source_id)


def _signals(
    frame: pd.DataFrame, rule_id: str, value, threshold, evidence, event_date=None
) -> pd.DataFrame:
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
    ):
        out[name] = val.to_numpy() if isinstance(val, pd.Series) else val
    return out


def _in_window(dates: pd.Series, as_of: dt.date, months: int) -> pd.Series:
    end = pd.Timestamp(as_of)
    return (dates > end - pd.DateOffset(months=months)) & (dates <= end)


def _fmt(values: pd.Series) -> pd.Series:
    return values.round(0).astype("Int64").astype("string")


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
    rule_leads,
    rule_assets,
)


def compute_signals(inputs: RuleInputs, rules: RuleSet, as_of: dt.date) -> pd.DataFrame:
    """Every signal of every household as of the date (not yet written)."""
    parts = [part for rule in RULES for part in rule(inputs, rules, as_of) if len(part)]
    if not parts:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    signals = pd.concat(parts, ignore_index=True)[SIGNAL_COLUMNS]
    signals["risk_type"] = signals["rule_id"].map(rules.label)
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
    gaps = set(rules["gap_rules"])
    red = flags["rules"].map(lambda r: "R-RIGID" in r or bool(r & gaps)) | (n_risks >= 2)
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
            signals.assign(as_of=as_of, signal_no=range(1, len(signals) + 1)),
        )
        bulk_insert(conn, HouseholdFlag.__table__, flags)
    return flags
