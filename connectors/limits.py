"""Resource limits for reading a landed file: what a department's file may cost us at most.

A landing zone takes whatever departments' systems produce, so every reader works within
these bounds, whatever the bytes: a file larger than ``max_file_bytes`` or with more rows or
columns than allowed is rejected as a whole with a reason code; a field longer than
``max_field_chars`` quarantines its row only. An XLSX file is a zip archive: the size of
each part once uncompressed, and its compression ratio, are read from the zip's central
directory before anything is parsed, so a decompression bomb is rejected, never opened.

The defaults are safe for every source the city has today; the orchestrator may pass
other values (from settings), never larger than the machine can hold.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "GiB", "Limits", "MiB"]

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Bounds on one landed file. Whole-file limits reject the file; a field over
    ``max_field_chars`` quarantines its row (``ROW_FIELD_TOO_LONG``)."""

    max_file_bytes: int = 2 * GiB  # FILE_TOO_LARGE
    max_rows: int = 5_000_000  # data rows, broken ones included: FILE_TOO_MANY_ROWS
    max_field_chars: int = 10_000  # one cell: ROW_FIELD_TOO_LONG (the row only)
    max_columns: int = 500  # header width (JSON Lines: distinct keys): FILE_TOO_MANY_COLUMNS
    # XLSX (a zip archive), checked from the central directory before parsing: FILE_ZIP_BOMB
    max_part_bytes: int = 100 * MiB  # uncompressed size of any one part
    max_part_ratio: float = 100.0  # uncompressed / compressed, for parts over ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MiB  # small parts may compress well; they cost nothing
    max_unzipped_bytes: int = 1 * GiB  # all parts together
    max_parts: int = 10_000  # number of members in the archive

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive number, got {value!r}")

    def max_line_chars(self, width: int) -> int:
        """The longest physical line a row of ``width`` fields can take without any field
        over the limit (each quote doubled, two enclosing quotes and a separator per field).
        A longer line holds a field over the limit, whatever its content."""
        return (2 * self.max_field_chars + 3) * max(1, min(width, self.max_columns))


DEFAULT_LIMITS = Limits()
