"""Resident ID numbers (GB 11643-1999), vectorised over numpy arrays.

An 18-character ID is a 17-digit body (6-digit address code, 8-digit birth date, 3-digit
sequence, odd = male) plus a check character. The body fits in an int64, so whole
populations are handled as integer arrays and turned into text only when written.
"""

from __future__ import annotations

import numpy as np

__all__ = ["WEIGHTS", "check_chars", "id_strings", "id_to_15", "is_valid_id"]

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"), dtype=object)


def check_chars(body: np.ndarray) -> np.ndarray:
    """Check character ('0'-'9' or 'X') for each 17-digit body given as int64."""
    body = np.asarray(body, dtype=np.int64).copy()
    total = np.zeros(body.shape, dtype=np.int64)
    for pos in range(16, -1, -1):  # least significant digit is position 16
        total += (body % 10) * WEIGHTS[pos]
        body //= 10
    return _CHECK[total % 11]


def id_strings(body: np.ndarray) -> np.ndarray:
    """18-character ID strings (object array) from int64 bodies."""
    body = np.asarray(body, dtype=np.int64)
    digits = body.astype(str).astype(object)
    return digits + check_chars(body)


def id_to_15(ids: np.ndarray) -> np.ndarray:
    """Old 15-digit form: address code + YYMMDD + sequence (no century, no check)."""
    s = np.asarray(ids, dtype=object)
    return np.array([x[:6] + x[8:17] for x in s], dtype=object)


def is_valid_id(value: str) -> bool:
    """True if `value` is a well-formed 18-character ID with a correct check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * int(w) for d, w in zip(value[:17], WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()
