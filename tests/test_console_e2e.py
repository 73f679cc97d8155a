"""The console end to end in a real browser (Debian's chromium driven by Playwright).

A county officer signs in, opens a household, records 开始核实; a reviewer confirms a
match; the pipeline runs; the officer sees the household's status change and the record
is linked by the reviewer's decision. The console runs under uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn
from sqlalchemy import select

from crosscheck import steps
from crosscheck.console import create_app
from crosscheck.console.config import ConsoleConfig
from tests.conftest import PII_KEY
from tests.test_console import (
    PASSWORD,
    RUN_DATE,
    YUSHUI,
    base_warehouse,
    make_users,
    seed_review,
)
from warehouse.models import MonitoringList, RecordLink

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = "chromium not installed (apt-get install chromium fonts-wqy-microhei; .ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path, tmp_path_factory, demo_city):
    """The console over a copy of the demo warehouse, served on 127.0.0.1."""
    require_chromium()
    base = base_warehouse(tmp_path_factory, demo_city)
    landing = tmp_path / "landing"
    shutil.copytree(base["landing"], landing)
    shutil.copy(base["db"], tmp_path / "warehouse.db")
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    config = ConsoleConfig(
        warehouse_url=url,
        landing_dir=landing,
        reports_dir=tmp_path / "reports",
        clock=lambda: dt.datetime(2026, 11, 30, 4, 0),  # noon of the run date in Xinyu
    )
    app = create_app(config)
    engine = app.state.console.engine
    make_users(engine, config.clock())
    review = seed_review(engine)
    with engine.connect() as conn:
        household = conn.execute(
            select(MonitoringList.household_no)
            .where(MonitoringList.county == YUSHUI, MonitoringList.status == "lead")
            .order_by(MonitoringList.household_no)
        ).scalar()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield {
        "base": f"http://127.0.0.1:{port}",
        "url": url,
        "landing": landing,
        "reports": tmp_path / "reports",
        "engine": engine,
        "household": household,
        "review": review,
    }
    server.should_exit = True
    thread.join(timeout=10)


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")


def test_officer_decides_reviewer_confirms_and_the_next_run_shows_both(served):
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    base, household = served["base"], served["household"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            officer = browser.new_context().new_page()
            _sign_in(officer, base, "li_ming")
            expect(officer.locator("h1")).to_have_text(f"监测名单 · {YUSHUI}")
            officer.click(f"a[href='/officer/households/{household}']")
            expect(officer.locator("#case-status")).to_have_text("线索待核实")
            officer.select_option("select[name=decision]", "开始核实")
            expect(officer.locator("input[name=decided_on]")).to_have_value("2026-11-30")
            officer.fill("input[name=note]", "已入户，签署授权书")
            officer.click("button:has-text('登记决定')")
            expect(officer.locator("p.notice").first).to_have_text("决定已登记，下次运行后生效")
            expect(officer.locator("#waiting")).to_contain_text("console_WEB-20261130-040000-")

            reviewer = browser.new_context().new_page()
            _sign_in(reviewer, base, "wang_fang")
            expect(reviewer.locator("h1")).to_have_text("匹配复核队列")
            reviewer.click("button:has-text('确认是同一人')")
            expect(reviewer.locator("p.notice")).to_have_text("已确认匹配")

            summary = steps.run(
                served["landing"], served["url"], RUN_DATE, served["reports"], PII_KEY
            )
            assert summary.ok, summary.failures
            decisions = [r for r in summary.loads if r.source_id == "county_decisions"]
            assert [
                (r.status, r.rows_loaded) for r in decisions if r.status != "already_loaded"
            ] == [("loaded", 1)]

            officer.reload()
            expect(officer.locator("#case-status")).to_have_text("核实中")
            expect(officer.locator("#waiting")).to_have_count(0)
            expect(officer.locator("#decisions")).to_contain_text("开始核实2026-11-30")
            expect(officer.locator("#decisions")).to_contain_text("console_WEB-20261130-040000-")
        finally:
            browser.close()
    review = served["review"]
    with served["engine"].connect() as conn:
        link = conn.execute(
            select(RecordLink.method, RecordLink.person_key).where(
                RecordLink.source_id == review["source_id"],
                RecordLink.record_key == review["record_key"],
            )
        ).one()
    assert (link.method, link.person_key) == ("review_confirmed", review["person_key"])
    print(f"browser flow and second pipeline run: {time.monotonic() - started:.1f} s")
