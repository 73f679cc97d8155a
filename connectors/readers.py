"""Readers: turn a landed file into a frame of raw cell values, one reader per format.

Every reader returns a :class:`RawTable`: the department's headers as written and the cell
values untouched (strings, or the numbers and dates an XLSX cell holds), so that typing
and validation see exactly what the department sent. Problems that make a whole file
unreadable raise :class:`FileRejected` with a Chinese message naming the problem; a row
that cannot be used as it stands (wrong number of fields, a quote left open, a NUL byte,
a field over the length limit) is kept in ``broken_rows`` with its own reason code, and
the rest of the file loads.

Files are opened through :func:`connectors.landing.open_landed` (never through a link)
and read within :class:`connectors.limits.Limits`: memory stays bounded by the limits
whatever the bytes (CSV and JSON Lines are streamed line by line with a cap on the line
length; an XLSX archive's parts are sized from its central directory before parsing).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import pandas as pd

from connectors.landing import IGNORED_PREFIXES, LandedFile, LandingRefused, open_landed
from connectors.limits import DEFAULT_LIMITS, Limits, MiB

__all__ = [
    "FILE_CODES",
    "IGNORED_PREFIXES",
    "ROW_CODES",
    "FileRejected",
    "LandingRefused",
    "RawTable",
    "detect_encoding",
    "read_file",
]

# Reason codes a reader may give a row (broken_rows) or a whole file (FileRejected).
ROW_CODES = ("ROW_MALFORMED", "ROW_QUOTE_UNCLOSED", "ROW_NUL_BYTES", "ROW_FIELD_TOO_LONG")
FILE_CODES = (
    "FILE_ENCODING",
    "FILE_MALFORMED",
    "FILE_TOO_LARGE",
    "FILE_TOO_MANY_ROWS",
    "FILE_TOO_MANY_COLUMNS",
    "FILE_ZIP_BOMB",
)
_CHUNK_ROWS = 100_000  # CSV rows gathered as Python lists before becoming a frame chunk


class FileRejected(Exception):
    """A whole file cannot be used. ``code`` is a reason code, ``message`` is Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RawTable:
    """Cell values as sent, plus rows that could not be used as they stand.

    A broken row keeps its number in ``frame`` (all cells empty) so that row numbers stay
    those the department sees; ``broken_rows`` gives its reason code (``ROW_CODES``) and
    ``broken_details`` says in Chinese what is wrong with it.
    """

    frame: pd.DataFrame  # columns = headers as written; index = data row number (from 1)
    encoding: str | None = None
    broken_rows: dict[int, str] = field(default_factory=dict)  # row number -> reason code
    broken_details: dict[int, str] = field(default_factory=dict)  # row number -> Chinese

    def broken_by_code(self) -> dict[str, pd.Index]:
        """The broken rows' numbers under each reason code (codes and numbers sorted)."""
        by_code: dict[str, list[int]] = {}
        for row, code in sorted(self.broken_rows.items()):
            by_code.setdefault(code, []).append(row)
        return {code: pd.Index(rows, name="row_number") for code, rows in sorted(by_code.items())}

    def _break(self, row: int, code: str, detail: str) -> None:
        self.broken_rows[row] = code
        self.broken_details[row] = detail


