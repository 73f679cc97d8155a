"""Feedback packs for departments: what was accepted, what was rejected and why, in Chinese.

One pack per processed file, under ``<reports>/feedback/<department>/<source_id>/<file>/``:
- ``rejected.csv`` (UTF-8 with BOM so Excel opens it) and ``rejected.xlsx``: every rejected
  row with its row number, reasons and the values as sent (ID numbers masked), plus rows
  accepted with a warning (an ID number whose check character fails, say);
- ``summary.html``: one self-contained page (no external CSS or scripts) with the counts,
  the top problems and what to fix, from the Jinja2 template ``templates/feedback_summary.html``
  (autoescaped: file names and values come from departments).

This module renders and writes from plain data; ``warehouse.reports`` reads the warehouse
and decides which packs to write (once per load).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from connectors.spec import SourceSpec
from validation.reasons import REASONS

__all__ = [
    "STATUS_ZH",
    "FileOutcome",
    "pack_folder",
    "rejected_rows",
    "summary_html",
    "warning_rows",
    "write_pack",
]

STATUS_ZH = {
    "loaded": "已全部入库",
    "loaded_with_rejects": "部分入库",
    "rejected": "整个文件被拒收",
    "empty": "空文件",
    "duplicate_file": "重复文件（未重复入库）",
}

_DETAIL_COLUMNS = ["行号", "处理结果", "问题代码", "问题说明"]


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one processed file (its ``load_audit`` row, as plain data)."""

    load_id: int
    source_id: str
    file_name: str
    file_sha256: str
    status: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    finished_at: dt.datetime | None = None
    reason_code: str | None = None
    message: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.file_sha256)


@cache
def _templates():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("validation", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


FINGERPRINT_CHARS = 12  # of the file's SHA-256: the receipt a department quotes back


def fingerprint(file_sha256: str) -> str:
    """A processed file's receipt (文件指纹): the same whichever run, runner or backend
    processed it, unlike the load id (a claim-order surrogate with gaps after a crash)."""
    return file_sha256[:FINGERPRINT_CHARS]


def pack_folder(
    reports_dir: Path, department: str, source_id: str, file_name: str, file_sha256: str
) -> Path:
    stem = Path(file_name).stem
    return reports_dir / "feedback" / department / source_id / f"{stem}__{fingerprint(file_sha256)}"


def rejected_rows(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows (row_number, reason_code, reason, raw_values as JSON) as the pack
    shows them: row number, outcome, reasons, then one column per department header."""
    if not len(quarantine):
        return pd.DataFrame(columns=_DETAIL_COLUMNS)
    raw = (
        pd.DataFrame([json.loads(v) for v in quarantine["raw_values"]], index=quarantine.index)
        if "raw_values" in quarantine
        else pd.DataFrame(index=quarantine.index)
    )
    front = pd.DataFrame(
        {
            "行号": quarantine["row_number"].astype(int),
            "处理结果": "拒收",
            "问题代码": quarantine["reason_code"],
            "问题说明": quarantine["reason"],
        },
        index=quarantine.index,
    )
    return pd.concat([front, raw.astype(object)], axis=1)


def warning_rows(staged: pd.DataFrame) -> pd.DataFrame:
    """Rows loaded with a warning (row_number, row_warning, id_masked) as the pack shows them."""
    if staged.empty:
        return pd.DataFrame(columns=[*_DETAIL_COLUMNS, "身份证号（脱敏）"])
    return pd.DataFrame(
        {
            "行号": staged["row_number"].astype(int),
            "处理结果": "已入库（请核实）",
            "问题代码": staged["row_warning"],
            "问题说明": staged["row_warning"].map(lambda c: REASONS[c].zh if c in REASONS else c),
            "身份证号（脱敏）": staged["id_masked"],
        }
    )


def _problems(rejected: pd.DataFrame) -> list[dict]:
    """The reasons of the rejected rows, most frequent first, with up to 5 example rows."""
    if not len(rejected):
        return []
    top = (
        rejected.assign(code=rejected["问题代码"].str.split(";"))
        .explode("code")
        .groupby("code")["行号"]
        .agg(["size", lambda s: "、".join(map(str, s.head(5)))])
        .sort_values("size", ascending=False)
    )
    return [
        {
            "label": (REASONS[code].zh.split("：")[0].replace("「{column}」", ""))
            if code in REASONS
            else code,
            "rows": int(rows),
            "examples": examples,
            "fix": REASONS[code].fix_zh if code in REASONS else "",
        }
        for code, (rows, examples) in top.iterrows()
    ]


def summary_html(
    outcome: FileOutcome, spec: SourceSpec, rejected: pd.DataFrame, warnings: pd.DataFrame
) -> str:
    """The pack's summary page (``rejected``/``warnings`` as from rejected_rows/warning_rows)."""
    fix_file = REASONS[outcome.reason_code].fix_zh if outcome.reason_code in REASONS else ""
    return (
        _templates()
        .get_template("feedback_summary.html")
        .render(
            audit=outcome,
            spec=spec,
            finished_at=str(outcome.finished_at)[:19],
            status=STATUS_ZH.get(outcome.status, outcome.status),
            fix_file=fix_file,
            problems=_problems(rejected),
            warn_count=len(warnings),
        )
    )


def write_pack(
    folder: Path,
    outcome: FileOutcome,
    spec: SourceSpec,
    quarantine: pd.DataFrame,
    staged_warnings: pd.DataFrame,
) -> Path:
    """Write one file's pack (CSV, XLSX, summary.html) into ``folder``; returns it."""
    rejected = rejected_rows(quarantine)
    warnings = warning_rows(staged_warnings)
    detail = pd.concat([rejected, warnings], ignore_index=True).sort_values("行号", kind="stable")
    folder.mkdir(parents=True, exist_ok=True)
    detail.to_csv(folder / "rejected.csv", index=False, encoding="utf-8-sig")
    _write_xlsx(detail, folder / "rejected.xlsx")
    (folder / "summary.html").write_text(
        summary_html(outcome, spec, rejected, warnings), encoding="utf-8"
    )
    return folder


XLSX_MAX_ROWS = 100_000  # beyond this the CSV carries the detail; Excel chokes on more


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """Every cell as text, so Excel never turns an ID or a code into a number."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("反馈明细")
    ws.append(list(frame.columns))
    shown = frame.head(XLSX_MAX_ROWS)
    for row in shown.astype(object).where(shown.notna(), None).itertuples(index=False):
        ws.append([None if v is None else str(v) for v in row])
    if len(frame) > XLSX_MAX_ROWS:
        ws.append([f"（共 {len(frame)} 行，其余见 rejected.csv）"])
    wb.save(path)
