"""Ingest of single files into a real warehouse (SQLite and PostgreSQL): nothing is lost."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from connectors.landing import landed_files
from connectors.spec import load_specs
from crosscheck.steps import ingest_file, open_warehouse
from tests.conftest import AS_OF, PII_KEY
from warehouse.models import LoadAudit, PiiIdentity, Quarantine, staging_table

RUN_DATE = dt.date.fromisoformat(AS_OF)  # the run date ingest judges IDs by

HUKOU_HEADER = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因"
)
# Valid IDs (check characters computed by GB 11643).
ID_A = "36050219850307123X"
ID_B = "360502198705120028"


def _hukou_rows() -> list[str]:
    return [
        f"H001,张伟,{ID_A.lower()},男,汉族,1985-03-07,户主,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
        f"H001,李娜,{ID_B},女,汉族,1987/5/12,配偶,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
        # no identity at all
        ",,,男,汉族,1990-01-01,子,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
        "H002,王芳,360502199001011234,女,汉族,2026-13-45,户主,江西省新余市渝水区罗坊镇,罗坊镇,塘下村,正常,,",
    ]


def _write(folder, name: str, text: str, encoding: str = "gb18030"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _counts(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _ingest_all(engine, landing, source_id):
    spec = load_specs()[source_id]
    return [ingest_file(engine, spec, f, PII_KEY, RUN_DATE) for f in landed_files(landing, spec)]


def test_garbage_rows_are_quarantined_with_reasons_and_the_rest_loads(tmp_path, warehouse_url):
    landing = tmp_path / "landing"
    _write(
        landing / "gongan_hukou",
        "hukou_202611.csv",
        HUKOU_HEADER + "\n" + "\n".join(_hukou_rows()) + "\n",
    )
    engine = open_warehouse(warehouse_url)
    [result] = _ingest_all(engine, landing, "gongan_hukou")
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    assert result.status == "loaded_with_rejects"
    with engine.connect() as conn:
        rejected = conn.execute(
            select(
                Quarantine.row_number,
                Quarantine.reason_code,
                Quarantine.reason,
                Quarantine.raw_values,
            ).order_by(Quarantine.row_number)
        ).all()
        pii = conn.execute(select(PiiIdentity.id_number)).scalars().all()
    assert [r.row_number for r in rejected] == [3, 4]
    assert "IDENTITY_MISSING" in rejected[0].reason_code
    assert "REQUIRED_MISSING" in rejected[0].reason_code  # 户号 is required
    assert rejected[1].reason_code == "DATE_INVALID"
    assert "出生日期" in rejected[1].reason and "2026-13-45" in rejected[1].reason
    # Raw values keep the department's headers, with the ID masked.
    raw = json.loads(rejected[1].raw_values)
    assert raw["公民身份号码"] == "360502********1234"
    # The restricted table holds normalised IDs (lowercase x repaired).
    assert sorted(pii) == sorted([ID_A, ID_B])
    stg = staging_table(load_specs()["gongan_hukou"])
    with engine.connect() as conn:
        masked = conn.execute(select(stg.c.id_masked).order_by(stg.c.row_number)).scalars().all()
    assert masked == ["360502********123X", "360502********0028"]
    engine.dispose()


def test_rerun_and_redropped_file_change_nothing(tmp_path, warehouse_url):
    landing = tmp_path / "landing"
    body = HUKOU_HEADER + "\n" + "\n".join(_hukou_rows()[:2]) + "\n"
    _write(landing / "gongan_hukou", "a.csv", body)
    engine = open_warehouse(warehouse_url)
    _ingest_all(engine, landing, "gongan_hukou")
    stg = staging_table(load_specs()["gongan_hukou"])
    before = (_counts(engine, stg), _counts(engine, LoadAudit.__table__))
    again = _ingest_all(engine, landing, "gongan_hukou")
    assert [r.status for r in again] == ["already_loaded"]
    assert (_counts(engine, stg), _counts(engine, LoadAudit.__table__)) == before

    _write(landing / "gongan_hukou", "a (1).csv", body)  # same bytes, another name
    results = {r.file_name: r for r in _ingest_all(engine, landing, "gongan_hukou")}
    dup = results["a (1).csv"]
    assert dup.status == "duplicate_file"
    assert dup.rows_in == dup.rows_duplicate == 2 and dup.rows_loaded == 0
    assert _counts(engine, stg) == before[0]
    with engine.connect() as conn:
        for row in conn.execute(
            select(
                LoadAudit.rows_in,
                LoadAudit.rows_loaded,
                LoadAudit.rows_quarantined,
                LoadAudit.rows_duplicate,
            )
        ):
            assert row.rows_in == row.rows_loaded + row.rows_quarantined + row.rows_duplicate
    engine.dispose()


def test_resent_settlement_replaces_the_earlier_one(tmp_path, warehouse_url):
    landing = tmp_path / "landing"
    rec = {
        "setl_id": "S1",
        "psn_name": "张伟",
        "certno": ID_A,
        "setl_time": "2026-03-14 10:22:05",
        "medfee_sumamt": 1000,
        "hifp_pay": 600,
        "hifmi_pay": 0,
        "maf_pay": 0,
        "psn_selfpay": 400,
        "med_type": "住院",
        "fixmedins_name": "新余市人民医院",
    }
    first = json.dumps(rec, ensure_ascii=False) + "\n"
    _write(landing / "yibao_settlement", "m03.jsonl", first, "utf-8")
    engine = open_warehouse(warehouse_url)
    _ingest_all(engine, landing, "yibao_settlement")
    corrected = dict(rec, psn_selfpay=450)
    second = json.dumps(corrected, ensure_ascii=False) + "\n" + "{not json\n"
    _write(landing / "yibao_settlement", "m04.jsonl", second, "utf-8")
    results = {r.file_name: r for r in _ingest_all(engine, landing, "yibao_settlement")}
    r = results["m04.jsonl"]
    assert (r.rows_in, r.rows_loaded, r.rows_corrected, r.rows_quarantined) == (2, 1, 1, 1)
    stg = staging_table(load_specs()["yibao_settlement"])
    with engine.connect() as conn:
        rows = conn.execute(select(stg.c.settlement_id, stg.c.out_of_pocket)).all()
        reasons = conn.execute(select(Quarantine.reason_code)).scalars().all()
    assert rows == [("S1", 450.0)]
    assert reasons == ["ROW_MALFORMED"]
    engine.dispose()


@pytest.mark.parametrize(
    "name,content,expected_status",
    [
        ("broken.xlsx", b"PK\x03\x04 truncated zip", "rejected"),
        ("empty.xlsx", None, "empty"),
    ],
)
def test_bad_xlsx_is_reported_and_does_not_stop_other_files(
    tmp_path, name, content, expected_status
):
    from openpyxl import Workbook

    landing = tmp_path / "landing"
    folder = landing / "zhujian_housing"
    folder.mkdir(parents=True)
    if content is None:
        wb = Workbook()
        wb.active.append(
            [
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
        )
        wb.save(folder / name)
    else:
        (folder / name).write_bytes(content)
    wb = Workbook()
    wb.active.append(
        [
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
    )
    wb.active.append(
        ["渝水区", "罗坊镇", "塘下村", "张伟", ID_A, "砖木", "1990年代", "Ｄ", "2026-05-01", "是"]
    )
    wb.save(folder / "z_good.xlsx")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    results = {r.file_name: r for r in _ingest_all(engine, landing, "zhujian_housing")}
    assert results[name].status == expected_status
    assert results[name].message  # a readable Chinese reason
    assert results["z_good.xlsx"].rows_loaded == 1
    stg = staging_table(load_specs()["zhujian_housing"])
    with engine.connect() as conn:
        assert conn.execute(select(stg.c.grade)).scalars().all() == ["D"]
    engine.dispose()


def test_missing_column_quarantines_every_row_with_the_column_named(tmp_path):
    landing = tmp_path / "landing"
    header = HUKOU_HEADER.replace("公民身份号码", "身份证")
    _write(landing / "gongan_hukou", "renamed.csv", header + "\n" + _hukou_rows()[0] + "\n")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "gongan_hukou")
    assert r.status == "rejected" and r.rows_in == r.rows_quarantined == 1
    assert "公民身份号码" in r.message
    engine.dispose()


RENSHE_HEADER = (
    "姓名,身份证号,统计月份,就业状态,就业地区,月工资收入(元),失业登记日期,是否公益性岗位"
)


def test_rows_without_a_trusted_id_are_never_merged_as_duplicates(tmp_path):
    landing = tmp_path / "landing"
    rows = [
        "张三,,2026-03,本地就业,新余,3000,,否",
        "李四,,2026-03,本地就业,新余,3100,,否",
        "王五,12345,2026-03,本地就业,新余,3200,,否",
        "赵六,abc,202603,本地就业,新余,3300,,否",
        "赵六,abc,202603,本地就业,新余,3300,,否",
    ]  # the last one is a true duplicate
    _write(landing / "renshe_employment", "r.csv", RENSHE_HEADER + "\n" + "\n".join(rows) + "\n")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "renshe_employment")
    assert (r.rows_in, r.rows_loaded, r.rows_duplicate) == (5, 4, 1)
    engine.dispose()


def test_a_row_with_extra_fields_is_quarantined_and_never_shifts_columns(tmp_path):
    landing = tmp_path / "landing"
    header = "灾害类型,发生日期,乡镇,村,户主姓名,身份证号,受灾人口,房屋倒塌间数,直接经济损失(万元)"
    body = [
        f"洪涝,2026-07-01,罗坊镇,塘下村,张伟,{ID_A},3,1,2.5,多余",
        f"洪涝,2026-07-01,罗坊镇,塘下村,李娜,{ID_B},3,0,0.5",
    ]
    _write(landing / "yingji_disaster", "d.csv", header + "\n" + "\n".join(body) + "\n", "utf-8")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "yingji_disaster")
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    stg = staging_table(load_specs()["yingji_disaster"])
    with engine.connect() as conn:
        q = conn.execute(
            select(Quarantine.row_number, Quarantine.reason_code, Quarantine.raw_values)
        ).one()
        loaded = conn.execute(select(stg.c.name, stg.c.direct_loss)).one()
    assert (q.row_number, q.reason_code) == (1, "ROW_MALFORMED")
    assert ID_A not in q.raw_values
    assert loaded == ("李娜", 5000.0)  # 0.5 万元
    engine.dispose()


def test_unusable_numbers_and_nested_json_are_row_problems_not_file_failures(tmp_path):
    landing = tmp_path / "landing"
    _write(landing / "gongan_hukou", "h.csv", HUKOU_HEADER + "\n" + _hukou_rows()[0] + "\n")
    base = {
        "apply_id": "A1",
        "applicant_name": "张伟",
        "id_no": ID_A,
        "phone": "1",
        "township": "罗坊镇",
        "village": "塘下村",
        "reason": "因病",
        "reason_text": {"note": "住院"},
        "apply_time": "2026-11-01 09:00:00",
    }
    _write(
        landing / "declarations", "d.jsonl", json.dumps(base, ensure_ascii=False) + "\n", "utf-8"
    )
    body = "张伟,,2026,99999999999999999999,\n"
    _write(
        landing / "yibao_enrollment",
        "e.csv",
        "姓名,身份证号,参保年度,参保状态,资助参保类别\n" + "张伟,,1e30,正常参保,\n" + body,
    )
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [d] = _ingest_all(engine, landing, "declarations")
    assert d.rows_loaded == 1
    [e] = _ingest_all(engine, landing, "yibao_enrollment")
    assert (e.rows_in, e.rows_quarantined) == (2, 2)
    engine.dispose()


def test_sqlite_source_with_uri_characters_in_its_name(tmp_path):
    import sqlite3

    landing = tmp_path / "landing"
    folder = landing / "minzheng_db"
    folder.mkdir(parents=True)
    db = folder / "jz#1 ?.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE v_jiuzhu (jzlb, hzxm, sfzhm, bzrs, ybzje, sprq, zzrq, ssxz, sscj)")
    con.execute(
        "INSERT INTO v_jiuzhu VALUES ('城乡低保','张伟',?,3,'850.5','2026-05-01',NULL,"
        "'罗坊镇','塘下村')",
        (ID_A,),
    )
    con.commit()
    con.close()
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "minzheng_db")
    assert r.rows_loaded == 1
    assert sorted(p.name for p in folder.iterdir()) == ["jz#1 ?.sqlite"]  # nothing created
    engine.dispose()


def test_implausible_amounts_and_dates_are_quarantined(tmp_path):
    landing = tmp_path / "landing"
    header = "灾害类型,发生日期,乡镇,村,户主姓名,身份证号,受灾人口,房屋倒塌间数,直接经济损失(万元)"
    body = [
        f"洪涝,2026-07-01,罗坊镇,塘下村,张伟,{ID_A},3,1,-2.5",  # negative loss
        f"洪涝,2026-07-01,罗坊镇,塘下村,李娜,{ID_B},3,0,50000",  # yuan written as 万元
        f"洪涝,1826-07-01,罗坊镇,塘下村,王五,{ID_B},3,0,1.5",  # year typo
        f"洪涝,2026-07-01,罗坊镇,塘下村,赵六,{ID_B},3,0,1.5",  # fine
    ]
    _write(landing / "yingji_disaster", "d.csv", header + "\n" + "\n".join(body) + "\n", "utf-8")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "yingji_disaster")
    assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == (4, 1, 3)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Quarantine.row_number, Quarantine.reason_code, Quarantine.reason).order_by(
                Quarantine.row_number
            )
        ).all()
    assert [(q.row_number, q.reason_code) for q in rows] == [
        (1, "AMOUNT_OUT_OF_RANGE"),
        (2, "AMOUNT_OUT_OF_RANGE"),
        (3, "DATE_OUT_OF_RANGE"),
    ]
    assert "直接经济损失(万元)" in rows[1].reason and "50000" in rows[1].reason
    engine.dispose()


def test_rows_worth_a_look_are_loaded_with_a_warning(tmp_path):
    landing = tmp_path / "landing"
    typo = ID_B[:-1] + "9"  # wrong check character
    rows = [
        f"H001,张伟,{ID_A},男,汉族,1985-03-08,户主,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
        f"H001,李娜,{typo},女,汉族,1987-05-12,配偶,江西省新余市渝水区罗坊镇塘下村,罗坊镇,塘下村,正常,,",
    ]
    _write(landing / "gongan_hukou", "h.csv", HUKOU_HEADER + "\n" + "\n".join(rows) + "\n")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "gongan_hukou")
    assert r.rows_loaded == 2
    stg = staging_table(load_specs()["gongan_hukou"])
    with engine.connect() as conn:
        warnings = conn.execute(
            select(stg.c.row_number, stg.c.row_warning).order_by(stg.c.row_number)
        ).all()
    assert warnings == [(1, "ID_BIRTH_MISMATCH"), (2, "ID_INVALID_CHECK")]
    engine.dispose()


def test_an_extra_new_column_is_kept_and_reported(tmp_path):
    landing = tmp_path / "landing"
    header = HUKOU_HEADER + ",联系电话,备注"
    row = _hukou_rows()[0] + f",13800000000,监护人{ID_B}"
    _write(landing / "gongan_hukou", "h.csv", header + "\n" + row + "\n")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    [r] = _ingest_all(engine, landing, "gongan_hukou")
    assert r.rows_loaded == 1
    stg = staging_table(load_specs()["gongan_hukou"])
    with engine.connect() as conn:
        extra = conn.execute(select(stg.c.extra_values)).scalar_one()
        reported = conn.execute(select(LoadAudit.extra_columns)).scalar_one()
    assert json.loads(extra) == {"联系电话": "13800000000", "备注": "监护人360502********0028"}
    assert reported == "联系电话、备注"
    engine.dispose()


def test_a_field_added_to_a_spec_is_added_to_its_existing_staging_table(tmp_path, warehouse_url):
    from sqlalchemy import inspect, text

    engine = open_warehouse(warehouse_url)
    with engine.begin() as conn:  # a staging table (and its int_ view) of an older spec
        conn.execute(text('DROP VIEW "int_gongan_vehicle_linked"'))
        conn.execute(text('ALTER TABLE "stg_gongan_vehicle" DROP COLUMN "extra_values"'))
        conn.execute(text('CREATE VIEW "int_gongan_vehicle_linked" AS SELECT 1 AS stale'))
    engine.dispose()
    engine = open_warehouse(warehouse_url)  # as after a spec gained a field
    columns = {c["name"] for c in inspect(engine).get_columns("stg_gongan_vehicle")}
    assert "extra_values" in columns
    view = {c["name"] for c in inspect(engine).get_columns("int_gongan_vehicle_linked")}
    assert {"household_no", "link_method", "extra_values"} <= view  # recreated to match
    engine.dispose()
