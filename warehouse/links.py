"""Record links in the warehouse: feed the linker from staging, store what it returns.

For every source: its staged records (with the digits of untrusted IDs from the restricted
table) go to ``matching.linker.link_records`` with the register persons; the links it
returns are written to ``record_link`` (only the changes, so a rerun with nothing new writes
nothing), grey-zone candidates to ``match_review`` (reviewers' decisions are kept and fed
back), and a freshly trained model to ``match_model`` (``warehouse.link_models``), reused by
later runs while the settings and the register size hold.
"""

from __future__ import annotations

import logging

import pandas as pd
from sqlalchemy import Engine, delete, select

from connectors.spec import SourceSpec, load_specs
from matching.comparators import settings_expressions, with_expressions
from matching.identity import EXACT_STATUSES
from matching.linker import LINK_COLUMNS, NO_REVIEW, link_records
from matching.settings import load_settings
from warehouse.db import bulk_insert, read_frame
from warehouse.link_models import load_model, save_model
from warehouse.models import DimPerson, MatchReview, PiiIdentity, RecordLink, staging_table

__all__ = ["link_all", "link_source", "register_persons"]

log = logging.getLogger(__name__)


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


def link_source(
    engine: Engine,
    spec: SourceSpec,
    persons: pd.DataFrame,
    decisions: pd.DataFrame | None = None,
    *,
    retrain: bool = False,
    stats: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(record_link rows, review candidates) for one source; its model is stored and reused.

    ``stats``, where given, receives the linker's counts and seconds by stage."""
    stg = staging_table(spec)
    # A lead's reason, date and phone weigh its candidate households (matching.evidence).
    lead = ("phone", "reason", "visited_on", "applied_at")
    extra = [c for c in ("township", "village", "birth_date", "sex", *lead) if spec.has(c)]
    cols = [stg.c.record_key, stg.c.person_key, stg.c.id_status, stg.c.name_norm]
    cols += [stg.c[c] for c in extra]
    with engine.connect() as conn:
        # In key order: the model trained on them must not depend on the order rows were
        # loaded or the backend returns them (SQLite, PostgreSQL, a rerun after a crash).
        records = read_frame(conn, select(*cols).order_by(stg.c.record_key))
    if records.empty:
        return pd.DataFrame(columns=LINK_COLUMNS), NO_REVIEW
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
    if stats is not None:
        stats.update(result.stats)
    return result.links, result.review


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
            )
            .join(PiiIdentity, PiiIdentity.person_key == DimPerson.person_key, isouter=True)
            .order_by(DimPerson.person_key),  # in key order, whatever the backend returns
        )


def link_all(engine: Engine, *, retrain: bool = False) -> pd.DataFrame:
    """Link every source and store the changes in record_link; counts by source and method.

    Each source's trained model is reused from ``match_model`` while its settings and the
    register size hold (see ``warehouse.link_models``); ``retrain`` trains them all afresh.
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
    _store_reviews(engine, pd.concat(reviews, ignore_index=True) if reviews else NO_REVIEW)
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
