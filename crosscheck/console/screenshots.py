"""``make console-screenshots``: a PNG of every console page, from a copy of a warehouse.

Development tooling (needs the dev extra's Playwright and Debian's chromium): the
warehouse and landing zone are copied under ``OUT/work/`` first, so the demo users, the
decision and the upload made for the pictures never touch the originals. When the run
left no grey-zone link to review, one probabilistic link is put back into the queue so
the review page has something to show.

    python -m crosscheck.console.screenshots --warehouse var/warehouse.db \
        --landing var/landing --out var/console
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path

from sqlalchemy import func, insert, select

__all__ = ["main"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(engine, password: str, now: dt.datetime) -> dict:
    from crosscheck.console.auth import add_user
    from warehouse.models import MatchReview, MonitoringList, RecordLink

    for username, role, extra in (
        ("li_ming", "county_officer", {"county": "渝水区", "display_name": "李明"}),
        ("wang_fang", "reviewer", {"display_name": "王芳"}),
        ("yibao_clerk", "department", {"department": "医疗保障局", "display_name": "医保局 周敏"}),
        ("admin", "admin", {"display_name": "系统管理员"}),
    ):
        add_user(engine, username, password, role, now=now, **extra)
    with engine.begin() as conn:
        pending = conn.execute(
            select(func.count()).select_from(MatchReview).where(MatchReview.status == "pending")
        ).scalar()
        if not pending:
            link = conn.execute(
                select(RecordLink)
                .where(RecordLink.method == "probabilistic")
                .order_by(RecordLink.record_key)
            ).first()
            if link is not None:
                conn.execute(
                    insert(MatchReview).values(
                        source_id=link.source_id,
                        record_key=link.record_key,
                        person_key=link.person_key,
                        household_no=link.household_no,
                        match_probability=0.81,
                        status="pending",
                    )
                )
        household = conn.execute(
            select(MonitoringList.household_no)
            .where(MonitoringList.county == "渝水区")
            .order_by(MonitoringList.grade.desc(), MonitoringList.evidence_count.desc())
        ).scalar()
        other = conn.execute(
            select(MonitoringList.household_no).where(MonitoringList.county != "渝水区")
        ).scalar()
    return {"household": household, "other": other}


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from crosscheck.console import create_app
    from crosscheck.console.config import ConsoleConfig
    from warehouse.models import LoadAudit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a SQLite warehouse file")
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("var/console"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)

    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(args.warehouse, work / "warehouse.db")
    shutil.copytree(args.landing, work / "landing")
    password = secrets.token_urlsafe(16)
    config = ConsoleConfig(
        warehouse_url=f"sqlite:///{work / 'warehouse.db'}",
        landing_dir=work / "landing",
        reports_dir=work / "reports",
    )
    app = create_app(config)
    engine = app.state.console.engine
    picks = _prepare(engine, password, config.clock())
    with engine.connect() as conn:
        load_id = conn.execute(
            select(LoadAudit.load_id)
            .where(LoadAudit.source_id.in_(["yibao_settlement", "yibao_enrollment"]))
            .order_by(LoadAudit.rows_quarantined.desc(), LoadAudit.load_id)
        ).scalar()

    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    shots = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])

            def page_as(username: str | None):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                if username:
                    page.goto(f"{base}/login")
                    page.fill("input[name=username]", username)
                    page.fill("input[name=password]", password)
                    page.click("button:has-text('登录')")
                return page

            def shot(page, name: str, path: str | None = None) -> None:
                if path:
                    page.goto(base + path)
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                shots.append(target)

            anonymous = page_as(None)
            shot(anonymous, "01_login", "/login")
            anonymous.fill("input[name=username]", "li_ming")
            anonymous.fill("input[name=password]", "wrong-password")
            anonymous.click("button:has-text('登录')")
            shot(anonymous, "02_login_wrong_password")

            officer = page_as("li_ming")
            shot(officer, "03_officer_list", "/officer/list")
            shot(officer, "04_officer_household", f"/officer/households/{picks['household']}")
            officer.select_option("select[name=decision]", "认定纳入")
            officer.click("button:has-text('登记决定')")
            shot(officer, "05_officer_decision_refused")
            shot(officer, "06_officer_other_county", f"/officer/households/{picks['other']}")
            shot(officer, "07_overview_officer", "/overview")

            reviewer = page_as("wang_fang")
            shot(reviewer, "08_review_queue", "/review")

            clerk = page_as("yibao_clerk")
            shot(clerk, "09_department", "/department")
            if load_id is not None:
                shot(clerk, "10_department_file", f"/department/files/{load_id}")
                shot(clerk, "11_department_feedback", f"/department/files/{load_id}/feedback")

            admin = page_as("admin")
            shot(admin, "12_overview_city", "/overview")
            shot(admin, "13_audit_log", "/admin/audit")

            # Five wrong passwords lock the user name; the administrator sees and lifts it.
            for _ in range(5):
                anonymous.goto(f"{base}/login")
                anonymous.fill("input[name=username]", "wang_fang")
                anonymous.fill("input[name=password]", "wrong-password")
                anonymous.click("button:has-text('登录')")
            shot(anonymous, "14_login_locked")
            shot(admin, "15_admin_users", "/admin/users")
            browser.close()
    finally:
        server.should_exit = True
        engine.dispose()
    for path in shots:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
