"""Tests of the demo-city generator (demo): a 300-household city in a temp dir."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from demo import generate_demo
from demo.ids import check_chars, id_strings, id_to_15, is_valid_id
from demo.quirks import IdQuirks, corrupt_ids, fmt_amounts, fmt_dates

# Header text exactly as departments.md lists it: "source: columns", continued on indented lines.
# county_decisions, xczx_authorisation, gongan_accident and yingji_accident are not in
# departments.md: the county's answer, the signed authorisations, road accidents and
# work-safety accidents, specified by us (connectors/sources/<source>.yaml, docs/policy.md).
_SPEC = """
gongan_hukou: 户号 姓名 公民身份号码 性别 民族 出生日期 与户主关系 户籍地址
  乡镇(街道) 村(社区) 户口状态 注销日期 注销原因
xczx_registry: 户编号 县(市、区) 乡镇 村 户主姓名 户主证件号码 家庭人口数 户类型
  脱贫年度 监测对象类型 风险消除状态 上年度家庭人均纯收入(元) 本年度家庭人均纯收入(元)
nync_income: 年度 户主姓名 户主身份证号 所在乡镇 所在村 家庭人口 工资性收入
  经营净收入 财产净收入 转移净收入 生产经营性支出 家庭纯收入 人均纯收入
minzheng_assistance: 救助类别 户主姓名 身份证号码 保障人数 月保障金额 审批日期
  终止日期 所属乡镇 所属村居
minzheng_db: jzlb hzxm sfzhm bzrs ybzje sprq zzrq ssxz sscj
yibao_settlement: setl_id psn_name certno setl_time medfee_sumamt hifp_pay hifmi_pay
  maf_pay psn_selfpay med_type fixmedins_name
yibao_enrollment: 姓名 身份证号 参保年度 参保状态 资助参保类别
weijian_illness: 患者姓名 证件号码 性别 年龄 病种名称 确诊日期 救治医院 报送月份
zhujian_housing: 县(市、区) 乡镇 行政村 户主姓名 户主身份证号 房屋结构 建造年代
  鉴定等级 鉴定日期 是否纳入改造
shuili_water: 乡镇 村 户主姓名 身份证号 供水方式 人均日用水量(升)
  取水往返时间(分钟) 水质是否达标 排查日期
renshe_employment: 姓名 身份证号 统计月份 就业状态 就业地区 月工资收入(元)
  失业登记日期 是否公益性岗位
jiaoyu_students: 学年 学期 学生姓名 学籍号 身份证件号 学段 学校名称 在校状态
  自付费用(元) 资助金额(元)
canlian_disability: 姓名 残疾人证号 残疾类别 残疾等级 发证日期 证件状态
yingji_disaster: 灾害类型 发生日期 乡镇 村 户主姓名 身份证号 受灾人口 房屋倒塌间数
  直接经济损失(万元)
gongan_vehicle: 所有人 身份证明号码 号牌号码 车辆类型 初次登记日期 机动车状态
scjg_business: 统一社会信用代码 企业名称 市场主体类型 法定代表人 法定代表人证件号码
  成立日期 注册资本(万元) 登记状态
bdc_property: 权利人 权利人证件号 不动产单元号 坐落 建筑面积(平方米) 登记时间 权利状态
caizheng_payroll: 姓名 身份证号 工作单位 人员类别
declarations: apply_id applicant_name id_no phone township village reason reason_text
  apply_time
cadre_visits: 走访日期 乡镇 村 户主姓名 联系电话 发现问题 问题类别 走访人
county_decisions: 决定编号 户号 县(市、区) 乡镇 村 户主姓名 户主证件号码 决定 决定日期
  监测对象类型 风险类型 帮扶措施 经办人 备注
xczx_authorisation: 授权书编号 户号 县(市、区) 乡镇 村 户主姓名 户主证件号码 签署日期
  授权范围 有效期至 状态
gongan_accident: 事故编号 事故发生日期 当事人姓名 当事人身份证号 伤亡情况 直接财产损失(元)
  乡镇 村
yingji_accident: 事故编号 事故类别 发生日期 事故单位 伤亡人员姓名 身份证号码 伤亡程度
  户籍乡镇 户籍村
