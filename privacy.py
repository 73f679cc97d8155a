"""Privacy helpers everyone may import: masking, keyed hashing and redaction of ID numbers.

This module sits at the bottom of the layout (it imports no package of the project), so
every stage protects personal data the same way: raw ID numbers live only in the restricted
``pii_identity`` table; everything else carries a keyed hash (``person_key``) or a masked ID.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import numpy as np
import pandas as pd

__all__ = ["keyed_hash", "mask_id", "redact_ids"]

_ID_LIKE = re.compile(r"(\d{6})\d{5,8}(\d{3}[\dXx])")


def redact_ids(text: str) -> str:
    """Mask anything that looks like a 15- or 18-digit ID number in free text (logs)."""
    return _ID_LIKE.sub(lambda m: m.group(1) + "********" + m.group(2), text)


# Keys already computed in this process, per HMAC key: the same persons appear in most
# sources, and a run hashes each once instead of once per file (HMAC was 8 s of a
# 20k-household first run). Bounded: cleared when it reaches _MEMO_LIMIT values (about
# 250 bytes each). It holds ID numbers only in this process's memory, like the frames do.
_MEMO: dict[bytes, dict[str, str]] = {}
_MEMO_LIMIT = 2_000_000


def keyed_hash(values: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 of each distinct value, 32 hex chars; <NA> stays <NA>."""
    known = _MEMO.setdefault(key, {})
    # Codes and distinct values in C, one take at the end: Series.map with a dict was 5x
    # slower than the hashing itself on a million values.
    codes, uniques = pd.factorize(values)
    if len(known) + len(uniques) > _MEMO_LIMIT:
        known.clear()
    hashes = []
    for v in uniques:
        digest = known.get(v)
        if digest is None:
            digest = known[v] = hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        hashes.append(digest)
    hashes.append(None)  # code -1: a missing value
    table = np.array(hashes, dtype=object)
    return pd.Series(table[codes], index=values.index, dtype="string", name=values.name)


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