def detect_encoding(head: bytes) -> str:
    """BOM first, then strict UTF-8, then GB18030 (which accepts almost any bytes)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    return "gb18030"


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row_number")
    return frame


def _dedupe_headers(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        n = seen.get(h, 0)
        seen[h] = n + 1
        out.append(h if n == 0 else f"{h}.{n}")
    return out


def _check_size(fh: BinaryIO, limits: Limits) -> None:
    size = os.fstat(fh.fileno()).st_size
    if size > limits.max_file_bytes:
        raise FileRejected(
            "FILE_TOO_LARGE",
            f"文件过大：{size / MiB:.0f} MB，上限 {limits.max_file_bytes / MiB:.0f} MB",
        )


def _too_many_rows(limits: Limits) -> FileRejected:
    return FileRejected("FILE_TOO_MANY_ROWS", f"数据行数超过上限 {limits.max_rows} 行")


def _too_many_columns(count: int, limits: Limits) -> FileRejected:
    return FileRejected(
        "FILE_TOO_MANY_COLUMNS", f"列数过多：{count} 列，上限 {limits.max_columns} 列"
    )


def _cell_problem(values, limits: Limits) -> tuple[str, str] | None:
    """(code, Chinese detail) for a row whose cells hold a NUL or a text over the limit."""
    for position, value in enumerate(values, start=1):
        if isinstance(value, str):
            if "\x00" in value:
                return "ROW_NUL_BYTES", f"第 {position} 列含有空字符（NUL）"
            if len(value) > limits.max_field_chars:
                return (
                    "ROW_FIELD_TOO_LONG",
                    f"第 {position} 列有 {len(value)} 个字符，上限 {limits.max_field_chars}",
                )
    return None


# --------------------------------------------------------------------------- CSV


class _TooLong:
    """Stands for a physical line longer than the cap (its text is never kept)."""


_TOO_LONG = _TooLong()


class _Overlong(Exception):
    """A record grew past the cap (a line too long, or a quote swallowing lines)."""


class _Broken:
    __slots__ = ("code", "detail")

    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail


class _CsvRecords:
    """CSV records from a text stream, one physical line at a time, with push-back.

    ``csv.reader`` does the splitting (Excel dialect, quoted fields may hold newlines).
    Each record comes with the physical lines it was made of, so that a record which a
    quote left open made of several lines can be undone: the caller quarantines its first
    line and pushes the others back to be read again as rows of their own (resync).
    """

    def __init__(self, text: io.TextIOBase, cap: int):
        self._text = text
        self.cap = cap  # longest physical line, and longest record, in characters
        self._back: list[str | _TooLong] = []  # pushed-back lines, last one first out
        self._lines: list[str | _TooLong] = []  # the lines of the record being read
        self._chars = 0

    def push_back(self, lines: list) -> None:
        self._back.extend(reversed(lines))

    def _drain(self) -> None:
        """Drop the rest of a line that is too long, a bounded piece at a time."""
        while (more := self._text.readline(self.cap + 1)) and more[-1] not in "\r\n":
            pass

    def _feed(self) -> Iterator[str]:
        readline, back = self._text.readline, self._back
        while True:
            if back:
                line = back.pop()
            else:
                line = readline(self.cap + 1)
                if not line:
                    return
                if len(line) > self.cap and line[-1] not in "\r\n":
                    self._drain()
                    line = _TOO_LONG
            lines = self._lines
            lines.append(line)
            if line is _TOO_LONG:
                raise _Overlong
            self._chars += len(line)
            if self._chars > self.cap and len(lines) > 1:
                raise _Overlong
            yield line

    def records(self) -> Iterator[tuple[list[str], list[str]] | _Broken]:
        """(fields, lines) per non-blank record, or a :class:`_Broken` for a record that
        could not be split (its first line is the row; later lines are read again)."""
        reader = csv.reader(self._feed())
        while True:
            self._lines, self._chars = [], 0
            try:
                fields = next(reader)
            except StopIteration:
                if not self._back:
                    return
                reader = csv.reader(self._feed())  # lines pushed back after the end
                continue
            except (_Overlong, csv.Error) as exc:
                reader = csv.reader(self._feed())
                lines = self._lines
                if len(lines) > 1:
                    self.push_back(lines[1:])
                    yield _Broken("ROW_QUOTE_UNCLOSED", "引号未闭合，该行之后的行已单独读取")
                elif isinstance(exc, _Overlong) or "field larger than field limit" in str(exc):
                    # (csv's own limit, 131,072 characters, lies above any sane field limit)
                    yield _Broken("ROW_FIELD_TOO_LONG", "该行字段过长")
                else:
                    yield _Broken("ROW_MALFORMED", f"无法拆分为字段：{exc}")
                continue
            if fields:
                yield fields, self._lines


def _ends_in_open_quote(text: str) -> bool:
    """Whether CSV text ends inside a quoted field (Excel dialect: a quote opens a field
    only at its start; inside, a doubled quote is a quote)."""
    in_quotes, at_start, i, n = False, True, 0, len(text)
    while i < n:
        ch = text[i]
        if in_quotes:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    i += 1
                else:
                    in_quotes = False
        elif ch in ",\r\n":
            at_start = True
        else:
            if ch == '"' and at_start:
                in_quotes = True
            at_start = False
        i += 1
    return in_quotes


def _swallowed(fields: list[str], lines: list[str], width: int) -> bool:
    """Whether a record made of several lines is a quote left open rather than a quoted
    value holding line breaks: it has the wrong number of fields, or one of the lines
    after the first is, on its own, a whole row (the open quote ran over it)."""
    if len(fields) != width:
        return True
    if width < 2:
        return False
    last = len(lines) - 1
    for i, line in enumerate(lines[1:], start=1):
        alone = next(csv.reader([line]), [])
        # The closing line of a real multi-line value starts with the value's tail and
        # its closing quote; a swallowed row closes the quote later, in a later field.
        if len(alone) == width and (i < last or '"' not in alone[0]):
            return True
    return False


def _row_problem(
    fields: list[str], lines: list[str], width: int, limits: Limits
) -> tuple[str, str] | None:
    """(code, Chinese detail) when a record cannot be loaded as it stands."""
    chars = sum(map(len, lines)) if len(lines) > 1 else len(lines[0])
    if any("\x00" in line for line in lines):
        column = next(i for i, f in enumerate(fields, start=1) if "\x00" in f)
        return "ROW_NUL_BYTES", f"第 {column} 列含有空字符（NUL）"
    if chars > limits.max_field_chars:
        found = _cell_problem(fields, limits)
        if found:
            return found
    if len(fields) != width:
        return "ROW_MALFORMED", f"该行有 {len(fields)} 个字段，表头有 {width} 个"
    return None


def _chunk(rows: list[list[str]], header: list[str]) -> pd.DataFrame:
    """Rows of strings as a frame typed as pyarrow's CSV reader types them."""
    import numpy as np
    import pyarrow as pa

    width = len(header)
    flat = pa.array(list(chain.from_iterable(rows)), type=pa.string())
    starts = np.arange(len(rows), dtype=np.int64) * width
    arrays = [flat.take(pa.array(starts + j)) for j in range(width)]
    return pa.Table.from_arrays(arrays, names=header).to_pandas()


