"""Link one source's records to a person and household of the register (frames in, frames out).

Order of evidence, strongest first:
1. ``exact_id``: the record's trusted ID (valid or repaired 15-digit) is a person of the
   register -> that person and their household (probability 1.0). A valid ID of nobody in
   the register is someone else's, unless it ends in 000 (Excel's rounding can leave a
   fitting check character): that one goes on like any Excel-mangled ID.
2. ``exact_name_place``: household-grain records without a trusted ID whose normalised head
   name is unique, by its sound (pinyin), among the active persons of the stated village
   (and township).
3. ``probabilistic``: a Fellegi-Sunter model (matching.probabilistic) over the rest, within
   blocks; above the accept threshold the link is taken, in the grey zone the best
   candidate goes to ``match_review`` for a person to decide (``review``); a confirmed
   decision links the record (``review_confirmed``), a rejected one is never proposed again.
   A household-grain record names a head (the model weighs whether a candidate is one);
   a link it would take on the name alone while another household's head of its village
   sounds the same goes to review. Records of lead sources (settings ``extra.lead_sources``:
   visits, declarations) with any candidate reach review rather than staying unlinked.
4. ``probabilistic`` for leads the name left in review: every candidate household is
   weighed again with the lead's reason, date and phone against what the rest of the city
   holds on it (``matching.evidence``: a member's illness record near a 因病 visit, the
   household's disaster record, a phone on one household's trusted record); one that
   stands out above ``extra.lead_evidence.accept`` links, otherwise the record stays in
   review with its now most likely household.
5. everything else stays ``unlinked``.

The probabilistic model of a source is trained on all its records, its exact-ID links
serving as labelled matches (ID digits hidden). This module reads and writes nothing: the
warehouse (``warehouse.links``) feeds it the staged records and the register, stores the
links, the review queue and the trained model (``warehouse.link_models``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.comparators import derive
from matching.evidence import (
    TRUSTED,
    LeadEvidence,
    LeadEvidenceSettings,
    lead_dates,
    resolve_leads,
    trusted_phones,
)
from matching.identity import EXACT_STATUSES
from matching.model import FellegiSunter
from matching.probabilistic import link_to_register
from matching.settings import LinkSettings, load_settings

__all__ = ["LINK_COLUMNS", "NO_REVIEW", "SourceLinks", "link_records", "register_places"]

# One row per record: the columns of ``record_link``.
LINK_COLUMNS = [
    "source_id",
    "record_key",
    "person_key",
    "household_no",
    "method",
    "match_probability",
]

log = logging.getLogger(__name__)


HEAD = "户主"
_PINYIN = "pinyin(name_norm)"


def _unique_name_place(
    records: pd.DataFrame, people: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    # Unique by the name's sound, not its spelling: a misheard 张敏 must not be taken for
    # the village's only 张敏 while its head 张民 sounds the same (such records go on to
    # the model, which weighs the head and the other evidence, or to review).
    people = people.assign(**{_PINYIN: derive(people, _PINYIN)})
    sound = [_PINYIN if k == "name_norm" else k for k in keys]
    unique = people.dropna(subset=[*keys, _PINYIN]).drop_duplicates(sound, keep=False)
    stated = [c for c in ("birth_date", "sex") if c in records.columns and c in people.columns]
    found = records.dropna(subset=keys).merge(
        unique[[*keys, "person_key", "household_no", *stated]],
        on=keys,
        how="inner",
        suffixes=("_rec", ""),
    )
    # The only namesake of the village is not the record's person if the record states
    # another birth date or sex: an outsider, or a typo the probabilistic stage weighs.
    fits = np.ones(len(found), dtype=bool)
    for col in stated:
        expr = f"date({col})" if col == "birth_date" else col
        mine = derive(found.rename(columns={col: "_p", f"{col}_rec": col}), expr)
        theirs = derive(found, expr)
        both = (mine.notna() & theirs.notna()).to_numpy(dtype=bool)
        fits &= ~(both & mine.ne(theirs).fillna(False).to_numpy(dtype=bool))
    return found[fits]


def _name_place_links(records: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Records whose name is unique in their village: the head first, then any member."""
    keys = ["name_norm", *[c for c in ("township", "village") if c in records.columns]]
    if "village" not in keys:
        return records.iloc[0:0]
    active = persons[persons["status"].fillna("正常") != "注销"]
    by_head = _unique_name_place(records, active[active["relation"].eq(HEAD)], keys)
    rest = records[~records["record_key"].isin(set(by_head["record_key"]))]
    by_member = _unique_name_place(rest, active, keys)
    return pd.concat([by_head, by_member], ignore_index=True)