"""


def _parse_spec(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    source = ""
    for line in text.strip().splitlines():
        if line.startswith(" "):
            out[source] += line.split()
        else:
            source, cols = line.split(":", 1)
            out[source] = cols.split()
    return out


EXPECTED = _parse_spec(_SPEC)
RULES = (
    "R-INCOME",
    "R-DROP",
    "R-RIGID",
    "R-MEDICAL",
    "R-SCHOOL",
    "R-DISABILITY",
    "R-DISASTER",
    "R-WORK",
    "R-LABOUR",
    "R-HOUSING",
    "R-WATER",
    "R-MEDINS",
    "R-ASSIST",
    "LEAD",
    "ASSET",
)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    seen: list[str] = []
    summary = generate_demo(root / "landing", households=300, progress=seen.append)
    return {
        "root": root,
        "landing": root / "landing",
        "truth": root / "truth",
        "summary": summary,
        "progress": seen,
    }


def _decode(raw: bytes, encoding: str) -> str:
    return raw.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)


def _read_table(path: Path, encoding: str) -> tuple[list[str], int]:
    """(header, number of data rows) of any landing file."""
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(_decode(path.read_bytes(), encoding))))
        return rows[0], len(rows) - 1
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
        return [str(h) for h in rows[0]], len(rows) - 1
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return list(json.loads(lines[0])), len(lines)
    with sqlite3.connect(path) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(v_jiuzhu)")]
        return cols, con.execute("SELECT count(*) FROM v_jiuzhu").fetchone()[0]


def _norm(h: str) -> str:
    return h.strip().replace("（", "(").replace("）", ")")


def test_deterministic(city, tmp_path):
    generate_demo(tmp_path / "landing", households=300)
    assert _digest(tmp_path) == _digest(city["root"])


def test_every_source_has_files(city):
    folders = {p.name for p in city["landing"].iterdir() if p.is_dir()}
    assert folders == set(EXPECTED)
    for name in EXPECTED:
        assert any((city["landing"] / name).iterdir()), name
    assert len(city["progress"]) == len(EXPECTED)


def test_headers_and_row_counts_match_truth(city):
    files = pd.read_csv(city["truth"] / "files.csv", dtype=str, keep_default_na=False)
    records = pd.read_csv(city["truth"] / "records.csv", dtype=str, keep_default_na=False)
    per_file = records.groupby(["source_id", "file"]).size()
    for f in files.itertuples():
        header, rows = _read_table(city["landing"] / f.source_id / f.file, f.encoding)
        header = [_norm(h) for h in header]
        if header and header[-1] == "":  # the trailing empty column some departments add
            header = header[:-1]
        assert header == EXPECTED[f.source_id], f.file
        assert rows == int(f.rows) == per_file.get((f.source_id, f.file), 0), f.file
    summary_rows = sum(f["rows"] for f in city["summary"]["files"])
    assert summary_rows == len(records)


def test_encodings(city):
    files = pd.read_csv(city["truth"] / "files.csv", dtype=str, keep_default_na=False)
    csvs = files[files["format"] == "csv"]
    assert set(csvs["encoding"]) == {"gb18030", "utf-8", "utf-8-sig"}
    for f in csvs.itertuples():
        raw = (city["landing"] / f.source_id / f.file).read_bytes()
        has_bom = raw.startswith(b"\xef\xbb\xbf")
        if f.encoding == "gb18030":
            assert not has_bom
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
        elif f.encoding == "utf-8-sig":
            assert has_bom
        else:
            assert not has_bom
            raw.decode("utf-8")
    quirks = set(";".join(files["header_quirks"]).split(";"))
    assert {"header_space", "header_fullwidth_parens", "trailing_empty_column"} <= quirks
    nync = files[files["source_id"] == "nync_income"]
    assert (nync["encoding"] == "utf-8-sig").all() and len(nync) == 2
    # departments are inconsistent: a UTF-8 source sent GB18030 and the other way round
    assert ((csvs["source_id"] == "yingji_disaster") & (csvs["encoding"] == "gb18030")).any()
    assert ((csvs["source_id"] == "renshe_employment") & (csvs["encoding"] == "utf-8")).any()


def test_xlsx_and_sqlite(city):
    for path in city["landing"].rglob("*.xlsx"):
        wb = openpyxl.load_workbook(path)
        assert wb.worksheets[0].max_row >= 1
    (db,) = (city["landing"] / "minzheng_db").glob("*.sqlite")
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert "v_jiuzhu" in names
    # some registry ID cells were typed as numbers: Excel kept 15 digits
    (reg,) = (city["landing"] / "xczx_registry").glob("*.xlsx")
    ws = openpyxl.load_workbook(reg, read_only=True).worksheets[0]
    ids = [r[5] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert any(isinstance(v, float) for v in ids)


def test_truth_is_consistent(city):
    truth = city["truth"]
    assert not truth.resolve().is_relative_to(city["landing"].resolve())
    persons = pd.read_csv(truth / "persons.csv", dtype=str, keep_default_na=False)
    assert persons["id_number"].is_unique
    assert all(is_valid_id(v) for v in persons["id_number"])
    assert len(persons) == city["summary"]["persons"]
    hh = pd.read_csv(truth / "households.csv", dtype=str, keep_default_na=False)
    assert len(hh) == 300 and hh["household_no"].is_unique
    assert set(hh["head_id_number"]) <= set(persons["id_number"])
    records = pd.read_csv(truth / "records.csv", dtype=str, keep_default_na=False)
    known = records["true_id_number"] != ""
    assert set(records.loc[known, "true_id_number"]) <= set(persons["id_number"])
    bad = records[records["expected_reject"] == "1"]
    assert len(bad) >= 5 and (bad["reject_problem"] != "").all()
    codes = set(";".join(records["corruptions"]).split(";")) - {""}
    assert {
        "id_lowercase_x",
        "id_fullwidth",
        "id_space",
        "id_check_digit",
        "id_mangled",
        "name_traditional",
        "name_typo",
        "name_space",
    } <= codes
    events = pd.read_csv(truth / "landing_events.csv")
    assert set(events["event"]) == {"duplicate", "empty_file", "missing_period"}


def test_every_rule_is_planted(city):
    hardship = pd.read_csv(city["truth"] / "hardship.csv", dtype=str)
    assert set(RULES) <= set(hardship["rule_id"])
    flagged = hardship.loc[hardship["rule_id"].str.startswith("R-"), "household_no"].nunique()
    assert 0.04 * 300 <= flagged <= 0.15 * 300


def test_truth_dir_inside_out_is_refused(tmp_path):
    with pytest.raises(ValueError):
        generate_demo(tmp_path / "landing", households=20, truth_dir=tmp_path / "landing" / "t")


def test_other_as_of_and_seed(tmp_path):
    s = generate_demo(tmp_path / "l", households=60, seed=7, as_of=date(2025, 3, 15))
    assert s["households"] == 60
    names = {f["file"] for f in s["files"]}
    assert "户籍人口_202503.csv" in names and "就业失业_202404.csv" in names


# --------------------------------------------------------------------------- pure functions


def test_check_characters():
    body = np.array([11010519491231002], dtype=np.int64)  # GB 11643 example: ...002X
    assert check_chars(body)[0] == "X"
    assert is_valid_id("11010519491231002X") and not is_valid_id("110105194912310021")
    assert id_to_15(id_strings(body))[0] == "110105491231002"


def test_check_digit_quirk_always_breaks_the_check():
    ids = id_strings(np.arange(36050219800101001, 36050219800101001 + 2000, dtype=np.int64))
    q = IdQuirks(lower_x=0, fullwidth=0, space=0, old15=0, check=1.0, mangled=0)
    out, code = corrupt_ids(ids, np.full(len(ids), 1980), q, np.random.default_rng(1))
    assert (code == "id_check_digit").all()
    assert not any(is_valid_id(v) for v in out)


def test_formats():
    d = np.array(["1985-03-07", "NaT"], dtype="datetime64[D]")
    assert [fmt_dates(d, s)[0] for s in range(6)] == [
        "1985-03-07",
        "1985/3/7",
        "19850307",
        "1985年3月7日",
        "1985.03.07",
        "1985.3.7",
    ]
    assert fmt_dates(d)[1] == ""
    cents = np.array([1234560, 1200000, 5])
    assert list(fmt_amounts(cents, 0)) == ["12345.6", "12000", "0.05"]
    assert list(fmt_amounts(cents, 1)) == ["12,345.60", "12,000.00", "0.05"]
    assert list(fmt_amounts(cents, 2)) == ["1.23456万", "1.2万", "0.000005万"]
