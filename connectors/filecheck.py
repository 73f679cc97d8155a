"""File-level checks: is this file what its folder says it is?

Departments drop the wrong file more often than a broken one: an Excel file where a CSV
belongs, another department's extract, a column renamed. These checks name the problem
in Chinese so the department can fix it, instead of a wall of per-row errors.
"""

from __future__ import annotations

from pathlib import Path

from rapidfuzz import fuzz

from connectors.landing import LandedFile, open_landed
from connectors.spec import ColumnSpec, SourceSpec, load_specs

__all__ = [
    "guess_other_source",
    "rename_suggestions",
    "schema_problem",
    "sniff_format",
    "wrong_format_message",
]

_FORMAT_NAMES = {
    "csv": "CSV 文本",
    "xlsx": "Excel（XLSX）",
    "jsonl": "JSON Lines",
    "sql": "SQLite 数据库",
    "xls": "旧版 Excel（XLS）",
    "pdf": "PDF",
    "empty": "空文件",
}


def sniff_format(path: Path, expect: LandedFile | None = None) -> str:
    """What the bytes are, whatever the file name says.

    The file is opened as readers open it, never through a link
    (:class:`connectors.landing.LandingRefused` otherwise).
    """
    with open_landed(path, expect) as fh:
        head = fh.read(4096)
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"SQLite format 3\x00"):
        return "sql"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(b"%PDF"):
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def wrong_format_message(expected: str, actual: str) -> str | None:
    """A Chinese message when the bytes are not in the expected format, else None."""
    if actual == "empty" or actual == expected:
        return None
    return (
        f"文件格式不符：本来源约定为 {_FORMAT_NAMES.get(expected, expected)}，"
        f"收到的是 {_FORMAT_NAMES.get(actual, actual)}"
    )


def _norm(header: str) -> str:
    from connectors.canonical import normalize_header

    return normalize_header(header)


def guess_other_source(headers: list[str], spec: SourceSpec) -> SourceSpec | None:
    """Another source whose headers this file carries (all of them), if this one's are missing."""
    present = {_norm(h) for h in headers}
    best, best_share = None, 0.0
    for other in load_specs().values():
        if other.source_id == spec.source_id:
            continue
        expected = {_norm(c.header) for c in other.columns}
        share = len(expected & present) / len(expected)
        if share > best_share:
            best, best_share = other, share
    return best if best_share >= 0.9 else None


def rename_suggestions(missing: list[ColumnSpec], extra: list[str]) -> dict[str, str]:
    """For each missing column, the unexpected header that most looks like it (if any)."""
    suggestions: dict[str, str] = {}
    free = list(extra)
    for col in missing:
        target = _norm(col.header)
        scored = [(fuzz.ratio(target, _norm(h)), h) for h in free]
        scored += [
            (80.0, h) for h in free if _norm(h) and (_norm(h) in target or target in _norm(h))
        ]
        if not scored:
            continue
        score, header = max(scored)
        if score >= 50:
            suggestions[col.header] = header
            free.remove(header)
    return suggestions


def schema_problem(
    spec: SourceSpec, missing: list[ColumnSpec], extra: list[str], headers: list[str]
) -> tuple[str, str]:
    """(reason code, detail) when expected columns are missing: another source's file, or
    columns renamed or dropped (with the likely new names)."""
    other = guess_other_source(headers, spec)
    if other is not None:
        return "FILE_OTHER_SOURCE", f"{other.department}{other.title}（{other.source_id}）"
    renamed = rename_suggestions(missing, extra)
    parts = [
        f"「{c.header}」"
        + (f"（可能改名为「{renamed[c.header]}」）" if c.header in renamed else "")
        for c in missing
    ]
    return "FILE_COLUMNS_MISSING", "、".join(parts)
