"""File writers: CSV (chosen encoding), XLSX, JSON Lines and SQLite, byte-for-byte repeatable.

openpyxl stamps the save time into docProps/core.xml and every zip entry; `write_xlsx`
pins both to the as-of date so the same city always gives the same bytes.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_csv", "write_jsonl", "write_sqlite", "write_xlsx"]


def write_csv(
    path: Path,
    header: Sequence[str],
    columns: Sequence[np.ndarray],
    encoding: str,
    newline: str = "\n",
    mode: str = "w",
) -> None:
    """CSV with minimal quoting; cells are text already, None is an empty cell.

    `encoding`: "gb18030" (no BOM), "utf-8-sig" (BOM) or "utf-8". The csv module streams
    rows straight from the column arrays, so no table copy is made for big files.
    `mode="a"` appends rows (header ignored).
    """
    with open(path, mode, encoding=encoding, newline="") as fh:
        w = csv.writer(fh, lineterminator=newline)
        if mode == "w":
            w.writerow(header)
        w.writerows(zip(*columns, strict=True))


def write_jsonl(path: Path, keys: Sequence[str], columns: Sequence[np.ndarray]) -> None:
    """One JSON object per line, UTF-8, non-ASCII kept as is, null for missing values."""
    frame = pd.DataFrame(dict(zip(keys, columns, strict=True)), dtype=object)
    if len(frame) == 0:
        path.write_bytes(b"")
        return
    frame.to_json(path, orient="records", lines=True, force_ascii=False, double_precision=2)


def write_sqlite(
    path: Path, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]
) -> None:
    """A fresh SQLite database with one table; columns are (name, SQL type)."""
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
        cols = ", ".join(f"{n} {t}" for n, t in columns)
        con.execute(f"CREATE TABLE {table} ({cols})")
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        con.commit()
    finally:
        con.close()


class _PinnedZip(zipfile.ZipFile):
    """A ZipFile that stamps every entry with one fixed time (openpyxl uses `now`)."""

    pinned: tuple[int, int, int, int, int, int] = (2000, 1, 1, 0, 0, 0)

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.pinned)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        info = self._info(arcname or str(filename))
        with open(filename, "rb") as src, self.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def write_xlsx(
    path: Path,
    header: Sequence[str],
    columns: Sequence[Sequence[object]],
    when: datetime,
    sheet: str = "Sheet1",
    creator: str = "",
) -> None:
    """First sheet, header in row 1, streamed with openpyxl's write-only mode.

    Cells keep their Python type: str, int, float, datetime.date (shown as a date) or
    None (empty). `when` becomes the document's created/modified time and zip time.
    """
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(header))
    for row in zip(*columns, strict=True):
        ws.append(row)
    wb.properties.created = when
    wb.properties.modified = when
    wb.properties.creator = creator or "openpyxl"
    wb.properties.lastModifiedBy = creator or None

    class Pinned(_PinnedZip):
        pinned = (when.year, when.month, when.day, 0, 0, 0)

    with Pinned(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
