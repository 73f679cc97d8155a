"""Leads and their households: what else a visit or a declaration says, weighed.

A lead (a cadre visit, a self-declaration) names a household by its head, the name often
misheard or mistyped. When that leaves several households of the village (namesakes,
sound-alike heads), the lead's other fields speak for one of them:

- its stated reason and date (问题类别 / reason, 走访日期 / apply_time): a candidate household
  with a department record of that reason near the date (因病: a serious-illness case or a
  medical settlement of a member; 因灾: a disaster record of the household; ...) fits better
  than one without. Which department records speak for which reason is settings
  (``extra.lead_evidence.kinds``); ``evidence_rows`` turns a linked source into such
  events (household, kind, reason, date).
- its phone: a phone already on a record trusted to be one household's (an exact-ID
  declaration, a visit linked by a unique name) names that household.

Each is one more Fellegi-Sunter comparison, at the household level (the unit a lead names):
for the reason, the level is the strongest kind of event the household has in the window
(rarest first), with m = its share among the households of trusted lead links (labels:
exact ID, a unique name in the village, a reviewer's confirmation) and u = its share
among all the register's households. A kind every household has weighs nothing; a rare
one much; its absence weighs against. A phone is fixed strong evidence
(``phone_weight`` bits). A record's candidate households share one unit of probability:
the name model's odds (summed over a household's members; households whose heads sound
like the record's name share the best of their odds, since a heard name cannot tell them
apart) times the evidence's likelihood ratio. Above ``accept`` the lead links to that
household; below, it waits in review with its most likely household. Everything is joins
and group-bys over the leads' candidates; the city's events are counted once for u.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matching.comparators import derive

__all__ = [
    "LeadEvidence",
    "LeadEvidenceSettings",
    "evidence_rows",
    "lead_dates",
    "resolve_leads",
    "trusted_phones",
]

_PINYIN = "pinyin(name_norm)"
# Methods whose household a lead's fields may be learnt from (labels) or trusted (phones).
TRUSTED = ("exact_id", "exact_name_place", "review_confirmed")
EVENT_COLUMNS = ["household_no", "kind", "reason", "date"]


@dataclass(frozen=True)
class EvidenceKind:
    """Records of one source that speak for a lead's reason (``where`` values, ``min`` and
    ``max`` bounds)."""

    source_id: str
    reason: str
    date: str | None = None
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min: dict[str, float] = field(default_factory=dict)
    max: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LeadEvidenceSettings:
    kinds: tuple[EvidenceKind, ...] = ()
    date_columns: tuple[str, ...] = ("visited_on", "applied_at")
    days_before: int = 365
    days_after: int = 31
    accept: float = 0.95
    min_labelled: int = 20
    phone_weight: float = 10.0

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> LeadEvidenceSettings:
        raw = dict(extra.get("lead_evidence") or {})
        kinds = tuple(
            EvidenceKind(
                source_id=source_id,
                reason=str(k["reason"]),
                date=k.get("date"),
                where={c: tuple(v) for c, v in (k.get("where") or {}).items()},
                min={c: float(v) for c, v in (k.get("min") or {}).items()},
                max={c: float(v) for c, v in (k.get("max") or {}).items()},
            )
            for source_id, k in (raw.pop("kinds", None) or {}).items()
        )
        before, after = raw.pop("window_days", (365, 31))
        out = cls(
            kinds=kinds,
            date_columns=tuple(raw.pop("date_columns", cls.date_columns)),
            days_before=int(before),
            days_after=int(after),
            accept=float(raw.pop("accept", cls.accept)),
            min_labelled=int(raw.pop("min_labelled", cls.min_labelled)),
            phone_weight=float(raw.pop("phone_weight", cls.phone_weight)),
        )
        if raw:
            raise ValueError(f"lead_evidence: unknown keys {sorted(raw)}")
        return out


@dataclass
class LeadEvidence:
    """What the rest of the city says about households, for linking leads.

    ``events``: household_no, kind, reason, date (``evidence_rows`` of linked sources).
    ``phones``: phone, household_no of records trusted to be that household's.
    ``labelled``: reason, date, household_no of lead records with a trusted household
    (other lead sources'; the linker adds the source's own)."""

    events: pd.DataFrame | None = None
    phones: pd.DataFrame | None = None
    labelled: pd.DataFrame | None = None


def _day(s: pd.Series) -> pd.Series:
    """The calendar day of dates, datetimes or their text (a zone, if any, dropped)."""
    t = pd.to_datetime(s, errors="coerce", utc=True).dt.tz_localize(None)
    return t.astype("datetime64[s]").dt.floor("D")


def lead_dates(records: pd.DataFrame, config: LeadEvidenceSettings) -> pd.Series:
    """The lead's date: the first of the settings' date columns the records have."""
    for col in config.date_columns:
        if col in records.columns:
            return _day(records[col])
    return pd.Series(pd.NaT, index=records.index, dtype="datetime64[s]")


def evidence_rows(kind: EvidenceKind, records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Events of one source: its records (record_key, the kind's columns) linked to a
    household (``links``: record_key, household_no, method; review and unlinked left out)
    and passing the kind's filters."""
    keep = np.ones(len(records), dtype=bool)
    for col, allowed in kind.where.items():
        keep &= records[col].isin(allowed).to_numpy(dtype=bool)
    for col, floor in kind.min.items():
        keep &= (pd.to_numeric(records[col], errors="coerce") >= floor).fillna(False).to_numpy()
    for col, ceiling in kind.max.items():
        keep &= (pd.to_numeric(records[col], errors="coerce") < ceiling).fillna(False).to_numpy()
    rec = records.loc[keep, ["record_key"]].assign(
        date=_day(records.loc[keep, kind.date])
        if kind.date
        else pd.Series(pd.NaT, index=records.index[keep], dtype="datetime64[s]")
    )
    linked = links[
        links["method"].isin([*TRUSTED, "probabilistic"]) & links["household_no"].notna()
    ]
    out = rec.merge(linked[["record_key", "household_no"]], on="record_key")
    out = out.assign(kind=kind.source_id, reason=kind.reason)[EVENT_COLUMNS]
    return out.drop_duplicates().reset_index(drop=True)


