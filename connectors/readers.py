"""Readers: turn a landed file into a frame of raw cell values, one reader per format.

Every reader returns a :class:`RawTable`: the department's headers as written and the cell
values untouched (strings, or the numbers and dates an XLSX cell holds), so that typing
and validation see exactly what the department sent. Problems that make a whole file
unreadable raise :class:`FileRejected` with a Chinese message naming the problem.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from pathlib import Path

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


def _read_csv(path: Path, encoding: str) -> RawTable:
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
    import io

    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except pd.errors.ParserError as exc:
        raise FileRejected("FILE_MALFORMED", f"CSV 格式错误：{exc}") from None
    return RawTable(_numbered(frame), enc)


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
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
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
    if len(frame):
        frame = frame.where(frame.notna(), None)
        _numbered(frame)
    return RawTable(frame, "utf-8", broken)


def _read_sql(path: Path | None, url: str | None, table: str) -> RawTable:
    from sqlalchemy import create_engine, inspect, select
    from sqlalchemy import table as sa_table
    from sqlalchemy.exc import SQLAlchemyError

    if url is None:
        if path is None:
            raise FileRejected("FILE_MALFORMED", "未提供数据库地址")
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = create_engine(url)
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


def read_file(path: Path, fmt: str, *, encoding: str = "auto", sql_table: str | None = None,
              sql_url: str | None = None) -> RawTable:
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
