"""Readers: turn a landed file into a frame of raw cell values, one reader per format.

Every reader returns a :class:`RawTable`: the department's headers as written and the cell
values untouched (strings, or the numbers and dates an XLSX cell holds), so that typing
and validation see exactly what the department sent. Problems that make a whole file
unreadable raise :class:`FileRejected` with a Chinese message naming the problem.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

__all__ = ["FileRejected", "RawTable", "detect_encoding", "read_file"]

# Office lock files and partial uploads are never data.
IGNORED_PREFIXES = ("~$", ".")


class FileRejected(Exception):
    """A whole file cannot be used. ``code`` is a reason code, ``message`` is Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RawTable:
    """Cell values as sent, plus rows that could not even be split into cells."""

    frame: pd.DataFrame  # columns = headers as written; index = data row number (from 1)
    encoding: str | None = None
    broken_rows: dict[int, str] = field(default_factory=dict)  # row number -> problem


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


def _csv_header(text: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text)), [])
    return _dedupe_headers([h.strip() for h in first])


def _read_csv(path: Path, encoding: str) -> RawTable:
    """CSV through pyarrow's reader; rows with the wrong number of fields become broken rows.

    Row numbers count data rows from 1 (the header is not a row), as departments count
    them in Excel; a broken row keeps its number so feedback points at the right line.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = path.read_bytes()
    enc = detect_encoding(data) if encoding == "auto" else encoding
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "FILE_ENCODING", f"文件编码无法识别（按 {enc} 解码失败，位置 {exc.start}）"
        ) from None
    if not text.strip():
        return RawTable(pd.DataFrame(), enc)
    header = _csv_header(text)
    width = len(header)
    broken: dict[int, str] = {}

    def invalid_row(row) -> str:
        number = (row.number or 0) - 1  # physical line -> data row (header is line 1)
        broken[number] = f"该行有 {row.actual_columns} 个字段，表头有 {row.expected_columns} 个"
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=invalid_row, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise FileRejected("FILE_MALFORMED", f"CSV 格式错误：{str(exc)[:200]}") from None
    frame = table.to_pandas()
    frame.columns = header[:width]
    total = len(frame) + len(broken)
    good = [n for n in range(1, total + 1) if n not in broken]
    if len(good) != len(frame):  # numbers unknown: keep order, number broken rows after
        good = list(range(1, len(frame) + 1))
    frame.index = pd.Index(good, name="row_number")
    if broken:
        placeholders = pd.DataFrame(
            None,
            index=pd.Index(sorted(broken), name="row_number"),
            columns=frame.columns,
            dtype=object,
        )
        frame = pd.concat([frame.astype(object), placeholders]).sort_index()
    return RawTable(frame, enc, broken)


def _read_xlsx(path: Path) -> RawTable:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件已损坏或不是 Excel 文件：{exc}") from None
    except Exception as exc:  # zipfile.BadZipFile and friends from a truncated file
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件无法打开：{type(exc).__name__}") from None
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return RawTable(pd.DataFrame())
        body = [r for r in rows if any(v not in (None, "") for v in r)]
    except Exception as exc:  # a truncated zip fails while streaming the sheet
        raise FileRejected("FILE_MALFORMED", f"XLSX 文件读取中断：{type(exc).__name__}") from None
    finally:
        wb.close()
    headers = ["" if h is None else str(h) for h in header]
    width = len(headers)
    body = [tuple(r[:width]) + (None,) * (width - len(r)) for r in body]
    frame = pd.DataFrame.from_records(body, columns=range(width)).astype(object)
    frame.columns = _dedupe_headers(headers)
    return RawTable(_numbered(frame))


def _dedupe_headers(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        n = seen.get(h, 0)
        seen[h] = n + 1
        out.append(h if n == 0 else f"{h}.{n}")
    return out


def _read_jsonl(path: Path) -> RawTable:
    data = path.read_bytes()
    encoding = detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    lines = text.splitlines()
    records: list[dict] = []
    broken: dict[int, str] = {}
    row = 0
    for line in lines:
        if not line.strip():
            continue
        row += 1
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            broken[row] = "该行不是合法的 JSON 对象"
            obj = {}
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
    return RawTable(frame, encoding, broken)


def _read_sql(path: Path | None, url: str | None, table: str) -> RawTable:
    from sqlalchemy import create_engine, inspect, select
    from sqlalchemy import table as sa_table
    from sqlalchemy.exc import SQLAlchemyError

    if url is not None:
        engine = create_engine(url)
    elif path is not None:
        import sqlite3

        # Read-only URI with the path percent-encoded: '#', '?' or '%' in a file name must
        # not become URI syntax (losing mode=ro would let SQLite create files in landing).
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    else:
        raise FileRejected("FILE_MALFORMED", "未提供数据库地址")
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names() + inspect(conn).get_view_names()
            if table not in names:
                raise FileRejected("FILE_MALFORMED", f"数据库中没有表或视图 {table}")
            cols = [c["name"] for c in inspect(conn).get_columns(table)]
            from sqlalchemy import column

            stmt = select(*[column(c) for c in cols]).select_from(sa_table(table))
            result = conn.execute(stmt)
            frame = pd.DataFrame(result.fetchall(), columns=cols, dtype=object)
    except SQLAlchemyError as exc:
        raise FileRejected(
            "FILE_MALFORMED", f"数据库无法读取：{type(exc).__name__}: {exc.args[0][:200]}"
        ) from None
    finally:
        engine.dispose()
    return RawTable(_numbered(frame))


def read_file(
    path: Path,
    fmt: str,
    *,
    encoding: str = "auto",
    sql_table: str | None = None,
    sql_url: str | None = None,
) -> RawTable:
    """Read one landed file (or database) in the given format."""
    if fmt == "csv":
        return _read_csv(path, encoding)
    if fmt == "xlsx":
        return _read_xlsx(path)
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "sql":
        return _read_sql(path, sql_url, sql_table or "")
    raise ValueError(f"unknown format {fmt}")
