"""Record links in the warehouse: feed the linker from staging, store what it returns.

For every source: its staged records (with the digits of untrusted IDs from the restricted
table) go to ``matching.linker.link_records`` with the register persons; the links it
returns are written to ``record_link`` (only the changes, so a rerun with nothing new writes
nothing), grey-zone candidates to ``match_review`` (reviewers' decisions are kept and fed
back), and a freshly trained model to ``match_model`` (``warehouse.link_models``), reused by
later runs while the settings and the register size hold.

A source is linked again only when something its links depend on changed: its staged rows,
the register, its model, reviewers' decisions on it or the settings (``link_state`` keeps
a digest of them). Each source's links are a function of exactly these inputs, so keeping
an unchanged source's links equals linking it again; ``full`` links every source.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pandas as pd
from sqlalchemy import Connection, Engine, delete, exists, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from connectors.spec import SourceSpec, load_specs
from matching.comparators import settings_expressions, with_expressions
from matching.evidence import (
    TRUSTED,
    LeadEvidence,
    LeadEvidenceSettings,
    evidence_rows,
    lead_dates,
    trusted_phones,
)
from matching.identity import EXACT_STATUSES
from matching.linker import LINK_COLUMNS, NO_REVIEW, link_records
from matching.model import FellegiSunter
from matching.settings import load_settings
from warehouse.db import bulk_insert, read_frame
from warehouse.link_models import load_model, save_model, settings_hash
from warehouse.models import (
    DimPerson,
    LinkState,
    MatchReview,
    PiiIdentity,
    RecordLink,
    staging_table,
)

__all__ = ["link_all", "link_source", "register_persons"]

log = logging.getLogger(__name__)

# Bump when linking would give other links from the same inputs: every source relinks.
LINK_VERSION = "1"


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


def _linked_columns(spec: SourceSpec) -> list:
    """The staged columns the linker reads: keys, name, place and person fields, and a
    lead's reason, date and phone (they weigh its candidate households, matching.evidence)."""
    stg = staging_table(spec)
    lead = ("phone", "reason", "visited_on", "applied_at")
    extra = [c for c in ("township", "village", "birth_date", "sex", *lead) if spec.has(c)]
    cols = [stg.c.record_key, stg.c.person_key, stg.c.id_status, stg.c.name_norm]
    return cols + [stg.c[c] for c in extra]