def _csv_text(fh: BinaryIO, encoding: str, errors: str = "strict") -> io.TextIOWrapper:
    fh.seek(0)
    return io.TextIOWrapper(fh, encoding=encoding, errors=errors, newline="")


def _read_csv(fh: BinaryIO, encoding: str, limits: Limits) -> RawTable:
    """CSV, streamed: rows with the wrong number of fields, a quote left open, a NUL or a
    field over the limit become broken rows with their own reason codes.

    Row numbers count data rows from 1 (the header is not a row; blank lines are not
    rows), as departments count them in Excel; a broken row keeps its number so feedback
    points at the right line. The encoding is the spec's, or: BOM, strict UTF-8, GB18030.
    """
    _check_size(fh, limits)
    if encoding != "auto":
        candidates = [encoding]
    elif fh.read(3).startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    problem = ""
    for enc in candidates:
        text = _csv_text(fh, enc)
        try:
            return _parse_csv(text, enc, limits)
        except UnicodeDecodeError as exc:
            problem = f"按 {enc} 解码失败：{exc.reason}"
            if enc == "utf-8" and exc.reason == "unexpected end of data":
                break  # UTF-8 cut inside its last character: not another encoding
        finally:
            text.detach()
    raise FileRejected("FILE_ENCODING", f"文件编码无法识别（{problem}）")


