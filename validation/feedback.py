"""Feedback packs for departments: what was accepted, what was rejected and why, in Chinese.

One pack per processed file, under ``<reports>/feedback/<department>/<source_id>/<file>/``:
- ``rejected.csv`` (UTF-8 with BOM so Excel opens it) and ``rejected.xlsx``: every rejected
  row with its row number, reasons and the values as sent (ID numbers masked), plus rows
  accepted with a warning (an ID number whose check character fails, say);
- ``summary.html``: one self-contained page (no external CSS or scripts) with the counts,
  the top problems and what to fix.
Packs are written once per load; a rerun with nothing new writes nothing.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from connectors.spec import load_specs
from validation.reasons import REASONS
from warehouse.db import read_frame
from warehouse.models import LoadAudit, Quarantine, staging_table

__all__ = ["pack_folder", "write_feedback_packs"]

STATUS_ZH = {
    "loaded": "已全部入库",
    "loaded_with_rejects": "部分入库",
    "rejected": "整个文件被拒收",
    "empty": "空文件",
    "duplicate_file": "重复文件（未重复入库）",
}


def pack_folder(
    reports_dir: Path, department: str, source_id: str, file_name: str, load_id: int
) -> Path:
    stem = Path(file_name).stem
    return reports_dir / "feedback" / department / source_id / f"{stem}__load{load_id}"


def _rows_frame(rows: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Row number, outcome, reasons, then one column per department header."""
    raw = (
        pd.DataFrame([json.loads(v) for v in rows["raw_values"]], index=rows.index)
        if "raw_values" in rows and len(rows)
        else pd.DataFrame(index=rows.index)
    )
    front = pd.DataFrame(
        {
            "行号": rows["row_number"].astype(int),
            "处理结果": outcome,
            "问题代码": rows["reason_code"],
            "问题说明": rows["reason"],
        },
        index=rows.index,
    )
    return pd.concat([front, raw.astype(object)], axis=1)


def _warnings(engine: Engine, source_id: str, load_id: int) -> pd.DataFrame:
    stg = staging_table(load_specs()[source_id])
    with engine.connect() as conn:
        rows = read_frame(
            conn,
            select(stg.c.row_number, stg.c.row_warning, stg.c.id_masked).where(
                stg.c.load_id == load_id, stg.c.row_warning.is_not(None)
            ),
        )
    if rows.empty:
        return pd.DataFrame(
            columns=["行号", "处理结果", "问题代码", "问题说明", "身份证号（脱敏）"]
        )
    return pd.DataFrame(
        {
            "行号": rows["row_number"].astype(int),
            "处理结果": "已入库（请核实）",
            "问题代码": rows["row_warning"],
            "问题说明": rows["row_warning"].map(lambda c: REASONS[c].zh if c in REASONS else c),
            "身份证号（脱敏）": rows["id_masked"],
        }
    )


