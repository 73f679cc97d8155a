"""Link every staged record to a person and household of the register.

Order of evidence, strongest first:
1. ``exact_id``: the record's trusted ID (valid or repaired 15-digit) is a person of the
   register -> that person and their household (probability 1.0). A valid ID of nobody in
   the register is someone else's, unless it ends in 000 (Excel's rounding can leave a
   fitting check character): that one goes on like any Excel-mangled ID.
2. ``exact_name_place``: household-grain records without a trusted ID whose normalised head
   name is unique among the active persons of the stated village (and township).
3. ``probabilistic``: a Fellegi-Sunter model (matching.probabilistic) over the rest, within
   blocks; above the accept threshold the link is taken, in the grey zone the best
   candidate goes to ``match_review`` for a person to decide (``review``); a confirmed
   decision links the record (``review_confirmed``), a rejected one is never proposed again.
4. everything else stays ``unlinked``.

The probabilistic model of a source is trained on all its records, its exact-ID links
serving as labelled matches (ID digits hidden), stored in ``match_model`` and reused by
later runs while the settings and the register size hold (``matching.model_store``).

``record_link`` is recomputed each run and only the changes are written, so a rerun with
nothing new writes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, select

from connectors.spec import SourceSpec, load_specs
from matching.comparators import derive, settings_expressions, with_expressions
from matching.identity import EXACT_STATUSES
from matching.model import FellegiSunter
from matching.probabilistic import link_to_register
from matching.settings import LinkSettings, load_settings
from warehouse.db import bulk_insert, read_frame
from warehouse.models import DimPerson, MatchReview, PiiIdentity, RecordLink, staging_table

__all__ = ["SourceLinks", "link_all", "link_records", "link_source", "register_persons"]

log = logging.getLogger(__name__)


def _unique_name_place(
    records: pd.DataFrame, people: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    unique = people.dropna(subset=keys).drop_duplicates(keys, keep=False)
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
    by_head = _unique_name_place(records, active[active["relation"].eq("户主")], keys)
    rest = records[~records["record_key"].isin(set(by_head["record_key"]))]
    by_member = _unique_name_place(rest, active, keys)
    return pd.concat([by_head, by_member], ignore_index=True)


def _identity_numbers(engine: Engine, person_keys: pd.Series) -> pd.DataFrame:
    """person_key -> id_number from the restricted table, for the keys given only."""
    keys = person_keys.dropna().unique().tolist()
    found = []
    with engine.connect() as conn:
        for start in range(0, len(keys), 10_000):
            found += conn.execute(
                select(PiiIdentity.person_key, PiiIdentity.id_number).where(
                    PiiIdentity.person_key.in_(keys[start : start + 10_000])
                )
            ).all()
    return pd.DataFrame(found, columns=["person_key", "id_number"])


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
) -> SourceLinks:
    """Link one source's records to the register: exact ID, name in village, probabilistic.

    ``records``: record_key, person_key, id_status, name_norm, the source's place and person
    columns (township, village, birth_date, sex) and optionally id_number (the digits of
    untrusted IDs; other values are not used). ``model``: a trained model to reuse; without
    one the model is trained on this source (see ``probabilistic.train_model``).
    """
    settings = settings or load_settings("department")
    stats: dict = {"records": len(records)}
    if records.empty:
        empty = pd.DataFrame(columns=[c.name for c in RecordLink.__table__.c])
        return SourceLinks(empty, _NO_REVIEW, model, stats=stats)
    t0 = time.perf_counter()
    # Joins, not isin/map against the register: those are slow on Arrow-backed strings.
    records = records.merge(persons[["person_key", "household_no"]], on="person_key", how="left")
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

    review = _NO_REVIEW
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
        found, result = link_to_register(
            frame.drop(columns="household_no"), persons, settings, model, link, "person_key"
        )
        model = result.model
        review = _decide(source_id, out, found, decisions)
        stats["probabilistic_s"] = round(time.perf_counter() - t0, 3)
        stats["probabilistic"] = result.stats
    return SourceLinks(out, review, model, trained, stats)


def _training_frame(records: pd.DataFrame, trusted: np.ndarray) -> pd.DataFrame:
    """All the source's records, exact-ID links labelled by their person (``person_key``).

    Their ID digits are hidden, so the labelled pairs teach how names, dates and places of
    true matches agree without the ID that made them matches; untrusted IDs keep theirs.
    """
    frame = records.copy()
    frame["person_key"] = frame["person_key"].where(trusted)
    frame["id_number"] = frame["id_number"].where(~trusted)
    return frame


def link_source(
    engine: Engine,
    spec: SourceSpec,
    persons: pd.DataFrame,
    decisions: pd.DataFrame | None = None,
    *,
    retrain: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(record_link rows, review candidates) for one source; its model is stored and reused."""
    from matching.model_store import load_model, save_model

    stg = staging_table(spec)
    extra = [c for c in ("township", "village", "birth_date", "sex") if spec.has(c)]
    cols = [stg.c.record_key, stg.c.person_key, stg.c.id_status, stg.c.name_norm]
    cols += [stg.c[c] for c in extra]
    with engine.connect() as conn:
        records = read_frame(conn, select(*cols))
    if records.empty:
        return pd.DataFrame(columns=[c.name for c in RecordLink.__table__.c]), _NO_REVIEW
    # The digits of IDs the exact stage cannot use, from the restricted table: untrusted
    # ones, and valid ones of no register person (an Excel-rounded ID may be one of them).
    register = persons[["person_key"]].dropna().drop_duplicates()
    known = records[["person_key"]].merge(register, on="person_key", how="left", indicator=True)
    wanted = ~records["id_status"].isin(EXACT_STATUSES) | known["_merge"].eq("left_only")
    records = records.merge(
        _identity_numbers(engine, records.loc[wanted, "person_key"]), on="person_key", how="left"
    )
    settings = load_settings("department")
    model = None if retrain else load_model(engine, spec.source_id, settings, len(persons))
    result = link_records(
        records,
        persons,
        source_id=spec.source_id,
        links_by=spec.links_by,
        decisions=decisions,
        settings=settings,
        model=model,
    )
    if result.trained and result.model is not None:
        save_model(
            engine,
            spec.source_id,
            settings,
            result.model,
            training_records=int(result.stats.get("probabilistic", {}).get("training_records", 0)),
            register_persons=len(persons),
        )
    log.info("linked %s: %s", spec.source_id, result.stats)
    return result.links, result.review


