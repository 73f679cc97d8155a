"""Feedback packs and data docs: Jinja2 pages (autoescaped), read from the warehouse."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from sqlalchemy import create_engine, insert

from connectors.spec import load_specs
from validation import data_docs, feedback
from warehouse.db import ensure_schema
from warehouse.models import LoadAudit, Quarantine, ValidationResult
from warehouse.reports import write_data_docs, write_feedback_packs

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = "<img src=x onerror=alert(1)>"  # a file name cannot hold a "/"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
SPEC = load_specs()["minzheng_assistance"]


def _outcome(**fields) -> feedback.FileOutcome:
    base = {
        "load_id": 7,
        "source_id": SPEC.source_id,
        "file_name": "救助_202611.csv",
        "file_sha256": "ab" * 32,
        "status": "loaded_with_rejects",
        "rows_in": 3,
        "rows_loaded": 2,
        "rows_quarantined": 1,
        "rows_duplicate": 0,
        "finished_at": dt.datetime(2026, 11, 30, 8, 0, 0),
    }
    return feedback.FileOutcome(**{**base, **fields})


def _quarantine(value: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": [2],
            "reason_code": ["CODE_INVALID"],
            "reason": [f"「救助类别」取值不在允许范围：{value}"],
            "raw_values": [json.dumps({"救助类别": value}, ensure_ascii=False)],
        }
    )


def test_feedback_summary_escapes_what_departments_sent(tmp_path):
    spec = SPEC.model_copy(update={"department": f"民政局{SCRIPT}"})
    outcome = _outcome(
        file_name=f"{SCRIPT}.csv",
        status="rejected",
        reason_code="FILE_COLUMNS_MISSING",
        message=f"文件缺少必需列：「{SCRIPT}」",
    )
    staged = pd.DataFrame(
        {"row_number": [3], "row_warning": ["ID_INVALID_CHECK"], "id_masked": ["360502****1234"]}
    )
    folder = feedback.write_pack(tmp_path / "pack", outcome, spec, _quarantine(SCRIPT), staged)
    page = (folder / "summary.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert page.count(ESCAPED) == 4  # title, heading, department, file problem
    assert "请按约定的表头提供数据" in page  # what to fix, for the file's reason
    assert "取值不在允许范围" in page and ">1<" in page  # the problem and its row count
    assert "1 行已入库但需要核实" in page
    detail = pd.read_csv(folder / "rejected.csv", encoding="utf-8-sig", dtype=str)
    assert detail["行号"].tolist() == ["2", "3"]
    assert detail.loc[0, "救助类别"] == SCRIPT  # the value as sent, in the CSV only


def test_feedback_summary_without_rejects():
    empty = pd.DataFrame(columns=["row_number", "reason_code", "reason", "raw_values"])
    page = feedback.summary_html(
        _outcome(status="loaded", rows_quarantined=0, rows_loaded=3),
        SPEC,
        feedback.rejected_rows(empty),
        feedback.warning_rows(pd.DataFrame()),
    )
    assert "没有被拒收的行" in page and "已全部入库" in page and "文件问题" not in page


def test_data_docs_escape_and_show_the_latest_kept_result(tmp_path):
    latest = pd.DataFrame(
        [
            {
                "source_id": SPEC.source_id,
                "load_id": 12,
                "file_name": f"{SCRIPT}.csv",
                "file_sha256": "0123456789ab" + "0" * 52,
                "suite_name": f"{SPEC.source_id}.rows",
                "success": False,
                "evaluated_expectations": 14,
                "successful_expectations": 12,
            }
        ]
    )
    loads = pd.DataFrame([{"source_id": SPEC.source_id, "files": 2, "rows_in": 30, "rejected": 1}])
    reasons = pd.DataFrame([{"source_id": SPEC.source_id, "reason_code": "CODE_INVALID", "n": 1}])
    page = data_docs.write_page(tmp_path, loads, reasons, latest).read_text(encoding="utf-8")
    assert "<script" not in page and ESCAPED in page
    assert "2 个文件，30 行，拒收 1 行；CODE_INVALID 1" in page
    assert "规则 12/14 条通过" in page and "未全部通过" in page
    assert "（文件指纹 0123456789ab）" in page
    assert page.count("尚无保存的校验结果") == len(load_specs()) - 1


def _warehouse(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    ensure_schema(engine)
    at = dt.datetime(2026, 11, 30, 8, 0, 0)
    with engine.begin() as conn:
        for load_id, name in ((1, "救助_202610.csv"), (2, f"{IMG}_202611.csv")):
            conn.execute(
                insert(LoadAudit).values(
                    load_id=load_id,
                    source_id=SPEC.source_id,
                    file_name=name,
                    file_sha256=str(load_id) * 64,
                    rows_in=3,
                    rows_loaded=2,
                    rows_quarantined=1,
                    rows_duplicate=0,
                    status="loaded_with_rejects",
                    started_at=at,
                    finished_at=at,
                )
            )
            conn.execute(
                insert(Quarantine).values(
                    load_id=load_id,
                    source_id=SPEC.source_id,
                    file_name=name,
                    **_quarantine(SCRIPT).iloc[0].to_dict(),
                )
            )
    return engine


def test_reports_read_the_warehouse(tmp_path):
    engine = _warehouse(tmp_path)
    reports = tmp_path / "reports"
    page = write_data_docs(engine, reports).read_text(encoding="utf-8")
    assert page.count("尚无保存的校验结果") == len(load_specs())  # no kept result yet: renders
    assert "2 个文件，6 行，拒收 2 行；CODE_INVALID 2" in page

    with engine.begin() as conn:
        for load_id, success in ((1, True), (2, False)):
            conn.execute(
                insert(ValidationResult).values(
                    load_id=load_id,
                    source_id=SPEC.source_id,
                    suite_name=f"{SPEC.source_id}.rows",
                    success=success,
                    evaluated_expectations=14,
                    successful_expectations=14 if success else 11,
                    result_json="{}",
                )
            )
    page = write_data_docs(engine, reports).read_text(encoding="utf-8")
    # The latest file's result, under the file's fingerprint (its SHA-256's first 12 digits)
    assert f"{IMG_ESCAPED}_202611.csv（文件指纹 {'2' * 12}）" in page
    assert "规则 11/14 条通过" in page and "<img" not in page

    folders = write_feedback_packs(engine, reports)
    assert [f.name for f in folders] == [f"救助_202610__{'1' * 12}", f"{IMG}_202611__{'2' * 12}"]
    for folder in folders:
        summary = (folder / "summary.html").read_text(encoding="utf-8")
        assert "<img" not in summary and "取值不在允许范围" in summary
    assert f"数据反馈：{IMG_ESCAPED}_202611.csv" in summary
    assert write_feedback_packs(engine, reports) == []  # written once per load
    engine.dispose()
