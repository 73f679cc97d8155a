"""Link every staged record to a person and household of the register.

Order of evidence, strongest first:
1. ``exact_id``: the record's trusted ID (valid or repaired 15-digit) is a person of the
   register -> that person and their household (probability 1.0).
2. ``exact_name_place``: household-grain records without a trusted ID whose normalised head
   name is unique among the active persons of the stated village (and township).
3. everything else stays ``unlinked`` -- the seam for the probabilistic linker: it reads
   the unlinked records and writes its links here with ``method='probabilistic'``.

``record_link`` is rebuilt each run, so a rerun writes the same rows.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, delete, select

from connectors.spec import SourceSpec, load_specs
from matching.identity import EXACT_STATUSES
from warehouse.db import bulk_insert, read_frame
from warehouse.models import DimPerson, RecordLink, staging_table

__all__ = ["link_all", "link_source"]


def _unique_name_place(
    records: pd.DataFrame, people: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    unique = people.dropna(subset=keys).drop_duplicates(keys, keep=False)
    return records.dropna(subset=keys).merge(
        unique[[*keys, "person_key", "household_no"]], on=keys, how="inner", suffixes=("_rec", "")
    )


def _name_place_links(
    records: pd.DataFrame, persons: pd.DataFrame, spec: SourceSpec
) -> pd.DataFrame:
    """Records whose name is unique in their village: the head first, then any member."""
    keys = ["name_norm", *[c for c in ("township", "village") if spec.has(c)]]
    if "village" not in keys or spec.links_by not in ("head", "name_place"):
        return records.iloc[0:0]
    active = persons[persons["status"].fillna("正常") != "注销"]
    by_head = _unique_name_place(records, active[active["relation"].eq("户主")], keys)
    rest = records[~records["record_key"].isin(set(by_head["record_key"]))]
    by_member = _unique_name_place(rest, active, keys)
    return pd.concat([by_head, by_member], ignore_index=True)


def link_source(engine: Engine, spec: SourceSpec, persons: pd.DataFrame) -> pd.DataFrame:
    """record_link rows for one source."""
    stg = staging_table(spec)
    cols = [stg.c.record_key, stg.c.person_key, stg.c.id_status, stg.c.name_norm]
    cols += [stg.c[c] for c in ("township", "village") if spec.has(c)]
    with engine.connect() as conn:
        records = read_frame(conn, select(*cols))
    if records.empty:
        return pd.DataFrame(columns=[c.name for c in RecordLink.__table__.c])
    # Joins, not isin/map against the register: those are slow on Arrow-backed strings.
    records = records.merge(persons[["person_key", "household_no"]], on="person_key", how="left")
    exact_id = records["id_status"].isin(EXACT_STATUSES)
    trusted = exact_id & records["household_no"].notna()
    out = pd.DataFrame(
        {
            "source_id": spec.source_id,
            "record_key": records["record_key"],
            "person_key": records["person_key"].where(trusted),
            "household_no": records["household_no"].where(trusted),
            "method": "unlinked",
            "match_probability": None,
        }
    )
    out.loc[trusted, "method"] = "exact_id"
    out.loc[trusted, "match_probability"] = 1.0
    # Name linking is for records without a trusted ID: a valid ID that is not in the
    # register belongs to someone else, whatever the name says.
    rest = records.loc[~exact_id].drop(columns="household_no")
    if len(rest):
        named = _name_place_links(rest, persons, spec)
        if len(named):
            found = out[["record_key"]].merge(
                named[["record_key", "person_key", "household_no"]], on="record_key", how="left"
            )
            hit = found["person_key"].notna().to_numpy()
            out.loc[hit, "person_key"] = found.loc[hit, "person_key"].to_numpy()
            out.loc[hit, "household_no"] = found.loc[hit, "household_no"].to_numpy()
            out.loc[hit, "method"] = "exact_name_place"
    return out


def link_all(engine: Engine) -> pd.DataFrame:
    """Link every source and store the changes in record_link; counts by source and method."""
    with engine.connect() as conn:
        persons = read_frame(
            conn,
            select(
                DimPerson.person_key,
                DimPerson.household_no,
                DimPerson.name_norm,
                DimPerson.township,
                DimPerson.village,
                DimPerson.status,
                DimPerson.relation,
            ),
        )
    parts = [link_source(engine, spec, persons) for spec in load_specs().values()]
    parts = [p for p in parts if len(p)]
    if not parts:
        with engine.begin() as conn:
            conn.execute(delete(RecordLink))
        return pd.DataFrame()
    links = pd.concat(parts, ignore_index=True)
    _store_changes(engine, links)
    return links.groupby(["source_id", "method"]).size().unstack(fill_value=0)


def _store_changes(engine: Engine, links: pd.DataFrame) -> None:
    """Write only what changed since the last run (a rerun with nothing new writes nothing)."""
    key = ["source_id", "record_key"]
    with engine.connect() as conn:
        stored = read_frame(conn, select(RecordLink))
    compare = ["person_key", "household_no", "method", "match_probability"]
    both = links.merge(stored, on=key, how="outer", suffixes=("", "_old"), indicator=True)
    same = both["_merge"].eq("both")
    for col in compare:
        new, old = both[col].astype(object), both[f"{col}_old"].astype(object)
        same &= (new == old) | (new.isna() & old.isna())
    stale = both.loc[~same & both["_merge"].ne("left_only"), key]
    fresh = both.loc[~same & both["_merge"].ne("right_only"), [*key, *compare]]
    with engine.begin() as conn:
        for source_id, keys in stale.groupby("source_id")["record_key"]:
            values = keys.tolist()
            for start in range(0, len(values), 10_000):
                conn.execute(
                    delete(RecordLink).where(
                        RecordLink.source_id == source_id,
                        RecordLink.record_key.in_(values[start : start + 10_000]),
                    )
                )
        bulk_insert(conn, RecordLink.__table__, fresh)
