"""Warehouse schema: typed SQLAlchemy 2 models, one set for SQLite and PostgreSQL.

Layers (as dbt names them):
- ``stg_<source>``: one table per source spec, canonical fields typed, identity replaced by
  a pseudonymous ``person_key`` and a masked ID (built from the specs, see ``staging_table``).
- ``pii_identity``: the one restricted table holding ID numbers.
- dimensions (``dim_person``, ``dim_household``) rebuilt from the 公安 person master;
  ``record_link`` ties every staged record to a person/household with method and probability.
- ``risk_signal`` (one row per signal with its evidence) and ``household_flag`` (one row per
  flagged household per run date), history kept by ``as_of``.
- marts for BI: ``mart_monitoring_list`` (one row per flagged household at the latest run).
- operations: ``load_audit`` (one row per claimed file) and ``quarantine`` (one per rejected row).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from connectors.spec import SourceSpec

__all__ = [
    "Base",
    "DimHousehold",
    "DimHouseholdHistory",
    "DimPerson",
    "DimPersonHistory",
    "HouseholdCase",
    "HouseholdFlag",
    "HouseholdFlagHistory",
    "LoadAudit",
    "MatchModel",
    "MonitoringEvidence",
    "MonitoringList",
    "MonitoringListDeidentified",
    "MonitoringListHistory",
    "PiiIdentity",
    "Quarantine",
    "RecordLink",
    "RiskSignal",
    "RunLog",
    "ValidationResult",
    "staging_table",
]


class Base(DeclarativeBase):
    metadata = MetaData()


class LoadAudit(Base):
    """One row per claimed file. Invariant: rows_in = loaded + quarantined + duplicate."""

    __tablename__ = "load_audit"
    load_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(512))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    encoding: Mapped[str | None] = mapped_column(String(32))
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_corrected: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(64))  # file-level rejection
    message: Mapped[str | None] = mapped_column(Text)
    extra_columns: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # When the claimed file was last modified (ns): with its name and size, a later scan
    # knows the file without reading it again (connectors.landing.scan_source ``known``).
    file_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)

    # Two workers (CLI and Airflow, say) can never both claim the same file.
    __table_args__ = (
        UniqueConstraint("source_id", "file_sha256", "file_name", name="uq_load_audit_file"),
    )


class Quarantine(Base):
    """One row per rejected input row, with Chinese reasons and the raw values (IDs masked)."""

    __tablename__ = "quarantine"
    quarantine_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    load_id: Mapped[int] = mapped_column(Integer, index=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(512))
    row_number: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    raw_values: Mapped[str] = mapped_column(Text)


class PiiIdentity(Base):
    """RESTRICTED: the only table holding ID numbers (normalised), keyed by person_key."""

    __tablename__ = "pii_identity"
    person_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    id_number: Mapped[str] = mapped_column(String(32))
    id_status: Mapped[str] = mapped_column(String(16))


class DimPerson(Base):
    """One row per person of the 公安 household register (latest snapshot)."""

    __tablename__ = "dim_person"
    person_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    household_no: Mapped[str] = mapped_column(Text, index=True)
    name: Mapped[str | None] = mapped_column(Text)
    name_norm: Mapped[str | None] = mapped_column(Text)
    id_masked: Mapped[str | None] = mapped_column(String(32))
    sex: Mapped[str | None] = mapped_column(String(4))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    relation: Mapped[str | None] = mapped_column(String(16))
    county: Mapped[str | None] = mapped_column(String(32))
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(8))
    cancel_date: Mapped[dt.date | None] = mapped_column(Date)
    cancel_reason: Mapped[str | None] = mapped_column(String(8))


class DimHousehold(Base):
    """One row per 户号 of the register: place, head, active members."""

    __tablename__ = "dim_household"
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    county: Mapped[str | None] = mapped_column(String(32), index=True)
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    head_person_key: Mapped[str | None] = mapped_column(String(32))
    head_name: Mapped[str | None] = mapped_column(Text)
    head_id_masked: Mapped[str | None] = mapped_column(String(32))
    members: Mapped[int] = mapped_column(Integer, default=0)


class RecordLink(Base):
    """Which person and household each staged record belongs to, and how we know."""

    __tablename__ = "record_link"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_key: Mapped[str | None] = mapped_column(String(32), index=True)
    household_no: Mapped[str | None] = mapped_column(Text, index=True)
    # exact_id | exact_name_place | probabilistic | review_confirmed | review | unlinked
    method: Mapped[str] = mapped_column(String(32))
    match_probability: Mapped[float | None] = mapped_column(Float)


class MatchReview(Base):
    """Grey-zone links for a person to decide: the record's most likely register person.

    ``status``: pending (set by the linker) -> confirmed | rejected (set by a reviewer, with
    ``decided_by``/``decided_at``). Decisions are kept across runs and fed back to the linker.
    """

    __tablename__ = "match_review"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(32))
    household_no: Mapped[str | None] = mapped_column(Text)
    match_probability: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class MatchModel(Base):
    """A trained Fellegi-Sunter model per source, reused by later runs instead of retraining.

    ``settings_hash`` ties the parameters to the settings they were trained with: a changed
    settings file (or register much larger than at training) means training again.
    """

    __tablename__ = "match_model"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    settings_hash: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[dt.datetime] = mapped_column(DateTime)
    training_records: Mapped[int] = mapped_column(Integer)
    register_persons: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[str] = mapped_column(Text)  # JSON: prior, m and u per level


class LinkState(Base):
    """What each source's links were computed from: a digest of the inputs of its last
    linking (its staged rows, the register, the model, reviewers' decisions, the settings).

    A source whose inputs digest is unchanged keeps its links without being read again;
    written in the same transaction as the source's links, so a crash between the two
    leaves a digest that no longer matches and the source is linked again.
    """

    __tablename__ = "link_state"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)


class RiskSignal(Base):
    """One risk signal of one household at one run date, with its evidence."""

    __tablename__ = "risk_signal"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # Numbered in a stable order within the household and run date: a rerun writes the
    # same keys, and counties computed apart (in parallel) never collide.
    signal_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    household_no: Mapped[str] = mapped_column(Text, primary_key=True, index=True)
    rule_id: Mapped[str] = mapped_column(String(32))
    risk_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(64))
    load_id: Mapped[int | None] = mapped_column(Integer)
    row_number: Mapped[int | None] = mapped_column(Integer)
    record_key: Mapped[str | None] = mapped_column(String(32))
    event_date: Mapped[dt.date | None] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    # National risk type code (rules file risk_types) of a risk or a lead; NULL otherwise.
    risk_code: Mapped[str | None] = mapped_column(String(8))


class CountyRun(Base):
    """One county's part of a cross-check: written when its rules, cases, list and exports
    are done. The city-wide step clears the run date's rows first, so a county without
    a row did not finish (its step failed or is still running)."""

    __tablename__ = "county_run"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    county: Mapped[str] = mapped_column(String(32), primary_key=True)
    households_flagged: Mapped[int] = mapped_column(Integer)
    households_listed: Mapped[int] = mapped_column(Integer)
    files_written: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime)  # audit metadata


class HouseholdFlag(Base):
    """One flagged household at one run date: the history behind the monitoring list."""

    __tablename__ = "household_flag"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))
    risk_types: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(8))
    asset_check: Mapped[str | None] = mapped_column(Text)
    evidence_count: Mapped[int] = mapped_column(Integer)
    lead_date: Mapped[dt.date | None] = mapped_column(Date)
    risk_codes: Mapped[str | None] = mapped_column(Text)  # national codes of the risks, ';'
    rule_ids: Mapped[str | None] = mapped_column(Text)  # the rules behind the flag, ';'
    tags: Mapped[str | None] = mapped_column(Text)  # e.g. 兜底保障: shown, not a risk
    income_position: Mapped[str | None] = mapped_column(String(8))  # below|near|above|unknown
    # object | gap_referral | verify | lead (docs/policy.md, the object-type decision table)
    list_category: Mapped[str | None] = mapped_column(String(16))
    gap_departments: Mapped[str | None] = mapped_column(Text)  # who closes the gaps, ';'


class HouseholdCase(Base):
    """One monitoring case of one household at one run date (history kept by ``as_of``).

    Built from the household flags and the county's decisions (source ``county_decisions``):
    lead -> verifying -> confirmed -> assisting -> eliminated, or not_admitted. A closed case
    whose household shows a new risk opens the next ``case_no`` as a lead again.
    """

    __tablename__ = "household_case"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    case_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # lead | verifying | confirmed | assisting | eliminated | not_admitted
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_since: Mapped[dt.date] = mapped_column(Date)
    opened_at: Mapped[dt.date] = mapped_column(Date)
    reopened: Mapped[bool] = mapped_column(Boolean)
    decision_due: Mapped[dt.date | None] = mapped_column(Date)
    overdue: Mapped[bool] = mapped_column(Boolean)
    confirmed_at: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.date | None] = mapped_column(Date)
    decided_risk_types: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)  # applied, from county decisions
    suggested_measures: Mapped[str | None] = mapped_column(Text)
    working_age_members: Mapped[int] = mapped_column(Integer)
    # For confirmed and assisting cases: eligible | not_eligible (blockers say why).
    elimination_check: Mapped[str | None] = mapped_column(String(16))
    elimination_blockers: Mapped[str | None] = mapped_column(Text)
    # A county decision the rules contradict (e.g. eliminated without working-age labour).
    decision_conflict: Mapped[str | None] = mapped_column(Text)
    on_list: Mapped[bool] = mapped_column(Boolean)  # shown on mart_monitoring_list
    # The type that stands: the county's confirmed one, else the national system's, else
    # the rules' (object_type_source: county | registry | rules; NULL when none applies).
    object_type: Mapped[str | None] = mapped_column(String(16))
    object_type_source: Mapped[str | None] = mapped_column(String(16))


class MonitoringList(Base):
    """mart_monitoring_list - grain: one row per household at the latest run date that is
    flagged or has an open case (verifying, confirmed, assisting). Households the county
    did not admit, or whose risk it eliminated, leave the list until a new risk appears."""

    __tablename__ = "mart_monitoring_list"
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    county: Mapped[str | None] = mapped_column(String(32))
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    head_name: Mapped[str | None] = mapped_column(Text)
    head_id_masked: Mapped[str | None] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(16))
    risk_types: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(8))
    asset_check: Mapped[str | None] = mapped_column(Text)
    first_flagged_at: Mapped[dt.date] = mapped_column(Date)
    evidence_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    decision_due: Mapped[dt.date | None] = mapped_column(Date)
    as_of: Mapped[dt.date] = mapped_column(Date)
    case_no: Mapped[int | None] = mapped_column(Integer)
    status_since: Mapped[dt.date | None] = mapped_column(Date)
    overdue: Mapped[bool | None] = mapped_column(Boolean)
    measures: Mapped[str | None] = mapped_column(Text)
    suggested_measures: Mapped[str | None] = mapped_column(Text)
    elimination_check: Mapped[str | None] = mapped_column(String(16))
    elimination_blockers: Mapped[str | None] = mapped_column(Text)
    decision_conflict: Mapped[str | None] = mapped_column(Text)
    object_type_source: Mapped[str | None] = mapped_column(String(16))
    list_category: Mapped[str | None] = mapped_column(String(16))
    income_position: Mapped[str | None] = mapped_column(String(8))
    risk_codes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    gap_departments: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_monitoring_region", "county", "township", "village"),
        Index("ix_monitoring_grade", "grade"),
        Index("ix_monitoring_status", "status"),
    )


class DimPersonHistory(Base):
    """dim_person with validity intervals: one row per person and state the warehouse saw.

    ``valid_from``/``valid_to`` are run dates (transaction time): the state held from the
    run that first saw it until the run that saw it change (``valid_to`` NULL: current).
    Event dates (a death's ``cancel_date``) stay attributes.
    """

    __tablename__ = "dim_person_history"
    person_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, index=True)
    household_no: Mapped[str] = mapped_column(Text, index=True)
    relation: Mapped[str | None] = mapped_column(String(16))
    county: Mapped[str | None] = mapped_column(String(32))
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(8))
    cancel_date: Mapped[dt.date | None] = mapped_column(Date)
    cancel_reason: Mapped[str | None] = mapped_column(String(8))


class DimHouseholdHistory(Base):
    """dim_household with validity intervals (run dates): head, members and place over time."""

    __tablename__ = "dim_household_history"
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, index=True)
    county: Mapped[str | None] = mapped_column(String(32))
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    head_person_key: Mapped[str | None] = mapped_column(String(32))
    members: Mapped[int] = mapped_column(Integer)


class HouseholdFlagHistory(Base):
    """Flags as validity intervals: who was flagged, how, from which run date to which.

    Flagged on date D: ``valid_from <= D AND (valid_to IS NULL OR valid_to > D)``.
    """

    __tablename__ = "household_flag_history"
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, index=True)
    object_type: Mapped[str] = mapped_column(String(16))
    risk_types: Mapped[str] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(8))
    asset_check: Mapped[str | None] = mapped_column(Text)


# mart_monitoring_list_history - grain: one row per household on the list per run date.
# The list of any past run, as it was published; same columns as the mart.
MonitoringListHistory = Table(
    "mart_monitoring_list_history",
    Base.metadata,
    *[
        Column(
            c.name,
            c.type,
            nullable=c.nullable and c.name not in ("as_of", "household_no"),
        )
        for c in MonitoringList.__table__.c
    ],
    PrimaryKeyConstraint("as_of", "household_no"),
    Index("ix_monitoring_history_region", "county", "township", "village"),
    comment="mart_monitoring_list of every run date (grain: run date, household)",
)


class SourceHealth(Base):
    """mart_source_health - grain: one row per source spec, as of the latest run date."""

    __tablename__ = "mart_source_health"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    cadence: Mapped[str] = mapped_column(String(16))
    last_file: Mapped[str | None] = mapped_column(Text)
    last_loaded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    files: Mapped[int] = mapped_column(Integer)
    rows_in: Mapped[int] = mapped_column(BigInteger)
    quarantine_rate: Mapped[float | None] = mapped_column(Float)
    link_rate: Mapped[float | None] = mapped_column(Float)
    expected_period_start: Mapped[dt.date | None] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    latest_period_loaded: Mapped[dt.date | None] = mapped_column(Date)
    freshness: Mapped[str] = mapped_column(String(16))  # ok | overdue | missing | unknown
    overdue: Mapped[bool] = mapped_column(Boolean)
    as_of: Mapped[dt.date] = mapped_column(Date)


class MatchQuality(Base):
    """mart_match_quality - grain: one row per source: its records by how they were linked."""

    __tablename__ = "mart_match_quality"
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    linked_exact: Mapped[int] = mapped_column(BigInteger)
    linked_name_place: Mapped[int] = mapped_column(BigInteger)
    linked_probabilistic: Mapped[int] = mapped_column(BigInteger)
    in_review: Mapped[int] = mapped_column(BigInteger)
    unlinked: Mapped[int] = mapped_column(BigInteger)


class RiskByRegion(Base):
    """mart_risk_by_region - grain: one row per county, township, village and risk type."""

    __tablename__ = "mart_risk_by_region"
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    county: Mapped[str | None] = mapped_column(Text)
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    risk_type: Mapped[str] = mapped_column(Text)
    households: Mapped[int] = mapped_column(Integer)
    red: Mapped[int] = mapped_column(Integer)
    yellow: Mapped[int] = mapped_column(Integer)
    green: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_risk_region", "county", "township", "village", "risk_type"),)


class DqCheckResult(Base):
    """One warehouse check of one run date: how many rows offend it (0 = passed)."""

    __tablename__ = "dq_check_result"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    check_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    check_name: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    failing: Mapped[int] = mapped_column(BigInteger)
    passed: Mapped[bool] = mapped_column(Boolean)


class RunLog(Base):
    """One row per cross-check run date (the latest run is the current one)."""

    __tablename__ = "run_log"
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime)
    summary: Mapped[str] = mapped_column(Text)
    rules_file: Mapped[str | None] = mapped_column(Text)  # the rule set the run applied
    rules_sha256: Mapped[str | None] = mapped_column(String(64))  # and its content hash


class ValidationResult(Base):
    """The Great Expectations result of one file's row suite, kept for the data docs.

    ``result_json`` holds per-expectation statistics (success, counts, percentages), never
    the failing values themselves: those can be ID numbers and stay in ``quarantine``.
    """

    __tablename__ = "validation_result"
    load_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # load_audit.load_id
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    suite_name: Mapped[str] = mapped_column(String(128))
    success: Mapped[bool] = mapped_column(Boolean)
    evaluated_expectations: Mapped[int] = mapped_column(Integer)
    successful_expectations: Mapped[int] = mapped_column(Integer)
    result_json: Mapped[str] = mapped_column(Text)


_SQL_TYPES = {
    "text": lambda: Text(),
    "name": lambda: Text(),
    "code": lambda: String(32),
    "date": lambda: Date(),
    "datetime": lambda: DateTime(),
    "month": lambda: Date(),
    "amount": lambda: Float(),
    "integer": lambda: BigInteger(),
}


def staging_table(spec: SourceSpec, metadata: MetaData = Base.metadata) -> Table:
    """``stg_<source_id>``: canonical fields of the spec, ID columns replaced by person_key."""
    if spec.staging_table in metadata.tables:
        return metadata.tables[spec.staging_table]
    columns = [
        Column("record_key", String(32), primary_key=True),
        Column("row_hash", String(32), nullable=False),
        Column("load_id", Integer, nullable=False, index=True),
        Column("row_number", Integer, nullable=False),
        Column("person_key", String(32)),  # read in bulk, never looked up: no index
        Column("id_status", String(16)),
        Column("id_masked", String(32)),
        Column("name_norm", Text),
        Column("row_warning", String(32)),  # loaded, but the department should check it
        Column("extra_values", Text),  # columns the spec does not know yet (JSON), kept
        Column("file_period", Date),  # the snapshot date the file name states (spec file_period)
    ]
    for col in spec.columns:
        if col.type == "id_number":
            continue  # raw IDs never leave pii_identity
        columns.append(Column(col.field, _SQL_TYPES[col.type](), comment=col.header))
    return Table(spec.staging_table, metadata, *columns, comment=f"{spec.department} {spec.title}")


class MonitoringEvidence(Base):
    """mart_monitoring_evidence - grain: one row per signal behind a household on the list
    at the latest run date: who (member, masked ID), what (national risk type, Chinese
    evidence, value, threshold) and where from (department, file, row). Same row-level
    security as the list: a county officer sees the county's rows."""

    __tablename__ = "mart_monitoring_evidence"
    household_no: Mapped[str] = mapped_column(Text, primary_key=True)
    signal_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    county: Mapped[str | None] = mapped_column(String(32))
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    head_name: Mapped[str | None] = mapped_column(Text)
    member_name: Mapped[str | None] = mapped_column(Text)
    member_id_masked: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # risk | lead | tag | watch | asset
    rule_id: Mapped[str] = mapped_column(String(32))
    risk_code: Mapped[str | None] = mapped_column(String(8))
    risk_type: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(Text)
    row_number: Mapped[int | None] = mapped_column(Integer)
    event_date: Mapped[dt.date | None] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    as_of: Mapped[dt.date] = mapped_column(Date)

    __table_args__ = (Index("ix_evidence_region", "county", "township", "village"),)


class MonitoringListDeidentified(Base):
    """mart_monitoring_list_deidentified - grain: one row per household on the list at the
    latest run date, without names or ID numbers and with the 户号 masked: what department
    analysts (bi_reader) read; names stay with county officers."""

    __tablename__ = "mart_monitoring_list_deidentified"
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    household_masked: Mapped[str] = mapped_column(String(32))
    county: Mapped[str | None] = mapped_column(String(32))
    township: Mapped[str | None] = mapped_column(Text)
    village: Mapped[str | None] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(String(16))
    list_category: Mapped[str | None] = mapped_column(String(16))
    income_position: Mapped[str | None] = mapped_column(String(8))
    risk_codes: Mapped[str | None] = mapped_column(Text)
    risk_types: Mapped[str] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    first_flagged_at: Mapped[dt.date] = mapped_column(Date)
    decision_due: Mapped[dt.date | None] = mapped_column(Date)
    overdue: Mapped[bool | None] = mapped_column(Boolean)
    as_of: Mapped[dt.date] = mapped_column(Date)


# The web console's tables share this metadata, so migrations and the data dictionary
# see them wherever the models are imported.
from warehouse import console_models as _console_models  # noqa: E402,F401
