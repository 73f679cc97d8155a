"""County exports: workbooks per county, village posting lists, changes since the last run."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from openpyxl import Workbook, load_workbook

from crosscheck.steps import run
from tests.conftest import PII_KEY

HUKOU = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因\n"
    "H1,张伟,36050219850307123X,男,汉族,1985-03-07,户主,江西省新余市渝水区罗坊镇塘下村,"
    "罗坊镇,塘下村,正常,,\n"
    "H2,李娜,360502198705120028,女,汉族,1987-05-12,户主,江西省新余市分宜县杨桥镇下村,"
    "杨桥镇,下村,正常,,\n"
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


def _housing(path, rows):
    wb = Workbook()
    wb.active.append(HOUSING)
    for row in rows:
        wb.active.append(row)
    wb.save(path)


def test_county_workbooks_posting_lists_and_changes(tmp_path):
    landing, reports = tmp_path / "landing", tmp_path / "reports"
    (landing / "gongan_hukou").mkdir(parents=True)
    (landing / "gongan_hukou" / "h.csv").write_bytes(HUKOU.encode("gb18030"))
    (landing / "zhujian_housing").mkdir()
    _housing(
        landing / "zhujian_housing" / "a.xlsx",
        [
            [
                "渝水区",
                "罗坊镇",
                "塘下村",
                "张伟",
                "36050219850307123X",
                "砖木",
                "1990",
                "D",
                "2026-05-01",
                "是",
            ]
        ],
    )
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert run(landing, url, dt.date(2026, 11, 30), reports, PII_KEY).ok
    # A month later: 张伟's house is repaired (B), 李娜's is found unsafe (C).
    _housing(
        landing / "zhujian_housing" / "b.xlsx",
        [
            [
                "渝水区",
                "罗坊镇",
                "塘下村",
                "张伟",
                "36050219850307123X",
                "砖混",
                "2026",
                "B",
                "2026-12-20",
                "否",
            ],
            [
                "分宜县",
                "杨桥镇",
                "下村",
                "李娜",
                "360502198705120028",
                "土木",
                "1980",
                "C",
                "2026-12-20",
                "是",
            ],
        ],
    )
    # The county starts verifying 李娜's household: only then may the village post it.
    (landing / "county_decisions").mkdir()
    (landing / "county_decisions" / "d.csv").write_text(
        "决定编号,户号,县(市、区),乡镇,村,户主姓名,户主证件号码,决定,决定日期,监测对象类型,"
        "风险类型,帮扶措施,经办人,备注\n"
        "JD1,H2,分宜县,杨桥镇,下村,李娜,360502198705120028,开始核实,2026-12-28,,住房安全,,,\n",
        encoding="utf-8-sig",
    )
    assert run(landing, url, dt.date(2026, 12, 31), reports, PII_KEY).ok

    book = load_workbook(reports / "counties" / "分宜县" / "monitoring_list_20261231.xlsx")
    assert book.sheetnames == ["杨桥镇"]
    rows = list(book["杨桥镇"].values)
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert "户主身份证号（脱敏）" in header
    assert first["户号"] == "H2" and first["户主身份证号（脱敏）"] == "360502********0028"
    assert first["状态"] == "核实中" and first["认定逾期"] == "否"
    assert "危房改造" in first["建议帮扶措施"]
    assert all(isinstance(v, str) for v in rows[1] if v is not None)  # stored as text

    posting = pd.read_csv(
        reports / "posting" / "分宜县" / "杨桥镇" / "下村_公示_20261231.csv",
        encoding="utf-8-sig",
        dtype=str,
    )
    assert list(posting.columns) == ["户主姓名", "村", "监测对象类型", "风险类型"]
    assert posting["户主姓名"].tolist() == ["李娜"]
    # 张伟 was a lead in November nobody verified: never posted.
    assert not list((reports / "posting").rglob("*20261130.csv"))
    text = (reports / "posting").rglob("*.csv")
    assert not any("3605" in p.read_text(encoding="utf-8-sig") for p in text)

    changes = pd.read_csv(reports / "changes_20261231.csv", encoding="utf-8-sig", dtype=str)
    assert dict(zip(changes["户号"], changes["变化"], strict=True)) == {
        "H1": "风险消除或不再预警",
        "H2": "新增",
    }
