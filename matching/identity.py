"""Identity of a record: its normalised ID number, pseudonymous person key and masked ID.

``person_key`` is an HMAC-SHA256 (keyed by CROSSCHECK_PII_KEY) of the normalised 18-digit
ID, so the same person gets the same key in every source without the ID being stored.
IDs that cannot be trusted exactly (wrong check character, Excel-mangled) get a key of
their own, prefixed so it never collides with a real person's key; the probabilistic
linker can reach their digits through the restricted table.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from connectors.spec import SourceSpec
from matching import normalize as nz
from privacy import keyed_hash, mask_id

__all__ = ["EXACT_STATUSES", "ID_STATUS_ORDER", "resolve_identity"]

# ID statuses trusted for exact linking.
EXACT_STATUSES = ("valid", "repaired_15")
_UNTRUSTED_PREFIX = "?"
_STATUS_RANK = {
    "valid": 0,
    "repaired_15": 1,
    "invalid_check": 2,
    "mangled": 3,
    "malformed": 4,
    "blank": 5,
}
ID_STATUS_ORDER = sorted(_STATUS_RANK, key=_STATUS_RANK.get)  # best first


def _ids_of_column(spec_form: str, raw: pd.Series, as_of: dt.date) -> pd.DataFrame:
    if spec_form == "disability_card":
        raw = nz.id_from_disability_card(raw)
    elif spec_form == "student_no":
        raw = nz.id_from_student_no(raw)
    return nz.normalize_id_numbers(raw, as_of=as_of)


def resolve_identity(
    spec: SourceSpec, values: pd.DataFrame, key: bytes, *, as_of: dt.date
) -> pd.DataFrame:
    """Columns id_number (normalised, restricted), id_status, person_key, id_masked.

    ``as_of`` is the run date: a birth date after it makes an ID malformed.

    With several ID columns (学籍号 and 身份证件号) the most trustworthy one wins.
    """
    best: pd.DataFrame | None = None
    for col in spec.columns:
        if col.type != "id_number":
            continue
        ids = _ids_of_column(col.id_form, values[col.field], as_of)
        ids["rank"] = ids["id_status"].map(_STATUS_RANK)
        if best is None:
            best = ids
        else:
            better = ids["rank"] < best["rank"]
            best = best.where(~better, ids)
    if best is None:
        return pd.DataFrame(
            {"id_number": pd.NA, "id_status": "blank", "person_key": pd.NA, "id_masked": pd.NA},
            index=values.index,
        ).astype("string")
    exact = best["id_status"].isin(EXACT_STATUSES)
    untrusted = best["id_status"].isin(["invalid_check", "mangled"])
    number = best["id18"].where(exact, best["id_prefix"].where(untrusted))
    hashed_input = number.where(exact, _UNTRUSTED_PREFIX + number.astype("string"))
    out = pd.DataFrame(index=values.index)
    out["id_number"] = number.astype("string")
    out["id_status"] = best["id_status"].astype("string")
    out["person_key"] = keyed_hash(hashed_input.where(number.notna()).astype("string"), key)
    out["id_masked"] = mask_id(number.astype("string"))
    return out
