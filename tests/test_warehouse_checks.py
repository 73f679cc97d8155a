"""Warehouse checks: pass on a healthy warehouse, fail the run loudly when lineage breaks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from crosscheck.steps import open_warehouse, run
from tests.conftest import PII_KEY
from warehouse.models import DqCheckResult

HUKOU = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因\n"
    "H1,张伟,36050219850307123X,男,汉族,1985-03-07,户主,江西省新余市渝水区罗坊镇塘下村,"
    "罗坊镇,塘下村,正常,,\n"
)
AS_OF = dt.date(2026, 11, 30)


def test_checks_pass_then_catch_a_broken_invariant_and_orphan_facts(tmp_path, warehouse_url):
    landing = tmp_path / "landing"
    (landing / "gongan_hukou").mkdir(parents=True)
    (landing / "gongan_hukou" / "h.csv").write_bytes(HUKOU.encode("gb18030"))
    summary = run(landing, warehouse_url, AS_OF, tmp_path / "reports", PII_KEY)
    assert summary.ok, summary.failures
    assert summary.warnings == ["mart_monitoring_list: non-empty (1)"]  # nobody at risk

    engine = open_warehouse(warehouse_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE load_audit SET rows_loaded = rows_loaded + 1"))
        conn.execute(text("UPDATE stg_gongan_hukou SET load_id = 999"))
    engine.dispose()
    summary = run(landing, warehouse_url, AS_OF, tmp_path / "reports", PII_KEY)
    assert not summary.ok
    failed = "\n".join(summary.failures)
    assert "rows_in = loaded + quarantined + duplicate (1 rows)" in failed
    assert "stg_gongan_hukou: every fact tied to a load of its source (1 rows)" in failed
    engine = open_warehouse(warehouse_url)
    with engine.connect() as conn:
        stored = (
            conn.execute(
                select(DqCheckResult.check_name).where(
                    DqCheckResult.as_of == AS_OF, DqCheckResult.passed.is_(False)
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert len(stored) == 3
