"""Load one file's checked rows: staging rows, identities, quarantine and its audit row.

The orchestrator (``crosscheck.steps.ingest_file``) reads, maps and validates a file; this
module turns the rows that passed into staging rows (identity resolved, record and content
hashes) and writes everything in ONE transaction: the ``load_audit`` row, the set-based
staging merge, restricted identities, quarantined rows and the kept validation result are
committed together or not at all. The reconciliation invariant (rows_in = loaded +
quarantined + duplicate) is checked before commit; a violation aborts the load loudly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from connectors.canonical import CanonicalBatch
from connectors.landing import LandedFile
from connectors.spec import SourceSpec, file_period
from matching import normalize as nz
from matching.identity import EXACT_STATUSES, ID_STATUS_ORDER, resolve_identity
from privacy import redact_ids
from warehouse.db import bulk_insert, insert_keep_best, upsert_rows
from warehouse.models import LoadAudit, PiiIdentity, Quarantine, ValidationResult, staging_table

__all__ = [
    "InvariantViolation",
    "LoadResult",
    "earlier_claim",
    "load_rows",
    "record_audit",
    "staging_rows",
]

log = logging.getLogger(__name__)

_HASH_KEYS = ("crosscheck-key-1", "crosscheck-key-2")  # 16 bytes each, for 128-bit row hashes


class InvariantViolation(RuntimeError):
    """rows_in != loaded + quarantined + duplicate: a bug, never a data problem."""


@dataclass
class LoadResult:
    source_id: str
    file_name: str
    status: str  # loaded | rejected | empty | duplicate_file | already_loaded
    load_id: int | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_corrected: int = 0
    rows_stale: int = 0  # older than the stored row with the same key; part of rows_duplicate
    reason_code: str | None = None  # why a whole file was rejected (validation.reasons)
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _row_hash(frame: pd.DataFrame) -> pd.Series:
    """128-bit content hash of each row, as 32 hex chars (vectorised)."""
    if frame.shape[1] == 0:
        return pd.Series("", index=frame.index, dtype="string")
    as_text = frame.astype("string").fillna("\x00")
    parts = [
        pd.util.hash_pandas_object(as_text, index=False, hash_key=k).to_numpy() for k in _HASH_KEYS
    ]
    # Two 64-bit hashes -> 16 big-endian bytes a row -> one hex string, cut every 32 chars.
    raw = np.stack(parts, axis=1).astype(">u8").tobytes().hex().encode("ascii")
    hexes = np.frombuffer(raw, dtype="S32").astype(str)
    return pd.Series(hexes, index=frame.index, dtype="string")


def staging_rows(
    spec: SourceSpec, batch: CanonicalBatch, keep: pd.Index, pii_key: bytes, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(staging frame, identities) for the rows that passed validation."""
    values = batch.values.loc[keep]
    ident = resolve_identity(spec, values, pii_key, as_of=as_of)
    content = values[[c.field for c in spec.columns if c.type != "id_number"]].copy()
    content.insert(0, "_identity", ident["id_number"].fillna(""))
    row_hash = _row_hash(content)
    if spec.row_key:
        key_frame = pd.DataFrame(
            {
                k: (ident["id_number"] if spec.column(k).type == "id_number" else values[k])
                for k in spec.row_key
            }
        )
        if any(spec.column(k).type == "id_number" for k in spec.row_key):
            # A key built on an ID we cannot trust would merge different people: such rows
            # are told apart by their whole content instead.
            untrusted = ~ident["id_status"].isin(EXACT_STATUSES)
            key_frame["_content"] = row_hash.where(untrusted, "")
        record_key = _row_hash(key_frame)
    else:
        record_key = row_hash
    stg = pd.DataFrame(
        {
            "record_key": record_key,
            "row_hash": row_hash,
            "row_number": values.index.astype("int64"),
            "person_key": ident["person_key"],
            "id_status": ident["id_status"],
            "id_masked": ident["id_masked"],
            "name_norm": nz.normalize_names(values["name"]) if spec.has("name") else pd.NA,
        },
        index=values.index,
    )
    stg["row_warning"] = _row_warnings(spec, values, ident)
    stg["extra_values"] = _extra_values(batch, keep)
    for col in spec.columns:
        if col.type != "id_number":
            stg[col.field] = values[col.field]
    return stg, ident


def _extra_values(batch: CanonicalBatch, keep: pd.Index) -> pd.Series | None:
    """Columns the spec does not know yet, kept as JSON per row (ID-like digits masked)."""
    if batch.extras is None:
        return None
    extras = batch.extras.loc[keep].astype(object)
    lines = (
        extras.where(extras.notna(), None)
        .to_json(
            orient="records", lines=True, force_ascii=False, date_format="iso", default_handler=str
        )
        .splitlines()
    )
    return pd.Series([redact_ids(line) for line in lines], index=keep, dtype="string")


