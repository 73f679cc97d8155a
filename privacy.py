"""Privacy helpers everyone may import: masking, keyed hashing and redaction of ID numbers.

This module sits at the bottom of the layout (it imports no package of the project), so
every stage protects personal data the same way: raw ID numbers live only in the restricted
``pii_identity`` table; everything else carries a keyed hash (``person_key``) or a masked ID.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import pandas as pd

__all__ = ["keyed_hash", "mask_id", "redact_ids"]

_ID_LIKE = re.compile(r"(\d{6})\d{5,8}(\d{3}[\dXx])")


def redact_ids(text: str) -> str:
    """Mask anything that looks like a 15- or 18-digit ID number in free text (logs)."""
    return _ID_LIKE.sub(lambda m: m.group(1) + "********" + m.group(2), text)


def keyed_hash(values: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 of each distinct value, 32 hex chars; <NA> stays <NA>."""
    uniques = values.dropna().unique()
    mapping = {
        v: hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:32] for v in uniques
    }
    return values.map(mapping).astype("string")


def _as_series(values) -> pd.Series:
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype):
            return values.astype(object)
        return values
    if hasattr(values, "dtype"):  # ndarray, Index, ExtensionArray: keep their dtype
        return pd.Series(values)
    return pd.Series(values, dtype=object)


def mask_id(id18: pd.Series) -> pd.Series:
    """Masked ID for display, "360502********123X": first 6, 8 stars, last 4; <NA> stays <NA>.

    Values shorter than 14 characters (so fewer than 4 would be hidden) become "********".
    """
    s = _as_series(id18)
    t = s.astype("string[pyarrow]").str.strip()
    masked = t.str.slice(0, 6) + "********" + t.str.slice(-4)
    out = masked.where(t.str.len() >= 14, "********").where(t.str.len() > 0)
    return out.astype("string").rename(s.name)
