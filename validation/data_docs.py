"""Offline data docs: every source's expectation suite and how its rows fared, one page.

GX's own Data Docs load their CSS and scripts from CDNs, which the county networks (and
this machine) cannot reach; this page is self-contained HTML built from the same suites,
from the Jinja2 template ``templates/data_docs.html`` (autoescaped).

This module renders and writes from plain data; ``warehouse.reports`` reads the warehouse.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pandas as pd

from connectors.spec import SourceSpec, load_specs
from validation.feedback import fingerprint
from validation.reasons import REASONS
from validation.suites import build_suite, reasons_of, suite_parameters

__all__ = ["page_html", "write_page"]

_HOW = {  # what the expectations without a row reason check
    "columns": "文件包含全部约定列",
    "id_format": "身份证号为 18 位（或旧 15 位）；比例低于 mostly 时本规则不通过，行照常入库",
    "row_key": "同一文件内行键不重复；重复的行按重复计，保留最新一行",
}


_EFFECT = {"columns": "缺列时整个文件被拒收"}


@cache
def _templates():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("validation", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def _describe(code: str, header: str) -> str:
    if code not in REASONS:
        return ""
    return REASONS[code].zh.format(column=header, value="…") + f"（{REASONS[code].en}）"


def _shown(value, params: dict) -> str:
    """A kwarg as shown: a parameter as its default value and name."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        name = value["$PARAMETER"]
        default = params.get(name)
        if isinstance(default, dt.datetime):
            default = str(default)
        return f"{default}（{name}）"
    return str(value)


def _range(exp, params: dict) -> str:
    kwargs = exp.configuration.kwargs
    if "value_set" in kwargs:
        return "、".join(map(str, kwargs["value_set"]))
    shown = [
        f"{key}={_shown(kwargs[key], params)}"
        for key in ("min_value", "max_value", "regex", "mostly")
        if kwargs.get(key) is not None
    ]
    return ", ".join(shown)


def _header(spec: SourceSpec, meta: dict) -> str:
    if meta.get("field"):
        return spec.column(meta["field"]).header
    check = meta.get("check")
    if check == "row_key":
        return "（行键：" + "、".join(spec.column(f).header for f in spec.row_key) + "）"
    return "（整个文件）" if check == "columns" else "（身份信息）"


def _rules(spec: SourceSpec) -> list[dict]:
    """One line per reason an expectation stands for (one line if it only monitors)."""
    params = suite_parameters(spec)
    rules = []
    for exp in build_suite(spec).expectations:
        for meta in reasons_of(exp.meta) or [exp.meta or {}]:
            header = _header(spec, meta)
            code = meta.get("reason_code") or ""
            check = meta.get("check")
            rules.append(
                {
                    "header": header,
                    "rule": exp.expectation_type,
                    "range": _range(exp, params),
                    "code": code,
                    "description": _describe(code, header) if code else _HOW.get(check, ""),
                    "effect": "拒收该行" if code else _EFFECT.get(check, "仅监测"),
                }
            )
    return rules


def _summary(stats, reasons: pd.DataFrame) -> str:
    if stats is None:
        return "尚未收到文件"
    text = (
        f"{int(stats['files'])} 个文件，{int(stats['rows_in'] or 0)} 行，拒收 "
        f"{int(stats['rejected'] or 0)} 行"
    )
    top = "；".join(f"{r.reason_code} {r.n}" for r in reasons.itertuples())
    return text + ("；" + top if top else "")


def page_html(loads: pd.DataFrame, reasons: pd.DataFrame, latest: pd.DataFrame) -> str:
    """The page, from plain frames.

    ``loads``: source_id, files, rows_in, rejected (one row per source with files);
    ``reasons``: source_id, reason_code, n (quarantined rows per reason);
    ``latest``: source_id, load_id, file_name, file_sha256, suite_name, success,
    evaluated_expectations, successful_expectations (the kept validation result of each
    source's latest file; may be empty).
    """
    loads = loads.set_index("source_id") if len(loads) else pd.DataFrame()
    latest = latest.set_index("source_id") if len(latest) else pd.DataFrame()
    sources = []
    for source_id, spec in load_specs().items():
        stats = loads.loc[source_id] if source_id in loads.index else None
        mine = reasons[reasons["source_id"] == source_id] if len(reasons) else reasons
        result = latest.loc[source_id] if source_id in latest.index else None
        sources.append(
            {
                "department": spec.department,
                "title": spec.title,
                "source_id": source_id,
                "summary": _summary(stats, mine),
                "latest": None
                if result is None
                else {
                    "file_name": result["file_name"],
                    "fingerprint": fingerprint(result["file_sha256"]),
                    "suite_name": result["suite_name"],
                    "success": bool(result["success"]),
                    "evaluated": int(result["evaluated_expectations"]),
                    "successful": int(result["successful_expectations"]),
                },
                "rules": _rules(spec),
            }
        )
    return _templates().get_template("data_docs.html").render(sources=sources)


def write_page(
    reports_dir: Path, loads: pd.DataFrame, reasons: pd.DataFrame, latest: pd.DataFrame
) -> Path:
    """Write ``<reports>/data_docs/index.html``; returns its path."""
    out = reports_dir / "data_docs" / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page_html(loads, reasons, latest), encoding="utf-8")
    return out