def _row_warnings(spec: SourceSpec, values: pd.DataFrame, ident: pd.DataFrame) -> pd.Series:
    """A warning code for rows loaded as they are but worth a department's look."""
    warning = pd.Series(pd.NA, index=values.index, dtype="string")
    untrusted = ident["id_status"].isin(["invalid_check", "mangled", "malformed"])
    warning[untrusted] = "ID_" + ident.loc[untrusted, "id_status"].str.upper()
    born = nz.birth_date_from_id(ident["id_number"].where(ident["id_status"].isin(EXACT_STATUSES)))
    if spec.has("birth_date"):
        stated = pd.to_datetime(values["birth_date"])
        differs = born.notna() & stated.notna() & (born != stated)
        warning[differs & warning.isna()] = "ID_BIRTH_MISMATCH"
    if spec.has("age") and spec.period_field:
        at = pd.to_datetime(values[spec.period_field])
        age = (at - born).dt.days / 365.25
        differs = age.notna() & values["age"].notna() & ((age - values["age"]).abs() > 1.5)
        warning[differs & warning.isna()] = "ID_AGE_MISMATCH"
    return warning


def _newest_per_key(stg: pd.DataFrame, period_field: str | None) -> pd.DataFrame:
    """One row per record_key: the newest period, and among equals the later row in the file."""
    if period_field is None:
        return stg[~stg.duplicated("record_key", keep="last")]
    # A stable sort keeps file order among equal periods; rows without a period sort first,
    # so any dated row of the same key wins over them.
    ordered = stg.sort_values(period_field, kind="stable", na_position="first")
    return ordered[~ordered.duplicated("record_key", keep="last")].sort_index()


def _version_column(spec: SourceSpec) -> str | None:
    """What dates a staged row, so that an older one never replaces a newer one."""
    if spec.period_field:
        return spec.period_field
    return "file_period" if spec.file_period else None


def _stale_message(spec: SourceSpec, stale: int) -> str:
    """Feedback for rows older than what the warehouse already holds (a late, older file)."""
    if not spec.period_field:
        return (
            f"{stale} 行所在文件的文件名日期早于库中同一记录已有的快照（迟报的旧快照），"
            "未覆盖较新的记录，按重复计"
        )
    header = spec.column(spec.period_field).header
    return (
        f"{stale} 行的「{header}」早于库中同一记录已有的数据（迟报的旧数据），"
        "未覆盖较新的记录，按重复计"
    )


def _audit_row(landed: LandedFile, started: dt.datetime, **fields) -> dict:
    return {
        "source_id": landed.source_id,
        "file_name": landed.name,
        "file_sha256": landed.sha256,
        "file_size": landed.size,
        "file_mtime_ns": landed.mtime_ns,
        "started_at": started,
        "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        **fields,
    }


def record_audit(
    engine: Engine,
    landed: LandedFile,
    started: dt.datetime,
    result: LoadResult,
    encoding: str | None = None,
) -> LoadResult:
    """A load_audit row for a file that loads no rows (rejected, empty, duplicate)."""
    with engine.begin() as conn:
        result.load_id = conn.execute(
            insert(LoadAudit).values(
                **_audit_row(
                    landed,
                    started,
                    rows_in=result.rows_in,
                    rows_loaded=0,
                    rows_quarantined=result.rows_quarantined,
                    rows_duplicate=result.rows_duplicate,
                    rows_corrected=0,
                    status=result.status,
                    reason_code=result.reason_code,
                    message=result.message,
                    encoding=encoding,
                )
            )
        ).inserted_primary_key[0]
    return result


def load_rows(
    engine: Engine,
    spec: SourceSpec,
    landed: LandedFile,
    started: dt.datetime,
    result: LoadResult,
    batch: CanonicalBatch,
    quarantined: pd.DataFrame,
    stg: pd.DataFrame | None,
    ident: pd.DataFrame | None,
    encoding: str | None,
    validation: dict | None = None,
) -> LoadResult:
    """Write one file's rows in one transaction; ``validation`` is its kept GX result."""
    try:
        return _load_transaction(
            engine,
            spec,
            landed,
            started,
            result,
            batch,
            quarantined,
            stg,
            ident,
            encoding,
            validation,
        )
    except IntegrityError:
        # Another worker claimed this very file (same name and bytes) while we read it.
        if _claimed(engine, spec.source_id, landed):
            return LoadResult(spec.source_id, landed.name, "already_loaded")
        raise