def _parse_csv(text: io.TextIOWrapper, enc: str, limits: Limits) -> RawTable:
    records = _CsvRecords(text, limits.max_line_chars(limits.max_columns))
    header: list[str] | None = None
    for item in records.records():
        if isinstance(item, _Broken):
            raise FileRejected("FILE_MALFORMED", f"CSV 表头无法读取：{item.detail}")
        fields, lines = item
        if "".join(lines).strip():
            header = fields
            break
    if header is None:  # nothing but blank lines
        return RawTable(pd.DataFrame(), enc)
    if any("\x00" in h for h in header):
        raise FileRejected("FILE_ENCODING", "表头含有空字符（NUL）：文件可能是 UTF-16 或二进制文件")
    if len(header) > limits.max_columns:
        raise _too_many_columns(len(header), limits)
    if any(len(h) > limits.max_field_chars for h in header):
        raise FileRejected("FILE_MALFORMED", "CSV 表头过长")
    header = _dedupe_headers([h.strip() for h in header])
    width = len(header)
    records.cap = limits.max_line_chars(width)

    table = RawTable(pd.DataFrame(), enc)
    chunks: list[pd.DataFrame] = []
    buffer: list[list[str]] = []
    good: list[int] = []
    row = 0
    last: tuple[int, list[str]] | None = None  # the latest row split into fields
    max_field = limits.max_field_chars
    while True:
        for item in records.records():
            if len(buffer) >= _CHUNK_ROWS:
                chunks.append(_chunk(buffer, header))
                buffer = []
            row += 1
            if row > limits.max_rows:
                raise _too_many_rows(limits)
            if isinstance(item, _Broken):
                table._break(row, item.code, item.detail)
                continue
            fields, lines = item
            if len(lines) > 1 and _swallowed(fields, lines, width):
                records.push_back(lines[1:])
                table._break(row, "ROW_QUOTE_UNCLOSED", "引号未闭合，该行之后的行已单独读取")
                continue
            last = (row, lines)
            if len(lines) == 1 and len(fields) == width:  # the usual row: quick checks
                line = lines[0]
                if len(line) <= max_field and "\x00" not in line:
                    buffer.append(fields)
                    good.append(row)
                    continue
            found = _row_problem(fields, lines, width, limits)
            if found:
                table._break(row, *found)
                continue
            buffer.append(fields)
            good.append(row)
        # The file has ended: a last row that ends inside a quote took the end of the file.
        if last is not None and last[0] == row and _ends_in_open_quote("".join(last[1])):
            if good and good[-1] == row:
                buffer.pop()
                good.pop()
            table._break(row, "ROW_QUOTE_UNCLOSED", "引号未闭合，直到文件结尾")
            if len(last[1]) > 1:
                records.push_back(last[1][1:])
                last = None
                continue
        break

    if buffer or not chunks:
        chunks.append(_chunk(buffer, header))
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    frame.index = pd.Index(good, name="row_number")
    if table.broken_rows:
        placeholders = pd.DataFrame(
            None,
            index=pd.Index(sorted(table.broken_rows), name="row_number"),
            columns=frame.columns,
            dtype=object,
        )
        frame = pd.concat([frame.astype(object), placeholders]).sort_index()
    table.frame = frame
    return table


# --------------------------------------------------------------------------- XLSX


def _check_zip(fh: BinaryIO, limits: Limits) -> None:
    """Size every part of the archive from its central directory, before any parsing: a
    decompression bomb is rejected here and never opened. (``zipfile`` never inflates a
    part past the size its directory declares, so the declared sizes bound the reading.)"""
    import zipfile

    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件已损坏或不是 Excel 文件：{exc}") from None
    finally:
        fh.seek(0)
    if len(parts) > limits.max_parts:
        raise FileRejected(
            "FILE_ZIP_BOMB", f"XLSX 压缩包内有 {len(parts)} 个部件，上限 {limits.max_parts}"
        )
    total = 0
    for part in parts:
        size, packed = part.file_size, max(part.compress_size, 1)
        total += size
        if size > limits.max_part_bytes:
            raise FileRejected(
                "FILE_ZIP_BOMB",
                f"XLSX 部件 {part.filename[:80]} 解压后 {size / MiB:.0f} MB，"
                f"上限 {limits.max_part_bytes / MiB:.0f} MB（疑似压缩炸弹，未打开）",
            )
        if size > limits.ratio_floor_bytes and size / packed > limits.max_part_ratio:
            raise FileRejected(
                "FILE_ZIP_BOMB",
                f"XLSX 部件 {part.filename[:80]} 压缩比 {size / packed:.0f}:1，"
                f"上限 {limits.max_part_ratio:.0f}:1（疑似压缩炸弹，未打开）",
            )
    if total > limits.max_unzipped_bytes:
        raise FileRejected(
            "FILE_ZIP_BOMB",
            f"XLSX 解压后共 {total / MiB:.0f} MB，上限 {limits.max_unzipped_bytes / MiB:.0f} MB"
            "（疑似压缩炸弹，未打开）",
        )