def link_source(
    engine: Engine,
    spec: SourceSpec,
    persons: pd.DataFrame,
    decisions: pd.DataFrame | None = None,
    *,
    retrain: bool = False,
    stats: dict | None = None,
    model: FellegiSunter | None = None,
    evidence: LeadEvidence | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(record_link rows, review candidates) for one source; its model is stored and reused.

    ``model``: the stored model the caller already loaded (else it is loaded here unless
    ``retrain``). ``evidence``: for a lead source, what the rest of the city holds on
    households (``lead_evidence``). ``stats``, where given, receives the linker's counts and
    seconds by stage; ``stats["model"]`` the parameters (JSON) of the model the links were
    made with."""
    stg = staging_table(spec)
    cols = _linked_columns(spec)
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
    if model is None and not retrain:
        model = load_model(engine, spec.source_id, settings, len(persons))
    result = link_records(
        records,
        persons,
        source_id=spec.source_id,
        links_by=spec.links_by,
        decisions=decisions,
        settings=settings,
        model=model,
        evidence=evidence,
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
        if result.model is not None:
            stats["model"] = _model_json(result.model)
    return result.links, result.review


def _exact_links(spec: SourceSpec):
    """SELECT of the source's exact-ID links, as record_link rows: a valid ID of a register
    person links its record to that person and household, nothing else needed."""
    stg = staging_table(spec)
    return (
        select(
            literal(spec.source_id).label("source_id"),
            stg.c.record_key,
            stg.c.person_key,
            DimPerson.household_no,
            literal("exact_id").label("method"),
            literal(1.0).label("match_probability"),
        )
        .select_from(stg.join(DimPerson, DimPerson.person_key == stg.c.person_key))
        .where(stg.c.id_status.in_(EXACT_STATUSES), DimPerson.household_no.is_not(None))
    )


def _not_exact(spec: SourceSpec):
    """WHERE clause of the source's staged rows that are not exact-ID links."""
    stg = staging_table(spec)
    return or_(
        stg.c.id_status.is_(None),
        stg.c.id_status.not_in(EXACT_STATUSES),
        DimPerson.person_key.is_(None),
        DimPerson.household_no.is_(None),
    )


def _has_candidates(engine: Engine, spec: SourceSpec) -> bool:
    """Whether any staged record of the source is not an exact-ID link."""
    stg = staging_table(spec)
    query = (
        select(stg.c.record_key)
        .select_from(stg.outerjoin(DimPerson, DimPerson.person_key == stg.c.person_key))
        .where(_not_exact(spec))
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def link_candidates(
    engine: Engine,
    spec: SourceSpec,
    persons: pd.DataFrame,
    model: FellegiSunter | None,
    decisions: pd.DataFrame | None = None,
    stats: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(record_link rows, review candidates) of the records the exact-ID stage leaves
    (``model``: the stored one; None only for a source with no such record).

    With a stored model nothing else needs the exact-ID records in memory: they are
    linked by one set-based statement (``_exact_links``, written by ``_store_source``), and
    only the rest is read and linked here. The rest is every record the linker would
    send on (to name-in-place and the probabilistic stage), so its blocks and decisions
    are what linking the whole source gives."""
    stg = staging_table(spec)
    cols = _linked_columns(spec)
    query = (
        select(*cols)
        .select_from(stg.outerjoin(DimPerson, DimPerson.person_key == stg.c.person_key))
        .where(_not_exact(spec))
        .order_by(stg.c.record_key)  # in key order, whatever the backend returns
    )
    with engine.connect() as conn:
        records = read_frame(conn, query)
    if records.empty:
        return pd.DataFrame(columns=LINK_COLUMNS), NO_REVIEW
    # Every one of them needs its ID digits: untrusted, or valid but of no register person.
    records = records.merge(
        _identity_numbers(engine, records["person_key"]), on="person_key", how="left"
    )
    result = link_records(
        records,
        persons,
        source_id=spec.source_id,
        links_by=spec.links_by,
        decisions=decisions,
        settings=load_settings("department"),
        model=model,
    )
    log.info("linked %s (past exact IDs): %s", spec.source_id, result.stats)
    if stats is not None:
        stats.update(result.stats)
        if model is not None:
            stats["model"] = _model_json(model)
    return result.links, result.review


def evidence_events(
    engine: Engine, specs: dict[str, SourceSpec], config: LeadEvidenceSettings
) -> pd.DataFrame | None:
    """The events of every evidence source (``config.kinds``), as linked and stored."""
    events = []
    for kind in config.kinds:
        if kind.source_id not in specs:
            continue
        columns = [c for c in (kind.date, *kind.where, *kind.min, *kind.max) if c]
        events.append(
            evidence_rows(kind, *_staged_and_links(engine, specs[kind.source_id], columns))
        )
    return pd.concat(events, ignore_index=True) if events else None


def lead_evidence(
    engine: Engine,
    specs: dict[str, SourceSpec],
    config: LeadEvidenceSettings,
    earlier: list[str],
    events: pd.DataFrame | None,
) -> LeadEvidence:
    """What the city holds on households, for weighing a lead's candidates: the
    ``events`` (``evidence_events``) and the phones and labelled reasons of the
    ``earlier`` lead sources' trusted links."""
    phones, labelled = [], []
    for source_id in earlier:
        spec = specs[source_id]
        columns = [c for c in ("reason", "phone", *config.date_columns) if spec.has(c)]
        records, links = _staged_and_links(engine, spec, columns)
        records = records.assign(date=lead_dates(records, config).to_numpy())
        phones.append(trusted_phones(records, links))
        if "reason" in records.columns:
            own = links[links["method"].isin(TRUSTED)][["record_key", "household_no"]]
            labelled.append(own.merge(records[["record_key", "reason", "date"]]))
    return LeadEvidence(
        events=events,
        phones=pd.concat(phones, ignore_index=True) if phones else None,
        labelled=(
            pd.concat(labelled, ignore_index=True)[["reason", "date", "household_no"]]
            if labelled
            else None
        ),
    )


def _staged_and_links(
    engine: Engine, spec: SourceSpec, columns: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A source's staged records (record_key and ``columns``) and its stored links."""
    stg = staging_table(spec)
    with engine.connect() as conn:
        records = read_frame(
            conn,
            select(stg.c.record_key, *(stg.c[c] for c in dict.fromkeys(columns))).order_by(
                stg.c.record_key
            ),
        )
        links = read_frame(
            conn,
            select(RecordLink.record_key, RecordLink.household_no, RecordLink.method)
            .where(RecordLink.source_id == spec.source_id)
            .order_by(RecordLink.record_key),
        )
    return records, links


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


def link_all(engine: Engine, *, retrain: bool = False, full: bool = False) -> dict[str, str]:
    """Link every source whose inputs changed and store the changes; {source: outcome}.

    Outcome ``linked`` or ``unchanged`` (inputs as at its last linking: its links stand).
    Each source's trained model is reused from ``match_model`` while its settings and the
    register size hold (see ``warehouse.link_models``); ``retrain`` trains them all afresh
    (and links every source), ``full`` links every source with the stored models.
    """
    register = register_persons(engine)
    register_digest = _frame_digest(register)
    settings = load_settings("department")
    # The register's derived keys (pinyin, ID parts, ...) once for every source.
    persons = with_expressions(register, settings_expressions(settings))
    with engine.connect() as conn:
        decisions = read_frame(
            conn,
            select(MatchReview)
            .where(MatchReview.status != "pending")
            .order_by(MatchReview.source_id, MatchReview.record_key),
        )
        stored = dict(conn.execute(select(LinkState.source_id, LinkState.inputs_sha256)).all())
    specs = load_specs()
    leads = [s for s in settings.extra.get("lead_sources", ()) if s in specs]
    config = LeadEvidenceSettings.from_extra(settings.extra)
    outcome: dict[str, str] = {}
    digests: dict[str, str] = {}  # each source's inputs digest as it stands after this run
    events = None  # what the evidence sources say of households, read when a lead needs it
    # One source at a time: memory is bounded by the largest source, not the whole city.
    # Leads last, in their settings' order: what other sources say of households (and the
    # leads before them) weighs their candidates.
    for source_id in [s for s in specs if s not in leads] + leads:
        spec = specs[source_id]
        model = None if retrain else load_model(engine, source_id, settings, len(persons))
        mine = decisions[decisions["source_id"] == source_id]
        inputs = [register_digest, settings_hash(settings), _frame_digest(mine)]
        inputs.append(_staged_watermark(engine, spec))
        if source_id in leads:  # its evidence is made of those sources' links
            said_by = [k.source_id for k in config.kinds] + leads[: leads.index(source_id)]
            inputs += [digests.get(s, "") for s in said_by]
        digest = _inputs_digest(inputs, model)
        # Training is a function of the same inputs: a source that trained last time finds
        # that model stored now, one that had nothing to train on finds none again.
        if not (full or retrain) and stored.get(source_id) == digest:
            outcome[source_id] = "unchanged"
            digests[source_id] = digest
            continue
        stats: dict = {}
        if source_id in leads:
            # Small sources, read whole: their own exact-ID links teach the evidence stage.
            if events is None:  # read once, for every lead source to link
                events = evidence_events(engine, specs, config)
            earlier = leads[: leads.index(source_id)]
            evidence = lead_evidence(engine, specs, config, earlier, events)
            links, review = link_source(
                engine,
                spec,
                persons,
                decisions,
                retrain=retrain,
                stats=stats,
                model=model,
                evidence=evidence,
            )
            exact_in_sql = False
        elif model is None and (retrain or _has_candidates(engine, spec)):
            # Training reads the whole source (its exact-ID links are the labels).
            links, review = link_source(
                engine, spec, persons, decisions, retrain=retrain, stats=stats
            )
            exact_in_sql = False
        else:
            links, review = link_candidates(engine, spec, persons, model, decisions, stats)
            exact_in_sql = True
        state = {
            "source_id": spec.source_id,
            "inputs_sha256": _inputs_digest(inputs, stats.get("model")),
        }
        _store_source(engine, spec, links, review, state, exact_in_sql=exact_in_sql)
        outcome[source_id] = "linked"
        digests[source_id] = state["inputs_sha256"]
    log.info(
        "linking: %d sources linked, %d unchanged",
        sum(v == "linked" for v in outcome.values()),
        sum(v == "unchanged" for v in outcome.values()),
    )
    return outcome


def _model_json(model: FellegiSunter) -> str:
    return json.dumps(model.to_params(), sort_keys=True)


def _inputs_digest(inputs: list[str], model: FellegiSunter | str | None) -> str:
    """SHA-256 over a source's linking inputs and the model its links are made with."""
    if isinstance(model, FellegiSunter):
        model = _model_json(model)
    text = json.dumps([LINK_VERSION, *inputs, model or ""], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's values in its row order (the caller reads it in key order)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode("utf-8"))
    if len(frame):
        rows = pd.util.hash_pandas_object(frame.astype("string"), index=False)
        digest.update(rows.to_numpy().tobytes())
    return digest.hexdigest()


def _staged_watermark(engine: Engine, spec: SourceSpec) -> str:
    """Rows and newest load of a source's staging: a row loaded or replaced since moves it.

    A merged row takes the load_id of the file that wrote it (load ids only grow), and
    staged rows are never deleted, so (count, max load_id) changes whenever the rows do.
    """
    stg = staging_table(spec)
    with engine.connect() as conn:
        rows, newest = conn.execute(select(func.count(), func.max(stg.c.load_id))).one()
    return f"{spec.source_id}:{rows}:{newest}"


def _store_source(
    engine: Engine,
    spec: SourceSpec,
    links: pd.DataFrame,
    review: pd.DataFrame,
    state: dict,
    *,
    exact_in_sql: bool = False,
) -> None:
    """A source's link changes, its pending review queue and its inputs digest, in one
    transaction: a crash leaves the old digest, so the source is linked again.

    ``exact_in_sql``: ``links`` holds the records past the exact-ID stage only; the
    exact-ID links are merged by one statement."""
    source_id = spec.source_id
    with engine.begin() as conn:
        if exact_in_sql:
            # Compared with the stored rows of those records: every row not an exact-ID
            # link, and exact-ID rows that are no longer one (their person left the
            # register); a stored row now an exact-ID link is replaced by the merge below.
            stg = staging_table(spec)
            still_exact = exists(
                _exact_links(spec).where(stg.c.record_key == RecordLink.record_key)
            )
            _store_changes(
                conn,
                source_id,
                links,
                or_(RecordLink.method != "exact_id", ~still_exact),
            )
            _merge_exact_links(conn, spec)
        else:
            _store_changes(conn, source_id, links)
        _store_reviews(conn, source_id, review)
        records = conn.execute(
            select(func.count()).where(RecordLink.source_id == source_id)
        ).scalar_one()
        conn.execute(delete(LinkState).where(LinkState.source_id == source_id))
        conn.execute(LinkState.__table__.insert().values(**state, records=records))


def _merge_exact_links(conn: Connection, spec: SourceSpec) -> None:
    """Insert the source's exact-ID links, update those that changed, leave the rest."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    table = RecordLink.__table__
    columns = ["source_id", "record_key", "person_key", "household_no", "method"]
    columns.append("match_probability")
    merge = dialect.insert(table).from_select(columns, _exact_links(spec))
    changing = columns[2:]
    merge = merge.on_conflict_do_update(
        index_elements=["source_id", "record_key"],
        set_={c: merge.excluded[c] for c in changing},
        where=or_(*(table.c[c].is_distinct_from(merge.excluded[c]) for c in changing)),
    )
    conn.execute(merge)


def _store_reviews(conn: Connection, source_id: str, review: pd.DataFrame) -> None:
    """Replace the source's pending review rows; decided ones (confirmed/rejected) are kept."""
    decided = read_frame(
        conn,
        select(MatchReview.source_id, MatchReview.record_key).where(
            MatchReview.source_id == source_id, MatchReview.status != "pending"
        ),
    )
    if len(decided):
        review = review.merge(decided, on=["source_id", "record_key"], how="left", indicator=True)
        review = review[review["_merge"] == "left_only"].drop(columns="_merge")
    pending = read_frame(
        conn,
        select(
            MatchReview.source_id,
            MatchReview.record_key,
            MatchReview.person_key,
            MatchReview.household_no,
            MatchReview.match_probability,
        ).where(MatchReview.source_id == source_id, MatchReview.status == "pending"),
    )
    key = ["source_id", "record_key", "person_key"]
    if len(pending) == len(review) and pending.sort_values(key).reset_index(drop=True)[key].equals(
        review.sort_values(key).reset_index(drop=True)[key]
    ):
        return  # nothing changed: a rerun writes nothing
    conn.execute(
        delete(MatchReview).where(
            MatchReview.source_id == source_id, MatchReview.status == "pending"
        )
    )
    bulk_insert(conn, MatchReview.__table__, review.assign(status="pending"))


def _store_changes(conn: Connection, source_id: str, links: pd.DataFrame, among=None) -> None:
    """Write only what changed for the source (a rerun with nothing new writes nothing).

    ``among``: a condition on the stored rows ``links`` stands for (default: all the
    source's rows); stored rows it selects that ``links`` lacks are deleted."""
    query = select(RecordLink).where(RecordLink.source_id == source_id)
    stored = read_frame(conn, query if among is None else query.where(among))
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
    for start in range(0, len(stale), 10_000):
        conn.execute(
            delete(RecordLink).where(
                RecordLink.source_id == source_id,
                RecordLink.record_key.in_(stale[start : start + 10_000]),
            )
        )
    bulk_insert(conn, RecordLink.__table__, fresh)