_NO_REVIEW = pd.DataFrame(
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
        return _NO_REVIEW
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
    return review.assign(source_id=source_id)[_NO_REVIEW.columns]


def register_persons(engine: Engine) -> pd.DataFrame:
    """Register persons with the restricted ID number joined in: what records link to."""
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(
                DimPerson.person_key,
                DimPerson.household_no,
                DimPerson.name_norm,
                DimPerson.township,
                DimPerson.village,
                DimPerson.birth_date,
                DimPerson.sex,
                DimPerson.status,
                DimPerson.relation,
                PiiIdentity.id_number,
            ).join(PiiIdentity, PiiIdentity.person_key == DimPerson.person_key, isouter=True),
        )


def link_all(engine: Engine, *, retrain: bool = False) -> pd.DataFrame:
    """Link every source and store the changes in record_link; counts by source and method.

    Each source's trained model is reused from ``match_model`` while its settings and the
    register size hold (see ``matching.model_store``); ``retrain`` trains them all afresh.
    """
    # The register's derived keys (pinyin, ID parts, ...) once for every source.
    persons = with_expressions(
        register_persons(engine), settings_expressions(load_settings("department"))
    )
    with engine.connect() as conn:
        decisions = read_frame(conn, select(MatchReview).where(MatchReview.status != "pending"))
    counts, reviews = [], []
    # One source at a time: memory is bounded by the largest source, not the whole city.
    for spec in load_specs().values():
        links, review = link_source(engine, spec, persons, decisions, retrain=retrain)
        _store_changes(engine, spec.source_id, links)
        if len(links):
            counts.append(links.groupby(["source_id", "method"]).size())
        if len(review):
            reviews.append(review)
    _store_reviews(engine, pd.concat(reviews, ignore_index=True) if reviews else _NO_REVIEW)
    if not counts:
        return pd.DataFrame()
    return pd.concat(counts).unstack(fill_value=0)


def _store_reviews(engine: Engine, review: pd.DataFrame) -> None:
    """Replace the pending review queue; decided rows (confirmed/rejected) are kept."""
    with engine.connect() as conn:
        decided = read_frame(
            conn,
            select(MatchReview.source_id, MatchReview.record_key).where(
                MatchReview.status != "pending"
            ),
        )
    if len(decided):
        review = review.merge(decided, on=["source_id", "record_key"], how="left", indicator=True)
        review = review[review["_merge"] == "left_only"].drop(columns="_merge")
    with engine.connect() as conn:
        pending = read_frame(
            conn,
            select(
                MatchReview.source_id,
                MatchReview.record_key,
                MatchReview.person_key,
                MatchReview.household_no,
                MatchReview.match_probability,
            ).where(MatchReview.status == "pending"),
        )
    key = ["source_id", "record_key", "person_key"]
    if len(pending) == len(review) and pending.sort_values(key).reset_index(drop=True)[key].equals(
        review.sort_values(key).reset_index(drop=True)[key]
    ):
        return  # nothing changed: a rerun writes nothing
    with engine.begin() as conn:
        conn.execute(delete(MatchReview).where(MatchReview.status == "pending"))
        bulk_insert(conn, MatchReview.__table__, review.assign(status="pending"))


def _store_changes(engine: Engine, source_id: str, links: pd.DataFrame) -> None:
    """Write only what changed for the source (a rerun with nothing new writes nothing)."""
    with engine.connect() as conn:
        stored = read_frame(conn, select(RecordLink).where(RecordLink.source_id == source_id))
    compare = ["person_key", "household_no", "method", "match_probability"]
    both = links.merge(
        stored, on=["source_id", "record_key"], how="outer", suffixes=("", "_old"), indicator=True
    )
    same = both["_merge"].eq("both")
    for col in compare:
        new, old = both[col].astype(object), both[f"{col}_old"].astype(object)
        same &= (new == old) | (new.isna() & old.isna())
    stale = both.loc[~same & both["_merge"].ne("left_only"), "record_key"].tolist()
    fresh = both.loc[~same & both["_merge"].ne("right_only"), ["source_id", "record_key", *compare]]
    if not stale and fresh.empty:
        return
    with engine.begin() as conn:
        for start in range(0, len(stale), 10_000):
            conn.execute(
                delete(RecordLink).where(
                    RecordLink.source_id == source_id,
                    RecordLink.record_key.in_(stale[start : start + 10_000]),
                )
            )
        bulk_insert(conn, RecordLink.__table__, fresh)