def _read_xlsx(fh: BinaryIO, limits: Limits) -> RawTable:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_size(fh, limits)
    _check_zip(fh, limits)
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件已损坏或不是 Excel 文件：{exc}") from None
    except Exception as exc:  # zipfile.BadZipFile and friends from a truncated file
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件无法打开：{type(exc).__name__}") from None
    table = RawTable(pd.DataFrame())
    try:
        ws = wb.worksheets[0]
        # The stored dimensions may be wrong (too small: rows lost; huge: every row padded
        # to 16,384 cells over a million rows): rows are read as they are in the sheet.
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return table
        header = list(header)
        used = max((i + 1 for i, h in enumerate(header) if h not in (None, "")), default=0)
        if used > limits.max_columns:
            raise _too_many_columns(used, limits)
        if len(header) > limits.max_columns:  # padded with empty cells: keep the used ones
            header = header[:used]
        width = len(header)
        body: list[tuple] = []
        seen = 0
        for r in rows:
            seen += 1
            if seen > limits.max_rows:
                raise _too_many_rows(limits)
            if not any(v not in (None, "") for v in r):
                continue
            r = tuple(r[:width]) + (None,) * (width - len(r))
            found = _cell_problem(r, limits)
            if found:
                table._break(len(body) + 1, *found)
                r = (None,) * width
            body.append(r)
    except FileRejected:
        raise
    except Exception as exc:  # a truncated zip fails while streaming the sheet
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件读取中断：{type(exc).__name__}") from None
    finally:
        wb.close()
    headers = ["" if h is None else str(h) for h in header]
    frame = pd.DataFrame.from_records(body, columns=range(width)).astype(object)
    frame.columns = _dedupe_headers(headers)
    table.frame = _numbered(frame)
    return table


# --------------------------------------------------------------------------- JSON Lines


def _jsonl_lines(text: io.TextIOWrapper, cap: int) -> Iterator[str | _TooLong]:
    while line := text.readline(cap + 1):
        if len(line) > cap and not line.endswith(("\n", "\r")):
            while (more := text.readline(cap + 1)) and not more.endswith(("\n", "\r")):
                pass
            yield _TOO_LONG
        else:
            yield line


def _read_jsonl(fh: BinaryIO, limits: Limits) -> RawTable:
    _check_size(fh, limits)
    if fh.read(3).startswith(codecs.BOM_UTF8):
        attempts = [("utf-8-sig", "replace")]
    else:
        attempts = [("utf-8", "strict"), ("gb18030", "replace")]
    while True:
        encoding, errors = attempts.pop(0)
        text = _csv_text(fh, encoding, errors)
        try:
            return _parse_jsonl(text, encoding, limits)
        except UnicodeDecodeError as exc:  # only from a strict attempt
            if exc.reason == "unexpected end of data":  # UTF-8 cut in its last character
                attempts = [("utf-8", "replace")]
        finally:
            text.detach()


def _parse_jsonl(text: io.TextIOWrapper, encoding: str, limits: Limits) -> RawTable:
    table = RawTable(pd.DataFrame(), encoding)
    records: list[dict] = []
    keys: set[str] = set()
    row = 0
    for line in _jsonl_lines(text, limits.max_line_chars(limits.max_columns)):
        if line is not _TOO_LONG and not line.strip():
            continue
        row += 1
        if row > limits.max_rows:
            raise _too_many_rows(limits)
        obj: dict = {}
        if line is _TOO_LONG:
            table._break(row, "ROW_FIELD_TOO_LONG", "该行过长")
        else:
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError:
                table._break(row, "ROW_MALFORMED", "该行不是合法的 JSON 对象")
                obj = {}
        if obj:
            cells = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                for v in obj.values()
            ]
            found = _cell_problem(list(obj) + cells, limits)
            if found:
                detail = (
                    "字段名或取值含有空字符（NUL）"
                    if found[0] == "ROW_NUL_BYTES"
                    else f"字段名或取值超过 {limits.max_field_chars} 个字符"
                )
                table._break(row, found[0], detail)
                obj = {}
            else:
                keys.update(obj)
                if len(keys) > limits.max_columns:
                    raise _too_many_columns(len(keys), limits)
        records.append(obj)
    frame = pd.DataFrame.from_records(records).astype(object) if records else pd.DataFrame()
    # A nested object or list in a field is kept as its JSON text, never as a Python object.
    for col in frame.columns:
        nested = frame[col].map(lambda v: isinstance(v, (dict, list)))
        if nested.any():
            frame.loc[nested, col] = frame.loc[nested, col].map(
                lambda v: json.dumps(v, ensure_ascii=False)
            )
    if len(frame):
        frame = frame.where(frame.notna(), None)
        _numbered(frame)
    table.frame = frame
    return table


# --------------------------------------------------------------------------- SQL


