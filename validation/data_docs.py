"""Offline data docs: every source's expectation suite and how its rows fared, one page.

GX's own Data Docs load their CSS and scripts from CDNs, which the county networks (and
this machine) cannot reach; this page is self-contained HTML built from the same suites.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select

from connectors.spec import load_specs
from validation.reasons import REASONS
from validation.suites import build_suite
from warehouse.db import read_frame
from warehouse.models import LoadAudit, Quarantine

__all__ = ["write_data_docs"]

_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left}th{background:#f5f5f5}h2{margin-top:1.6em}.n{text-align:right}"""


def _describe(code: str, header: str) -> str:
    if code not in REASONS:
        return ""
    return REASONS[code].zh.format(column=header, value="…") + f"（{REASONS[code].en}）"


def _expectation_rows(source_id: str) -> str:
    spec = load_specs()[source_id]
    rows = []
    for exp in build_suite(spec).expectations:
        meta = exp.meta or {}
        field = meta.get("field")
        header = spec.column(field).header if field else "（身份信息）"
        kwargs = {
            k: v for k, v in exp.configuration.kwargs.items() if k in ("min_value", "max_value")
        }
        rule = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        code = meta.get("reason_code", "")
        rows.append(
            f"<tr><td>{html.escape(header)}</td><td>{exp.expectation_type}</td>"
            f"<td>{html.escape(rule)}</td><td>{code}</td>"
            f"<td>{html.escape(_describe(code, header))}</td></tr>"
        )
    return "".join(rows)


def write_data_docs(engine: Engine, reports_dir: Path) -> Path:
    """Write ``<reports>/data_docs/index.html``; returns its path."""
    with engine.connect() as conn:
        loads = read_frame(
            conn,
            select(
                LoadAudit.source_id,
                func.count().label("files"),
                func.sum(LoadAudit.rows_in).label("rows_in"),
                func.sum(LoadAudit.rows_quarantined).label("rejected"),
            ).group_by(LoadAudit.source_id),
        )
        reasons = read_frame(
            conn,
            select(Quarantine.source_id, Quarantine.reason_code, func.count().label("n")).group_by(
                Quarantine.source_id, Quarantine.reason_code
            ),
        )
    loads = loads.set_index("source_id") if len(loads) else pd.DataFrame()
    parts = [
        f"<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        f"<title>数据质量规则与结果</title><style>{_CSS}</style></head><body>"
        "<h1>数据质量规则与结果（Great Expectations 规则集）</h1>"
    ]
    for source_id, spec in load_specs().items():
        stats = loads.loc[source_id] if source_id in loads.index else None
        summary = (
            f"{int(stats['files'])} 个文件，{int(stats['rows_in'] or 0)} 行，拒收 "
            f"{int(stats['rejected'] or 0)} 行"
            if stats is not None
            else "尚未收到文件"
        )
        mine = reasons[reasons["source_id"] == source_id] if len(reasons) else reasons
        top = "；".join(f"{r.reason_code} {r.n}" for r in mine.itertuples()) if len(mine) else ""
        parts.append(
            f"<h2>{html.escape(spec.department)} {html.escape(spec.title)}"
            f"（{source_id}）</h2><p>{summary}{'；' + top if top else ''}</p>"
            "<table><tr><th>列</th><th>规则</th><th>范围</th><th>代码</th><th>说明</th></tr>"
            f"{_expectation_rows(source_id)}</table>"
        )
    parts.append("</body></html>")
    out = reports_dir / "data_docs" / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