def _html(audit, rejected: pd.DataFrame, warnings: pd.DataFrame, spec) -> str:
    e = html.escape
    top = (
        (
            rejected.assign(code=rejected["问题代码"].str.split(";"))
            .explode("code")
            .groupby("code")["行号"]
            .agg(["size", lambda s: "、".join(map(str, s.head(5)))])
            .sort_values("size", ascending=False)
        )
        if len(rejected)
        else pd.DataFrame()
    )
    problems = "".join(
        f"<tr><td>{e(REASONS[c].zh.split('：')[0].replace('「{column}」', '') if c in REASONS else c)}"
        f"</td><td class=n>{n}</td><td>{e(rows)}</td>"
        f"<td>{e(REASONS[c].fix_zh if c in REASONS else '')}</td></tr>"
        for c, (n, rows) in top.iterrows()
    )
    warn_count = len(warnings)
    file_problem = f"<p class=bad><b>文件问题：</b>{e(audit.message)}</p>" if audit.message else ""
    fix_file = (
        f"<p>处理建议：{e(REASONS[audit.reason_code].fix_zh)}</p>"
        if audit.reason_code in REASONS
        else ""
    )
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>数据反馈：{e(audit.file_name)}</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:60em}}
h1{{font-size:1.4em;margin-bottom:.2em}} .sub{{color:#666;margin-top:0}}
.cards{{display:flex;gap:1em;margin:1.2em 0}} .card{{border:1px solid #ddd;border-radius:6px;
padding:.8em 1.2em;min-width:7em}} .card b{{display:block;font-size:1.6em}}
.ok b{{color:#1a7f37}} .rej b{{color:#c0392b}} .warn b{{color:#b7791f}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #ddd;padding:.4em .6em;
text-align:left;vertical-align:top}} th{{background:#f5f5f5}} .n{{text-align:right}}
.bad{{background:#fdecea;padding:.6em;border-radius:4px}}
</style></head><body>
<h1>数据质量反馈：{e(audit.file_name)}</h1>
<p class=sub>{e(spec.department)} · {e(spec.title)}（{e(spec.source_id)}）· 处理编号 {audit.load_id}
 · 处理时间 {e(str(audit.finished_at)[:19])} · 结果：{
        e(STATUS_ZH.get(audit.status, audit.status))
    }</p>
{file_problem}{fix_file}
<div class=cards>
<div class=card>收到行数<b>{audit.rows_in}</b></div>
<div class="card ok">入库<b>{audit.rows_loaded}</b></div>
<div class="card rej">拒收<b>{audit.rows_quarantined}</b></div>
<div class=card>重复<b>{audit.rows_duplicate}</b></div>
<div class="card warn">入库但需核实<b>{warn_count}</b></div>
</div>
<h2>主要问题</h2>
{
        "<table><tr><th>问题</th><th>行数</th><th>示例行号</th><th>如何修改</th></tr>"
        + problems
        + "</table>"
        if problems
        else "<p>没有被拒收的行。</p>"
    }
<h2>需要核实的行</h2>
<p>{warn_count} 行已入库但需要核实：身份证号无法精确核对（校验位错误、被 Excel 转换或格式不正确，
将通过姓名、地址等信息匹配），或出生日期、年龄与身份证号不一致。请在下次报送时更正。</p>
<p>逐行明细见同目录下的 <code>rejected.xlsx</code> / <code>rejected.csv</code>
（行号从数据第一行起算，不含表头；身份证号已脱敏）。</p>
</body></html>
"""


def write_feedback_packs(engine: Engine, reports_dir: Path) -> list[Path]:
    """A pack for every processed file that has none yet; returns the folders written."""
    specs = load_specs()
    with engine.connect() as conn:
        audits = conn.execute(select(LoadAudit).order_by(LoadAudit.load_id)).all()
    written = []
    for audit in audits:
        spec = specs.get(audit.source_id)
        if spec is None:
            continue
        folder = pack_folder(
            reports_dir, spec.department, spec.source_id, audit.file_name, audit.load_id
        )
        if (folder / "summary.html").exists():
            continue
        with engine.connect() as conn:
            rejected_rows = read_frame(
                conn,
                select(Quarantine)
                .where(Quarantine.load_id == audit.load_id)
                .order_by(Quarantine.row_number),
            )
        rejected = (
            _rows_frame(rejected_rows, "拒收")
            if len(rejected_rows)
            else pd.DataFrame(columns=["行号", "处理结果", "问题代码", "问题说明"])
        )
        warnings = _warnings(engine, spec.source_id, audit.load_id)
        detail = pd.concat([rejected, warnings], ignore_index=True).sort_values(
            "行号", kind="stable"
        )
        folder.mkdir(parents=True, exist_ok=True)
        detail.to_csv(folder / "rejected.csv", index=False, encoding="utf-8-sig")
        _write_xlsx(detail, folder / "rejected.xlsx")
        (folder / "summary.html").write_text(
            _html(audit, rejected, warnings, spec), encoding="utf-8"
        )
        written.append(folder)
    return written


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
