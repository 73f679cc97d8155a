"""County exports: workbooks per county, village posting lists, changes since the last run."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from openpyxl import Workbook, load_workbook
from sqlalchemy import create_engine

from crosscheck.steps import run
from tests.conftest import PII_KEY
from warehouse.exports import (
    NATIONAL_HOUSEHOLD_COLUMNS,
    NATIONAL_MEMBER_COLUMNS,
    write_national_export,
)

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
        "JD0,H1,渝水区,罗坊镇,塘下村,张伟,36050219850307123X,认定纳入,2026-12-05,边缘易致贫户,"
        "11,危房改造,,\n"
        "JD1,H2,分宜县,杨桥镇,下村,李娜,360502198705120028,开始核实,2026-12-28,,住房安全,,,\n",
        encoding="utf-8-sig",
    )
    assert run(landing, url, dt.date(2026, 12, 31), reports, PII_KEY).ok

    book = load_workbook(reports / "counties" / "分宜县" / "monitoring_list_20261231.xlsx")
    assert book.sheetnames == ["杨桥镇", "证据"]
    rows = list(book["杨桥镇"].values)
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert "户主身份证号（脱敏）" in header
    assert first["户号"] == "H2" and first["户主身份证号（脱敏）"] == "360502********0028"
    assert first["状态"] == "核实中" and first["认定逾期"] == "否"
    assert "危房改造" in first["建议帮扶措施"]
    assert all(isinstance(v, str) for v in rows[1] if v is not None)  # stored as text
    # Chinese values; no income row: the housing gap's type is decided at the verification.
    assert (first["预警等级"], first["风险类型"], first["风险类型代码"]) == ("红", "住房安全", "11")
    assert (first["名单类别"], first["收入状况"], first["监测对象类型"]) == (
        "待核实认定",
        "无收入数据",
        None,
    )
    assert first["补短板责任部门"] == "住建局"
    evidence = list(book["证据"].values)
    assert evidence[0] == (
        "户号",
        "乡镇",
        "村",
        "户主姓名",
        "成员姓名",
        "成员身份证号（脱敏）",
        "类别",
        "风险类型代码",
        "风险类型",
        "证据",
        "来源部门",
        "文件",
        "行号",
        "发生日期",
        "数值",
        "阈值",
    )
    # The housing signal, then the notice that the asset checks wait for 李娜's signed
    # authorisation (none delivered here): 待签署授权 instead of any asset data.
    assert len(evidence) == 3
    notice = dict(zip(evidence[0], evidence[2], strict=True))
    assert (notice["户号"], notice["类别"], notice["风险类型"], notice["来源部门"]) == (
        "H2",
        "资产核查",
        "待签署授权",
        "乡村振兴局",
    )
    assert notice["证据"] == (
        "待签署授权：名下有车辆、企业法定代表人、多处不动产、财政供养人员（尚无承诺授权书）"
    )
    assert notice["文件"] is None and notice["行号"] is None
    row = dict(zip(evidence[0], evidence[1], strict=True))
    assert (row["户号"], row["成员姓名"], row["成员身份证号（脱敏）"]) == (
        "H2",
        "李娜",
        "360502********0028",
    )
    assert (row["类别"], row["风险类型"], row["来源部门"], row["文件"], row["行号"]) == (
        "风险",
        "住房安全",
        "住建局",
        "b.xlsx",
        "2",
    )
    assert "C" in row["证据"]

    # 张伟's house is repaired, but the county confirmed him (by the risk code 11): his case
    # stays open, with the county's type.
    book = load_workbook(reports / "counties" / "渝水区" / "monitoring_list_20261231.xlsx")
    zhang = dict(zip(*list(book["罗坊镇"].values)[:2], strict=True))
    assert (zhang["监测对象类型"], zhang["类型来源"], zhang["名单类别"]) == (
        "边缘易致贫户",
        "县级认定",
        "监测对象",
    )
    assert (zhang["状态"], zhang["预警等级"], zhang["风险类型"]) == ("已纳入监测", "绿", "住房安全")
    assert list(book["证据"].values)[1:] == []  # nothing flags the household any more

    # The CSV for counties is the same list in Chinese.
    listed = pd.read_csv(reports / "monitoring_list_20261231.csv", encoding="utf-8-sig", dtype=str)
    assert list(listed["户号"]) == ["H2", "H1"]  # by county: 分宜县, 渝水区
    assert list(listed["预警等级"]) == ["红", "绿"]
    assert "grade" not in listed.columns and not listed.isin(["red", "False", "True"]).any().any()

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
    assert changes.set_index("户号")["上次等级"].fillna("").to_dict() == {"H1": "红", "H2": ""}

    # The national-system workbook: the confirmed object, codes not free text.
    national = reports / "national" / "渝水区" / "national_import_20261231.xlsx"
    book = load_workbook(national)
    assert book.sheetnames == ["户信息", "成员信息"]
    households = list(book["户信息"].values)
    assert households[0] == tuple(NATIONAL_HOUSEHOLD_COLUMNS.values())
    assert len(households) == 2
    house = dict(zip(households[0], households[1], strict=True))
    assert (house["户号"], house["监测对象类别代码"], house["监测对象类别"]) == (
        "H1",
        "2",
        "边缘易致贫户",
    )
    assert (house["风险类型代码"], house["风险类型"], house["识别纳入日期"]) == (
        "11",
        "住房安全",
        "2026-12-05",
    )
    assert (house["风险消除状态代码"], house["本期变化"], house["户主证件号码（脱敏）"]) == (
        "1",
        "新增纳入",
        "360502********123X",
    )
    members = list(book["成员信息"].values)
    assert members[0] == tuple(NATIONAL_MEMBER_COLUMNS.values())
    assert members[1][:4] == ("H1", "张伟", "360502********123X", "户主")
    assert not list((reports / "national").rglob("*20261130.xlsx"))  # nobody confirmed yet
    # Reproducible for a past run date: the same rows again, after later runs too.
    again = write_national_export(create_engine(url), dt.date(2026, 12, 31), tmp_path / "again")
    assert [p.name for p in again] == ["national_import_20261231.xlsx"]
    reread = load_workbook(again[0])
    for sheet in ("户信息", "成员信息"):
        assert list(reread[sheet].values) == list(load_workbook(national)[sheet].values)