def _private_copy(path: Path, landed: LandedFile | None, limits: Limits, folder: str) -> Path:
    """Copy a landed SQLite database (and its write-ahead log, if any) into ``folder``.

    SQLite opens files by name and writes beside them (locks, ``-shm``) even read-only;
    reading a private copy taken through a no-follow descriptor is the only way to never
    follow a swapped link and never write into the landing zone.
    """
    target = Path(folder) / "source.sqlite"
    with open_landed(path, landed) as fh, target.open("wb") as out:
        _check_size(fh, limits)
        shutil.copyfileobj(fh, out, 1 << 20)
    wal = path.with_name(path.name + "-wal")
    if os.path.lexists(wal):
        with open_landed(wal) as fh, (Path(folder) / "source.sqlite-wal").open("wb") as out:
            shutil.copyfileobj(fh, out, 1 << 20)
    return target


def _read_sql(
    path: Path | None,
    url: str | None,
    table: str,
    limits: Limits,
    landed: LandedFile | None,
) -> RawTable:
    from sqlalchemy import column, create_engine, inspect, select
    from sqlalchemy import table as sa_table
    from sqlalchemy.exc import SQLAlchemyError

    if url is None and path is None:
        raise FileRejected("FILE_MALFORMED", "未提供数据库地址")
    with tempfile.TemporaryDirectory(prefix="crosscheck-sql-") as folder:
        if url is not None:
            engine = create_engine(url)
        else:
            import sqlite3

            copy = _private_copy(path, landed, limits, folder)
            # Read-only URI with the path percent-encoded: '#', '?' or '%' in a name must
            # not become URI syntax.
            uri = f"file:{quote(str(copy))}?mode=ro"
            engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
        result_table = RawTable(pd.DataFrame())
        try:
            with engine.connect() as conn:
                names = inspect(conn).get_table_names() + inspect(conn).get_view_names()
                if table not in names:
                    raise FileRejected("FILE_MALFORMED", f"数据库中没有表或视图 {table}")
                cols = [c["name"] for c in inspect(conn).get_columns(table)]
                if len(cols) > limits.max_columns:
                    raise _too_many_columns(len(cols), limits)
                # Row numbers follow the table's own order (rowid), never the order a
                # query plan happens to return; a view or a WITHOUT ROWID table is sorted
                # by all its columns.
                stmt = select(*[column(c) for c in cols]).select_from(sa_table(table))
                try:
                    result = conn.execute(stmt.order_by(column("rowid")))
                except SQLAlchemyError:
                    conn.rollback()
                    result = conn.execute(stmt.order_by(*[column(c) for c in cols]))
                rows: list[tuple] = []
                while batch := result.fetchmany(10_000):
                    for r in batch:
                        if len(rows) >= limits.max_rows:
                            raise _too_many_rows(limits)
                        found = _cell_problem(r, limits)
                        if found:
                            result_table._break(len(rows) + 1, *found)
                            r = (None,) * len(cols)
                        rows.append(tuple(r))
                frame = pd.DataFrame(rows, columns=cols, dtype=object)
        except SQLAlchemyError as exc:
            raise FileRejected(
                "FILE_MALFORMED", f"数据库无法读取：{type(exc).__name__}: {exc.args[0][:200]}"
            ) from None
        finally:
            engine.dispose()
    result_table.frame = _numbered(frame)
    return result_table


def read_file(
    path: Path,
    fmt: str,
    *,
    encoding: str = "auto",
    sql_table: str | None = None,
    sql_url: str | None = None,
    limits: Limits | None = None,
    landed: LandedFile | None = None,
) -> RawTable:
    """Read one landed file (or database) in the given format, within ``limits``.

    The file is opened without following links (:class:`LandingRefused` otherwise); given
    the ``landed`` file it was claimed as, a file that is no longer that one, or changes
    while being read, is refused too (it is not claimed, it is read again next run).
    """
    limits = limits or DEFAULT_LIMITS
    if fmt == "sql":
        return _read_sql(path, sql_url, sql_table or "", limits, landed)
    if fmt not in ("csv", "xlsx", "jsonl"):
        raise ValueError(f"unknown format {fmt}")
    with open_landed(path, landed) as fh:
        if fmt == "csv":
            return _read_csv(fh, encoding, limits)
        if fmt == "xlsx":
            return _read_xlsx(fh, limits)
        return _read_jsonl(fh, limits)