_PLACE_SUFFIX = r"(?:街道|社区|镇|乡|村)$"


def register_places(records: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Township and village as the register spells them, where a record writes them with
    less detail (杨桥 for 杨桥镇, 柏下 for 柏下村) and that names one register place only;
    anything else is left as written. Worked on the distinct places, not on every row."""
    place = [c for c in ("township", "village") if c in records.columns and c in persons.columns]
    if not place or records.empty:
        return records

    def short(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            **{
                f"_{c}": frame[c].astype("string").str.replace(_PLACE_SUFFIX, "", regex=True)
                for c in place
            }
        )

    keys = [f"_{c}" for c in place]
    register = short(persons[place].dropna().drop_duplicates())
    register = register.drop_duplicates(keys, keep=False)  # a short form of two places: none
    written = records[place].drop_duplicates().dropna()
    written = written[
        written.merge(register[place], how="left", indicator=True)["_merge"]
        .eq("left_only")
        .to_numpy()
    ]
    if written.empty:
        return records
    fixed = short(written).merge(register, on=keys, suffixes=("", "_reg"))
    if fixed.empty:
        return records
    spelt = records[place].merge(fixed[[*place, *[f"{c}_reg" for c in place]]], how="left")
    out = records.copy()
    for c in place:
        reg = spelt[f"{c}_reg"].to_numpy()
        out[c] = np.where(pd.isna(reg), out[c].to_numpy(dtype=object), reg)
    return out


# Excel keeps 15 significant digits: the last three become "000". One such ID in eleven
# still has a fitting check character and passes as valid.
_EXCEL_TAIL = "000"


@dataclass
class SourceLinks:
    """What linking one source produced: links, review candidates, the model, timings."""

    links: pd.DataFrame
    review: pd.DataFrame
    model: FellegiSunter | None = None
    trained: bool = False
    stats: dict = field(default_factory=dict)


def link_records(
    records: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    source_id: str,
    links_by: str,
    decisions: pd.DataFrame | None = None,
    settings: LinkSettings | None = None,
    model: FellegiSunter | None = None,
    evidence: LeadEvidence | None = None,
) -> SourceLinks:
    """Link one source's records to the register: exact ID, name in village, probabilistic.

    ``records``: record_key, person_key, id_status, name_norm, the source's place and person
    columns (township, village, birth_date, sex) and optionally id_number (the digits of
    untrusted IDs; other values are not used); a lead source's records may carry reason,
    phone and their date column (``extra.lead_evidence.date_columns``). ``model``: a trained
    model to reuse; without one the model is trained on this source (see
    ``probabilistic.train_model``). ``evidence``: for lead sources, what the rest of the city
    holds on households (``matching.evidence.LeadEvidence``).
    """
    settings = settings or load_settings("department")
    stats: dict = {"records": len(records)}
    if records.empty:
        empty = pd.DataFrame(columns=LINK_COLUMNS)
        return SourceLinks(empty, NO_REVIEW, model, stats=stats)
    t0 = time.perf_counter()
    records = register_places(records, persons)
    # Joins, not isin/map against the register: those are slow on Arrow-backed strings.
    records = records.merge(persons[["person_key", "household_no"]], on="person_key", how="left")
    if links_by in ("head", "name_place"):
        # A household-grain record names the household's head (the model weighs it).
        records["relation"] = HEAD
    exact_id = records["id_status"].isin(EXACT_STATUSES).to_numpy()
    trusted = exact_id & records["household_no"].notna().to_numpy()
    out = pd.DataFrame(
        {
            "source_id": source_id,
            "record_key": records["record_key"],
            "person_key": records["person_key"].where(trusted),
            "household_no": records["household_no"].where(trusted),
            "method": "unlinked",
            "match_probability": None,
        }
    )
    out.loc[trusted, "method"] = "exact_id"
    out.loc[trusted, "match_probability"] = 1.0
    if "id_number" not in records.columns:
        records["id_number"] = pd.Series(pd.NA, index=records.index, dtype="string")
    # A valid ID that is not in the register belongs to someone else, whatever the name
    # says; except one ending in 000, which may be Excel's rounding of a register ID: its
    # first 15 digits go on to the probabilistic stage like any mangled ID.
    digits = records["id_number"].astype("string")
    excel = exact_id & ~trusted & digits.str.endswith(_EXCEL_TAIL).fillna(False).to_numpy()
    records.loc[excel, "id_number"] = digits[excel].str.slice(0, 15)
    candidates = ~exact_id | excel
    stats["exact_s"] = round(time.perf_counter() - t0, 3)
    stats["exact_id"] = int(trusted.sum())

    t0 = time.perf_counter()
    rest = records.loc[candidates].drop(columns="household_no")
    if len(rest) and links_by in ("head", "name_place"):
        _apply(out, _name_place_links(rest, persons), "exact_name_place")
    stats["name_place_s"] = round(time.perf_counter() - t0, 3)
    stats["exact_name_place"] = int(out["method"].eq("exact_name_place").sum())

    review = NO_REVIEW
    unlinked = out["method"].eq("unlinked").to_numpy() & candidates
    stats["to_probabilistic"] = int(unlinked.sum())
    trained = False
    if unlinked.any():
        t0 = time.perf_counter()
        if model is None:
            # Train on the whole source (exact-ID links are labelled matches), link the rest.
            frame, link, trained = _training_frame(records, trusted), unlinked, True
        else:
            frame, link = records[unlinked].drop(columns="person_key"), None
        lead = source_id in settings.extra.get("lead_sources", ())
        found, result = link_to_register(
            frame.drop(columns="household_no"),
            persons,
            # A lead is a family in hardship: its best candidate waits for a person
            # however weak, rather than the lead staying unlinked unseen.
            dataclasses.replace(settings, review_threshold=0.0) if lead else settings,
            model,
            link,
            "person_key",
            keep_candidates=lead,
        )
        if links_by in ("head", "name_place"):
            found = _sound_alike_heads_to_review(found, records, persons)
        if lead and result.candidates is not None:
            found, stats["evidence"] = _weigh_lead_evidence(
                found, result.candidates, records, out, persons, settings, evidence
            )
        model = result.model
        review = _decide(source_id, out, found, decisions)
        stats["probabilistic_s"] = round(time.perf_counter() - t0, 3)
        stats["probabilistic"] = result.stats
    return SourceLinks(out, review, model, trained, stats)


def _sound_alike_heads_to_review(
    found: pd.DataFrame, records: pd.DataFrame, persons: pd.DataFrame
) -> pd.DataFrame:
    """Accepted household links made on a name alone go to review when another household
    of the record's village has a head whose name sounds the same: a name heard or typed
    cannot tell 宋君 from 宋军, whatever the spellings' frequencies say."""
    accepted = found["decision"].eq("accepted")
    if not accepted.any() or "village" not in records.columns:
        return found
    place = [c for c in ("township", "village") if c in records.columns]
    rec = records.loc[records["id_number"].isna(), ["record_key", "name_norm", *place]]
    rec = rec.assign(**{_PINYIN: derive(rec, _PINYIN)}).dropna(subset=[_PINYIN, *place])
    heads = persons[persons["relation"].eq(HEAD) & persons["status"].fillna("正常").ne("注销")]
    heads = heads.assign(**{_PINYIN: derive(heads, _PINYIN)})
    sounds = rec.merge(heads[[_PINYIN, *place, "household_no"]], on=[_PINYIN, *place])
    households = sounds.groupby("record_key")["household_no"].nunique()
    ambiguous = set(households.index[households >= 2])
    found = found.copy()
    found.loc[accepted & found["record_key"].isin(ambiguous), "decision"] = "review"
    return found


def _weigh_lead_evidence(
    found: pd.DataFrame,
    candidates: pd.DataFrame,
    records: pd.DataFrame,
    out: pd.DataFrame,
    persons: pd.DataFrame,
    settings: LinkSettings,
    evidence: LeadEvidence | None,
) -> tuple[pd.DataFrame, dict]:
    """Leads in review: their candidate households weighed again with reason, date and
    phone (``matching.evidence.resolve_leads``); the source's own trusted links add labels
    and phones to the caller's."""
    config = LeadEvidenceSettings.from_extra(settings.extra)
    pending = set(found.loc[found["decision"].eq("review"), "record_key"])
    if not pending:
        return found, {"records": 0}
    t0 = time.perf_counter()
    cols = ("record_key", "name_norm", "township", "village", "reason", "phone")
    rec = records[[c for c in cols if c in records.columns]].assign(
        date=lead_dates(records, config).to_numpy()
    )
    evidence = evidence or LeadEvidence()
    own = out[out["method"].isin(TRUSTED)][["record_key", "household_no"]]
    labelled = [evidence.labelled] if evidence.labelled is not None else []
    if "reason" in rec.columns:
        labelled.append(
            own.merge(rec[["record_key", "reason", "date"]])[["reason", "date", "household_no"]]
        )
    phones = [evidence.phones] if evidence.phones is not None else []
    phones.append(trusted_phones(rec, out))
    weighed = LeadEvidence(
        events=evidence.events,
        phones=pd.concat(phones, ignore_index=True),
        labelled=pd.concat(labelled, ignore_index=True) if labelled else None,
    )
    resolved, stats = resolve_leads(
        candidates[candidates["record_key"].isin(pending)],
        rec[rec["record_key"].isin(pending)],
        persons,
        weighed,
        config,
        int(persons["household_no"].nunique()),
    )
    kept = found[~found["record_key"].isin(set(resolved["record_key"]))]
    stats["evidence_s"] = round(time.perf_counter() - t0, 3)
    return pd.concat([kept, resolved[kept.columns]], ignore_index=True), stats


def _training_frame(records: pd.DataFrame, trusted: np.ndarray) -> pd.DataFrame:
    """All the source's records, exact-ID links labelled by their person (``person_key``).

    Their ID digits are hidden, so the labelled pairs teach how names, dates and places of
    true matches agree without the ID that made them matches; untrusted IDs keep theirs.
    """
    frame = records.copy()
    frame["person_key"] = frame["person_key"].where(trusted)
    frame["id_number"] = frame["id_number"].where(~trusted)
    return frame


NO_REVIEW = pd.DataFrame(
    columns=["source_id", "record_key", "person_key", "household_no", "match_probability"]
)


def _apply(
    out: pd.DataFrame, found: pd.DataFrame, method: str, probability: pd.Series | None = None
) -> None:
    """Set person, household and method on the records of ``found`` (by record_key)."""
    if found.empty:
        return
    cols = ["record_key", "person_key", "household_no"]
    if probability is not None:
        found = found.assign(match_probability=probability.to_numpy())
        cols.append("match_probability")
    hit_rows = out[["record_key"]].merge(found[cols], on="record_key", how="left")
    hit = hit_rows["person_key"].notna().to_numpy()
    for col in cols[1:]:
        out.loc[hit, col] = hit_rows.loc[hit, col].to_numpy()
    out.loc[hit, "method"] = method


def _decide(
    source_id: str,
    out: pd.DataFrame,
    found: pd.DataFrame,
    decisions: pd.DataFrame | None,
) -> pd.DataFrame:
    """Apply reviewers' decisions and the thresholds to the candidates; the review queue."""
    if found.empty:
        return NO_REVIEW
    if decisions is not None and len(decisions):
        mine = decisions[decisions["source_id"] == source_id]
        found = found.merge(
            mine[["record_key", "person_key", "status"]],
            on=["record_key", "person_key"],
            how="left",
        )
        found = found[~found["status"].eq("rejected")]  # a person said no: never again
        confirmed = found["status"].eq("confirmed")
        _apply(out, found[confirmed], "review_confirmed", found.loc[confirmed, "match_probability"])
        found = found[~confirmed]
    accepted = found[found["decision"] == "accepted"]
    _apply(out, accepted, "probabilistic", accepted["match_probability"])
    review = found[found["decision"] == "review"]
    # One pending candidate per record: the most likely person.
    review = review.sort_values("match_probability", ascending=False).drop_duplicates("record_key")
    out.loc[
        out["record_key"].isin(set(review["record_key"])) & out["method"].eq("unlinked"), "method"
    ] = "review"
    return review.assign(source_id=source_id)[NO_REVIEW.columns]
