"""A corpus of broken files: each gets its own reason, none stops the others, no row is lost."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from crosscheck.steps import open_warehouse, run
from tests.conftest import PII_KEY
from warehouse.models import LoadAudit, Quarantine

ID_A = "36050219850307123X"
ID_B = "360502198705120028"
HUKOU = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因"
)
HUKOU_ROWS = [
    f"H001,张伟,{ID_A},男,汉族,1985-03-07,户主,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
    f"H001,李娜,{ID_B},女,汉族,1987-05-12,配偶,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
]
SHUILI = (
    "乡镇,村,户主姓名,身份证号,供水方式,人均日用水量(升),取水往返时间(分钟),水质是否达标,排查日期"
)
HOUSING = [
    "县(市、区)",
    "乡镇",
    "行政村",
    "户主姓名",
    "户主身份证号",
    "房屋结构",
    "建造年代",
    "鉴定等级",
    "鉴定日期",
    "是否纳入改造",
]


def _write(landing, source, name, data: bytes):
    folder = landing / source
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def _xlsx(path, rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)


@pytest.fixture
def corpus(tmp_path):
    """Landing zone with one good file and one broken file of each kind."""
    landing = tmp_path / "landing"
    good = (HUKOU + "\n" + "\n".join(HUKOU_ROWS) + "\n").encode("gb18030")
    _write(landing, "gongan_hukou", "good.csv", good)
    _write(landing, "gongan_hukou", "good_copy.csv", good)  # duplicate file
    _write(landing, "gongan_hukou", "utf16.csv", (HUKOU + "\n" + HUKOU_ROWS[0]).encode("utf-16"))
    _write(
        landing,
        "gongan_hukou",
        "missing.csv",
        (HUKOU.replace(",民族", "") + "\n" + HUKOU_ROWS[0].replace(",汉族", "") + "\n").encode(
            "gb18030"
        ),
    )
    _write(
        landing,
        "gongan_hukou",
        "renamed.csv",
        (HUKOU.replace("公民身份号码", "身份证号码") + "\n" + HUKOU_ROWS[0] + "\n").encode(
            "gb18030"
        ),
    )
    _write(
        landing,
        "gongan_hukou",
        "garbage.csv",
        (
            HUKOU + "\n" + HUKOU_ROWS[0] + "\n,,,男,汉族,未知,子,,罗坊镇,塘下村,正常,,\n"
            "H002,王五,360502199001011234,男,汉族,1990-01-01,户主,,罗坊镇,塘下村,失踪,,\n"
        ).encode("gb18030"),
    )
    _write(
        landing,
        "gongan_hukou",
        "truncated.csv",
        (HUKOU + "\n" + HUKOU_ROWS[1] + "\nH003,赵六,3605").encode("gb18030"),
    )
    _write(landing, "gongan_hukou", "empty.csv", b"")
    _write(
        landing,
        "gongan_hukou",
        "shuili.csv",  # another source's file in the wrong folder
        (SHUILI + "\n罗坊镇,塘下村,张伟," + ID_A + ",集中供水,60,5,是,2026-09-01\n").encode(
            "gb18030"
        ),
    )
    folder = landing / "zhujian_housing"
    folder.mkdir(parents=True)
    _xlsx(
        folder / "good.xlsx",
        [
            HOUSING,
            [
                "渝水区",
                "罗坊镇",
                "塘下村",
                "张伟",
                ID_A,
                "砖木",
                "1990年代",
                "C级",
                "2026-05-01",
                "是",
            ],
        ],
    )
    _xlsx(folder / "whole.xlsx", [HOUSING])
    data = (folder / "good.xlsx").read_bytes()
    (folder / "truncated.xlsx").write_bytes(data[: len(data) // 2])
    _write(landing, "zhujian_housing", "really_csv.xlsx", ",".join(HOUSING).encode("utf-8"))
    shutil.copy(folder / "good.xlsx", landing / "gongan_hukou" / "excel.csv")  # wrong format
    return landing


EXPECTED = {  # (source, file) -> (status, reason code in audit or quarantine)
    ("gongan_hukou", "good.csv"): ("loaded", None),
    ("gongan_hukou", "good_copy.csv"): ("duplicate_file", None),
    ("gongan_hukou", "utf16.csv"): ("rejected", "FILE_ENCODING"),
    ("gongan_hukou", "missing.csv"): ("rejected", "FILE_COLUMNS_MISSING"),
    ("gongan_hukou", "renamed.csv"): ("rejected", "FILE_COLUMNS_MISSING"),
    ("gongan_hukou", "garbage.csv"): ("loaded_with_rejects", None),
    ("gongan_hukou", "truncated.csv"): ("loaded_with_rejects", None),
    ("gongan_hukou", "empty.csv"): ("empty", "FILE_EMPTY"),
    ("gongan_hukou", "shuili.csv"): ("rejected", "FILE_OTHER_SOURCE"),
    ("gongan_hukou", "excel.csv"): ("rejected", "FILE_WRONG_FORMAT"),
    ("zhujian_housing", "good.xlsx"): ("loaded", None),
    ("zhujian_housing", "whole.xlsx"): ("empty", "FILE_EMPTY"),
    ("zhujian_housing", "truncated.xlsx"): ("rejected", "FILE_MALFORMED"),
    ("zhujian_housing", "really_csv.xlsx"): ("rejected", "FILE_WRONG_FORMAT"),
}


def test_each_broken_file_gets_its_reason_and_nothing_is_lost(corpus, tmp_path, warehouse_url):
    summary = run(corpus, warehouse_url, dt.date(2026, 11, 30), tmp_path / "reports", PII_KEY)
    assert summary.ok, summary.failures
    engine = open_warehouse(warehouse_url)
    with engine.connect() as conn:
        audits = {(a.source_id, a.file_name): a for a in conn.execute(select(LoadAudit)).all()}
        quarantine = conn.execute(select(Quarantine)).all()
    engine.dispose()
    assert set(audits) == set(EXPECTED)
    for key, (status, code) in EXPECTED.items():
        audit = audits[key]
        assert audit.status == status, key
        if code:
            assert audit.reason_code == code, key
        assert audit.rows_in == audit.rows_loaded + audit.rows_quarantined + audit.rows_duplicate
    assert "民族" in audits[("gongan_hukou", "missing.csv")].message
    assert "可能改名为「身份证号码」" in audits[("gongan_hukou", "renamed.csv")].message
    assert "shuili_water" in audits[("gongan_hukou", "shuili.csv")].message
    assert "Excel" in audits[("gongan_hukou", "excel.csv")].message

    by_file = {}
    for q in quarantine:
        by_file.setdefault(q.file_name, []).append(q)
    garbage = sorted(by_file["garbage.csv"], key=lambda q: q.row_number)
    assert [q.row_number for q in garbage] == [2, 3]
    assert "IDENTITY_MISSING" in garbage[0].reason_code and "DATE_INVALID" in garbage[0].reason_code
    assert garbage[1].reason_code == "CODE_INVALID" and "户口状态" in garbage[1].reason
    [cut] = by_file["truncated.csv"]
    assert (cut.row_number, cut.reason_code) == (2, "ROW_MALFORMED")
    # Every row of a file with the wrong columns is quarantined, not silently dropped.
    assert len(by_file["renamed.csv"]) == 1 and len(by_file["shuili.csv"]) == 1
    for q in quarantine:
        assert ID_A not in q.raw_values and ID_B not in q.raw_values
        json.loads(q.raw_values)


def test_feedback_pack_per_file_opens_in_pandas_and_openpyxl(corpus, tmp_path):
    import pandas as pd
    from openpyxl import load_workbook

    reports = tmp_path / "reports"
    summary = run(corpus, f"sqlite:///{tmp_path / 'w.db'}", dt.date(2026, 11, 30), reports, PII_KEY)
    assert summary.ok
    packs = {p.parent.name: p.parent for p in (reports / "feedback").rglob("summary.html")}
    assert len(packs) == len(EXPECTED)
    garbage = next(folder for name, folder in packs.items() if name.startswith("garbage__"))
    assert garbage.parent.parent.name == "公安局"  # under the department
    detail = pd.read_csv(garbage / "rejected.csv", encoding="utf-8-sig", dtype=str)
    assert (garbage / "rejected.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert detail["行号"].tolist() == ["2", "3"]
    assert set(detail["处理结果"]) == {"拒收"}
    assert "户口状态" in detail.columns  # the department's own headers
    sheet = load_workbook(garbage / "rejected.xlsx").active
    rows = list(sheet.values)
    assert rows[0][:4] == ("行号", "处理结果", "问题代码", "问题说明")
    assert len(rows) == 3 and all(isinstance(v, (str, type(None))) for v in rows[1])
    page = (garbage / "summary.html").read_text(encoding="utf-8")
    assert "拒收" in page and "如何修改" in page
    assert "http://" not in page and "https://" not in page  # readable offline
    assert ID_A not in page and ID_A not in (garbage / "rejected.csv").read_text("utf-8-sig")
    rejected_file = packs[next(n for n in packs if n.startswith("shuili__"))]
    assert "其他来源" in (rejected_file / "summary.html").read_text(encoding="utf-8")
    # A rerun with nothing new writes no pack again.
    again = run(corpus, f"sqlite:///{tmp_path / 'w.db'}", dt.date(2026, 11, 30), reports, PII_KEY)
    from pathlib import Path

    assert not [e for e in again.exports if Path(e).is_relative_to(reports / "feedback")]


def test_reason_catalogue_doc_is_generated_from_the_code():
    from pathlib import Path

    from validation.reasons import catalogue_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "reasons.md"
    assert doc.read_text(encoding="utf-8") == catalogue_markdown(), "run `make docs`"


def test_data_dictionary_is_generated_and_every_mart_column_has_a_meaning():
    from pathlib import Path

    from warehouse.dictionary import MART_MEANINGS, dictionary_markdown
    from warehouse.models import Base

    doc = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
    assert doc.read_text(encoding="utf-8") == dictionary_markdown(), "run `make docs`"
    marts = [t for t in Base.metadata.tables.values() if t.name.startswith("mart_")]
    assert {t.name for t in marts} == set(MART_MEANINGS)
    for table in marts:
        assert {c.name for c in table.columns} == set(MART_MEANINGS[table.name]), table.name