def trusted_phones(records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """phone, household_no of a lead source's records with a trusted household."""
    if "phone" not in records.columns:
        return pd.DataFrame(columns=["phone", "household_no"])
    ok = links[links["method"].isin(TRUSTED) & links["household_no"].notna()]
    found = records[["record_key", "phone"]].merge(ok[["record_key", "household_no"]])
    found["phone"] = _phone(found["phone"])
    return found.dropna(subset=["phone"])[["phone", "household_no"]].drop_duplicates()


def _phone(s: pd.Series) -> pd.Series:
    """Digits only; fewer than 7 digits is no phone."""
    digits = s.astype("string").str.replace(r"\D", "", regex=True)
    return digits.where(digits.str.len() >= 7)


# --------------------------------------------------------------------------- weighing


def _strongest(
    pairs: pd.DataFrame, events: pd.DataFrame, rank: pd.DataFrame, config: LeadEvidenceSettings
) -> pd.Series:
    """Per row of ``pairs`` (household_no, reason, date): the rank of the strongest kind of
    event of that reason the household has in the window around the date; -1 for none."""
    p = pairs[["household_no", "reason", "date"]].reset_index(drop=True)
    p["row"] = np.arange(len(p))
    hit = p.merge(events.merge(rank, on=["reason", "kind"]), on=["household_no", "reason"])
    d, e = hit["date_x"], hit["date_y"]
    lo = d - pd.Timedelta(days=config.days_before)
    hi = d + pd.Timedelta(days=config.days_after)
    # An undated event (a dropout status) counts whatever the lead's date; so does an
    # event of an undated lead.
    inside = (e.isna() | d.isna() | ((e >= lo) & (e <= hi))).to_numpy(dtype=bool)
    best = hit.loc[inside].groupby("row")["rank"].min()
    out = np.full(len(p), -1, dtype=np.int64)
    out[best.index.to_numpy()] = best.to_numpy()
    return pd.Series(out, index=pairs.index)


def _evidence_weights(
    events: pd.DataFrame,
    labelled: pd.DataFrame,
    households: int,
    reasons: pd.Series,
    config: LeadEvidenceSettings,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(rank of each reason's kinds, log2 m/u of each reason's levels, statistics).

    Rank: kinds of a reason by their share of households, rarest first. A level is the
    strongest kind present (rank) or none (-1). u: the share of the register's households
    at each level (events of any date, counted once over the events), half a count added
    to each; m: the share of labelled leads of that reason at each level, with one
    pseudo-lead spread as u (no labels: m = u, no weight). A reason with fewer than
    ``min_labelled`` labels weighs nothing."""
    rank_rows, weight_rows, stats = [], [], {}
    for reason in sorted(set(reasons.dropna()) & set(events["reason"])):
        ev = events[events["reason"].eq(reason)]
        share = ev.groupby("kind")["household_no"].nunique().sort_index()
        kinds = share.sort_values(kind="stable").index.tolist()
        rank = pd.DataFrame({"reason": reason, "kind": kinds, "rank": np.arange(len(kinds))})
        lab = labelled[labelled["reason"].eq(reason)]
        if len(lab) < config.min_labelled:
            stats[reason] = {"labelled": len(lab), "weighs": False}
            continue
        # u: each household's strongest kind (any date).
        per_hh = ev.merge(rank, on="kind").groupby("household_no")["rank"].min()
        u_counts = np.bincount(per_hh.to_numpy(), minlength=len(kinds)).astype(float)
        u_counts = np.append(u_counts, max(households - len(per_hh), 0))
        m_levels = _strongest(lab, ev, rank, config).to_numpy()
        m_counts = np.bincount(
            np.where(m_levels < 0, len(kinds), m_levels), minlength=len(kinds) + 1
        )
        levels = len(kinds) + 1
        u = (u_counts + 0.5) / (u_counts.sum() + 0.5 * levels)
        # m shrunk towards u by one pseudo-lead: a level few labels saw weighs little,
        # one none of them saw weighs against (never for, however rare).
        m = (m_counts + u) / (m_counts.sum() + 1.0)
        # Evidence only ever speaks for a household that shows the stated reason: a kind
        # true households show less often than others is no reason to prefer a namesake.
        bits = np.log2(m / u)
        bits[:-1] = np.maximum(bits[:-1], 0.0)
        bits[-1] = min(bits[-1], 0.0)
        rank_rows.append(rank)
        weight_rows.append(
            pd.DataFrame({"reason": reason, "rank": [*range(len(kinds)), -1], "bits": bits})
        )
        stats[reason] = {
            "labelled": len(lab),
            "weighs": True,
            "levels": {
                k: {"m": round(float(m[i]), 4), "u": round(float(u[i]), 5)}
                for i, k in enumerate([*kinds, "none"])
            },
        }
    ranks = pd.concat(rank_rows, ignore_index=True) if rank_rows else _EMPTY_RANK
    weights = pd.concat(weight_rows, ignore_index=True) if weight_rows else _EMPTY_WEIGHT
    return ranks, weights, stats


_EMPTY_RANK = pd.DataFrame(
    {
        "reason": pd.Series(dtype=object),
        "kind": pd.Series(dtype=object),
        "rank": pd.Series(dtype=np.int64),
    }
)
_EMPTY_WEIGHT = pd.DataFrame(
    {
        "reason": pd.Series(dtype=object),
        "rank": pd.Series(dtype=np.int64),
        "bits": pd.Series(dtype=float),
    }
)


def resolve_leads(
    candidates: pd.DataFrame,
    records: pd.DataFrame,
    persons: pd.DataFrame,
    evidence: LeadEvidence,
    config: LeadEvidenceSettings,
    households: int,
) -> tuple[pd.DataFrame, dict]:
    """Each record's most likely household once its reason, date and phone are weighed.

    ``candidates``: record_key, person_key, household_no, match_weight (every candidate of
    the records to resolve, from the name model). ``records``: record_key, name_norm,
    township, village and, where the source has them, reason, date (the lead's day),
    phone. ``persons``: the register (household_no, relation, status, name_norm, place,
    its pinyin). Returns record_key, person_key, household_no, match_probability,
    decision ('accepted' at or above ``accept``, else 'review'), evidence_bits (what the
    reason, date and phone added to the chosen household) and statistics.
    """
    out_cols = ["record_key", "person_key", "household_no", "match_probability", "decision"]
    stats: dict = {"records": int(records["record_key"].nunique())}
    if candidates.empty:
        return pd.DataFrame(columns=[*out_cols, "evidence_bits"]), stats
    cand = _with_sound_alike_heads(candidates, records, persons)
    # Household odds: the members' odds summed (the record names the household).
    cand["odds"] = np.exp2(np.clip(cand["match_weight"].to_numpy(dtype=float), -60, 60))
    best_person = cand.sort_values(
        ["record_key", "household_no", "match_weight", "person_key"],
        ascending=[True, True, False, True],
    ).drop_duplicates(["record_key", "household_no"])
    hh = cand.groupby(["record_key", "household_no"], as_index=False)["odds"].sum()
    hh["name_odds"] = hh["odds"]  # before sound-alikes share: breaks ties
    # Sound-alike heads: equal odds, the best of them (a heard name cannot tell them apart).
    alike = cand[cand["sound_alike"]].groupby("record_key")["odds"].max().rename("alike_odds")
    hh = hh.merge(
        cand.loc[cand["sound_alike"], ["record_key", "household_no"]].drop_duplicates(),
        on=["record_key", "household_no"],
        how="left",
        indicator="is_alike",
    ).merge(alike, on="record_key", how="left")
    is_alike = hh.pop("is_alike").eq("both").to_numpy()
    hh.loc[is_alike, "odds"] = np.maximum(hh.loc[is_alike, "odds"], hh.loc[is_alike, "alike_odds"])
    hh = hh.drop(columns="alike_odds")
    hh = hh.merge(best_person[["record_key", "household_no", "person_key"]])
    hh["bits"] = 0.0

    rec = records.drop_duplicates("record_key").set_index("record_key")
    if evidence.events is not None and len(evidence.events) and "reason" in rec.columns:
        pairs = hh[["record_key", "household_no"]].assign(
            reason=rec["reason"].reindex(hh["record_key"]).to_numpy(),
            date=rec["date"].reindex(hh["record_key"]).to_numpy()
            if "date" in rec.columns
            else pd.NaT,
        )
        labelled = (
            evidence.labelled
            if evidence.labelled is not None
            else pd.DataFrame(columns=["reason", "date", "household_no"])
        )
        ranks, weights, stats["reasons"] = _evidence_weights(
            evidence.events, labelled, households, pairs["reason"], config
        )
        if len(weights):
            events = evidence.events[evidence.events["household_no"].isin(set(hh["household_no"]))]
            pairs["rank"] = _strongest(pairs, events, ranks, config).to_numpy()
            bits = pairs.merge(weights, on=["reason", "rank"], how="left")["bits"]
            hh["bits"] += bits.fillna(0.0).to_numpy()
    if evidence.phones is not None and len(evidence.phones) and "phone" in rec.columns:
        phones = evidence.phones.drop_duplicates()
        # A phone of two or more households names none of them.
        single = phones.groupby("phone")["household_no"].transform("nunique").eq(1)
        phones = phones[single.to_numpy()]
        said = _phone(rec["phone"]).dropna().rename("phone").reset_index()
        named = said.merge(phones, on="phone")[["record_key", "household_no"]].assign(
            phone_hit=True
        )
        hit = hh.merge(named, on=["record_key", "household_no"], how="left")["phone_hit"]
        hh["bits"] += np.where(hit.eq(True).to_numpy(), config.phone_weight, 0.0)
        stats["phone_hits"] = int(hit.eq(True).sum())

    hh["weighted"] = hh["odds"] * np.exp2(hh["bits"])
    total = hh.groupby("record_key")["weighted"].transform("sum")
    hh["match_probability"] = hh["weighted"] / (1.0 + total)
    # Equally likely households: the name model's favourite first, then by number.
    best = hh.sort_values(
        ["record_key", "match_probability", "name_odds", "household_no"],
        ascending=[True, False, False, True],
    ).drop_duplicates("record_key")
    best["decision"] = np.where(best["match_probability"] >= config.accept, "accepted", "review")
    best = best.rename(columns={"bits": "evidence_bits"})
    stats["accepted"] = int(best["decision"].eq("accepted").sum())
    stats["with_evidence"] = int((best["evidence_bits"] != 0).sum())
    return best[[*out_cols, "evidence_bits"]].reset_index(drop=True), stats


def _with_sound_alike_heads(
    candidates: pd.DataFrame, records: pd.DataFrame, persons: pd.DataFrame
) -> pd.DataFrame:
    """The candidates plus every head of the record's village whose name sounds like the
    record's (added with no odds of their own when the name model missed them), each
    flagged ``sound_alike``."""
    cand = candidates[["record_key", "person_key", "household_no", "match_weight"]].copy()
    place = [c for c in ("township", "village") if c in records.columns]
    if "village" not in place:
        cand["sound_alike"] = False
        return cand
    rec = records[["record_key", "name_norm", *place]].drop_duplicates("record_key")
    rec = rec.assign(**{_PINYIN: derive(rec, _PINYIN)}).dropna(subset=[_PINYIN, *place])
    heads = persons[persons["relation"].eq("户主") & persons["status"].fillna("正常").ne("注销")]
    heads = heads.assign(**{_PINYIN: derive(heads, _PINYIN)})
    alike = rec.merge(heads[[_PINYIN, *place, "person_key", "household_no"]], on=[_PINYIN, *place])
    alike = alike[["record_key", "person_key", "household_no"]].assign(sound_alike=True)
    cand = cand.merge(alike, on=["record_key", "person_key", "household_no"], how="outer")
    cand["sound_alike"] = cand["sound_alike"].eq(True)
    # A head the model did not propose: no odds from the name model (2**-60), lifted to
    # the best sound-alike's odds below.
    cand["match_weight"] = cand["match_weight"].fillna(-60.0)
    return cand