def earlier_claim(engine: Engine, source_id: str, landed: LandedFile) -> list:
    """Earlier loads of the same bytes for this source: (file_name, rows_in, status) rows."""
    with engine.connect() as conn:
        return conn.execute(
            select(LoadAudit.file_name, LoadAudit.rows_in, LoadAudit.status)
            .where(LoadAudit.source_id == source_id, LoadAudit.file_sha256 == landed.sha256)
            .order_by(LoadAudit.load_id)
        ).all()


def _validation_row(validation: dict, load_id: int) -> dict:
    stats = validation.get("statistics", {})
    return {
        "load_id": load_id,
        "source_id": validation["source_id"],
        "suite_name": validation["suite_name"],
        "success": bool(validation["success"]),
        "evaluated_expectations": int(stats.get("evaluated_expectations", 0)),
        "successful_expectations": int(stats.get("successful_expectations", 0)),
        "result_json": json.dumps(validation, ensure_ascii=False, sort_keys=True, default=str),
    }


def _claimed(engine: Engine, source_id: str, landed: LandedFile) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(LoadAudit.load_id).where(
                    LoadAudit.source_id == source_id,
                    LoadAudit.file_sha256 == landed.sha256,
                    LoadAudit.file_name == landed.name,
                )
            ).first()
            is not None
        )


def _load_transaction(
    engine: Engine,
    spec: SourceSpec,
    landed: LandedFile,
    started: dt.datetime,
    result: LoadResult,
    batch: CanonicalBatch,
    quarantined: pd.DataFrame,
    stg: pd.DataFrame | None,
    ident: pd.DataFrame | None,
    encoding: str | None,
    validation: dict | None,
) -> LoadResult:
    stg_table = staging_table(spec)
    with engine.begin() as conn:
        load_id = conn.execute(
            insert(LoadAudit).values(
                **_audit_row(
                    landed,
                    started,
                    status="loading",
                    encoding=encoding,
                    extra_columns="、".join(map(str, batch.extra_columns)) or None,
                )
            )
        ).inserted_primary_key[0]
        result.load_id = load_id
        if stg is not None and len(stg):
            version = _version_column(spec)
            kept = _newest_per_key(stg.assign(file_period=file_period(spec, landed.name)), version)
            counts = upsert_rows(
                conn,
                stg_table,
                kept.assign(load_id=load_id),
                version_column=version,
                confirm_unchanged=version == "file_period",
            )
            if ident is not None:
                # Identities of every kept row: set-based and idempotent (known keys are
                # skipped), so it needs no per-row knowledge of which rows were written.
                pii = ident.loc[kept.index, ["person_key", "id_number", "id_status"]]
                pii = pii.dropna(subset=["person_key"]).drop_duplicates("person_key")
                # A person seen with a 15-digit ID in one source and the 18-digit one in
                # another keeps the best status, whichever file came first.
                insert_keep_best(
                    conn, PiiIdentity.__table__, pii, column="id_status", order=ID_STATUS_ORDER
                )
            result.rows_loaded = counts.inserted + counts.updated
            result.rows_corrected = counts.updated
            result.rows_stale = counts.stale
            # Stale rows are not written: for the invariant they count as duplicates.
            result.rows_duplicate = len(stg) - len(kept) + counts.unchanged + counts.stale
            if counts.stale:
                result.message = _stale_message(spec, counts.stale)
        if len(quarantined):
            rows = quarantined.assign(
                load_id=load_id, source_id=spec.source_id, file_name=landed.name
            )
            bulk_insert(conn, Quarantine.__table__, rows)
        result.rows_quarantined = len(quarantined)
        if validation is not None:
            conn.execute(insert(ValidationResult).values(_validation_row(validation, load_id)))
        if result.status == "loaded" and result.rows_quarantined:
            result.status = "loaded_with_rejects"
        accounted = result.rows_loaded + result.rows_quarantined + result.rows_duplicate
        if accounted != result.rows_in:
            raise InvariantViolation(
                f"{spec.source_id}/{landed.name}: rows_in={result.rows_in} but loaded "
                f"{result.rows_loaded} + quarantined {result.rows_quarantined} + duplicate "
                f"{result.rows_duplicate} = {accounted}"
            )
        conn.execute(
            update(LoadAudit)
            .where(LoadAudit.load_id == load_id)
            .values(
                rows_in=result.rows_in,
                rows_loaded=result.rows_loaded,
                rows_quarantined=result.rows_quarantined,
                rows_duplicate=result.rows_duplicate,
                rows_corrected=result.rows_corrected,
                status=result.status,
                reason_code=result.reason_code,
                message=result.message,
                finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        )
    log.info(
        "%s %s: %s in=%d loaded=%d quarantined=%d duplicate=%d",
        spec.source_id,
        landed.name,
        result.status,
        result.rows_in,
        result.rows_loaded,
        result.rows_quarantined,
        result.rows_duplicate,
    )
    return result
