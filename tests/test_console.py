"""The web console: every route and permission, on a warehouse the pipeline filled.

Most tests run on a copy of one demo-city warehouse built once per session by the real
pipeline (``crosscheck.steps.run``); the row-level security and the run-to-run change
are tested on a small hand-built warehouse on SQLite and real PostgreSQL.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.exc import DatabaseError

from connectors.spec import load_specs
from crosscheck import cli, steps
from crosscheck.console import create_app, queries
from crosscheck.console.auth import ConsoleError, User, add_user
from crosscheck.console.config import ConsoleConfig
from crosscheck.console.landing import INCOMING
from tests.conftest import AS_OF, PII_KEY
from warehouse.access import grant_roles
from warehouse.console_models import ConsoleAudit, ConsoleSession, ConsoleUser
from warehouse.models import (
    DimHousehold,
    LoadAudit,
    MatchReview,
    MonitoringList,
    MonitoringListHistory,
    RecordLink,
)

PASSWORD = "correct-horse-battery"
YUSHUI, FENYI = "渝水区", "分宜县"
RUN_DATE = dt.date.fromisoformat(AS_OF)
_BASE: dict = {}


class Clock:
    """The console's wall clock, moved by the test (sessions, 'today' for forms)."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def base_warehouse(tmp_path_factory, demo_city) -> dict:
    """The demo city run once through the whole pipeline (cached for the session)."""
    if not _BASE:
        root = tmp_path_factory.mktemp("console-base")
        landing = root / "landing"
        shutil.copytree(demo_city["landing"], landing)
        db = root / "warehouse.db"
        summary = steps.run(landing, f"sqlite:///{db}", RUN_DATE, root / "reports", PII_KEY)
        assert summary.ok, summary.failures
        _BASE.update(landing=landing, db=db)
    return _BASE


def seed_review(engine) -> dict:
    """A grey-zone candidate as the linker writes one: a probabilistically linked record
    (the demo city at this size leaves none in review) put back as pending."""
    with engine.begin() as conn:
        link = conn.execute(
            select(RecordLink)
            .where(RecordLink.method == "probabilistic")
            .order_by(RecordLink.source_id, RecordLink.record_key)
        ).first()
        conn.execute(
            insert(MatchReview).values(
                source_id=link.source_id,
                record_key=link.record_key,
                person_key=link.person_key,
                household_no=link.household_no,
                match_probability=0.72,
                status="pending",
            )
        )
    return link._asdict()


def make_users(engine, now: dt.datetime) -> None:
    for username, role, extra in (
        ("li_ming", "county_officer", {"county": YUSHUI, "display_name": "李明"}),
        ("zhao_lei", "county_officer", {"county": FENYI, "display_name": "赵雷"}),
        ("wang_fang", "reviewer", {"display_name": "王芳"}),
        ("yibao_clerk", "department", {"department": "医疗保障局"}),
        ("admin", "admin", {}),
    ):
        add_user(engine, username, PASSWORD, role, now=now, **extra)


class Console:
    """A browser-like client: signs in through the form, posts forms with their token."""

    def __init__(self, app):
        self.client = TestClient(app)
        self.engine = app.state.console.engine

    def sign_in(self, username: str, password: str = PASSWORD):
        self.client.cookies.clear()
        page = self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf": token},
            follow_redirects=False,
        )

    def csrf(self) -> str:
        page = self.client.get("/")  # any page carries the session's token (sign-out form)
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def get(self, path: str, **kw):
        return self.client.get(path, follow_redirects=False, **kw)

    def post(self, path: str, data: dict, *, csrf: str | None = None, **kw):
        token = self.csrf() if csrf is None else csrf
        return self.client.post(path, data={**data, "csrf": token}, follow_redirects=False, **kw)


def audit_rows(engine, **where) -> list:
    with engine.connect() as conn:
        stmt = select(ConsoleAudit).order_by(ConsoleAudit.audit_id)
        for key, value in where.items():
            stmt = stmt.where(getattr(ConsoleAudit, key) == value)
        return conn.execute(stmt).all()


@pytest.fixture
def env(tmp_path, tmp_path_factory, demo_city):
    """A console over a private copy of the demo warehouse and landing zone."""
    base = base_warehouse(tmp_path_factory, demo_city)
    landing = tmp_path / "landing"
    shutil.copytree(base["landing"], landing)
    shutil.copy(base["db"], tmp_path / "warehouse.db")
    clock = Clock(dt.datetime(2026, 12, 1, 2, 0))  # 10:00 in Xinyu, the day after the run
    config = ConsoleConfig(
        warehouse_url=f"sqlite:///{tmp_path / 'warehouse.db'}",
        landing_dir=landing,
        reports_dir=tmp_path / "reports",
        max_upload_bytes=64 * 1024,
        clock=clock,
    )
    app = create_app(config)
    engine = app.state.console.engine
    make_users(engine, clock.now)
    with engine.connect() as conn:
        listed = pd.read_sql(select(MonitoringList), conn)
    return {
        "console": Console(app),
        "engine": engine,
        "clock": clock,
        "landing": landing,
        "config": config,
        "yushui_lead": listed[(listed.county == YUSHUI) & (listed.status == "lead")]
        .sort_values("household_no")
        .household_no.iloc[0],
        "fenyi": listed[listed.county == FENYI].sort_values("household_no").household_no.iloc[0],
        "listed": listed,
    }


def decision_files(landing: Path) -> list[Path]:
    return sorted((landing / "county_decisions").glob("console_*.csv"))


# --------------------------------------------------------------------------- sign-in


def test_wrong_password_is_refused_in_chinese_and_logged(env):
    c = env["console"]
    response = c.sign_in("li_ming", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    with env["engine"].connect() as conn:
        assert conn.execute(select(func.count()).select_from(ConsoleSession)).scalar() == 0
    refused = audit_rows(env["engine"], action="login", outcome="refused")
    assert [(r.username, r.detail) for r in refused] == [("li_ming", "用户名或密码错误")]
    assert c.get("/officer/list").headers["location"] == "/login?reason=none"


def test_passwords_are_stored_as_argon2_hashes_only(env):
    with env["engine"].connect() as conn:
        stored = conn.execute(select(ConsoleUser.password_hash)).scalars().all()
    assert len(stored) == 5
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in stored)


def test_a_session_expires_after_idle_time_and_says_so(env):
    c = env["console"]
    assert c.sign_in("li_ming").headers["location"] == "/officer/list"
    assert c.get("/officer/list").status_code == 200
    env["clock"].now += dt.timedelta(minutes=29)
    assert c.get("/officer/list").status_code == 200  # used: the idle time starts again
    env["clock"].now += dt.timedelta(minutes=31)
    response = c.get("/officer/list")
    assert response.headers["location"] == "/login?reason=expired"
    assert "会话已过期，请重新登录" in c.get(response.headers["location"]).text
    expired = audit_rows(env["engine"], action="session")
    assert [(r.username, r.outcome, r.detail) for r in expired] == [
        ("li_ming", "refused", "会话已过期")
    ]


def test_a_session_ends_after_eight_hours_however_busy(env):
    c, clock = env["console"], env["clock"]
    c.sign_in("li_ming")
    end = clock.now + dt.timedelta(hours=8)
    while clock.now + dt.timedelta(minutes=29) < end:  # used every 29 minutes, never idle
        clock.now += dt.timedelta(minutes=29)
        assert c.get("/officer/list").status_code == 200
    clock.now = end
    assert c.get("/officer/list").headers["location"] == "/login?reason=expired"


def test_a_forged_login_form_is_refused(env):
    client = env["console"].client
    client.get("/login")
    response = client.post(
        "/login", data={"username": "li_ming", "password": PASSWORD, "csrf": "forged"}
    )
    assert response.status_code == 403
    assert "登录表单已失效" in response.text
    assert "cc_session" not in response.cookies


def test_sign_out_needs_the_token_and_ends_the_session(env):
    c = env["console"]
    c.sign_in("li_ming")
    assert c.post("/logout", {}, csrf="forged").status_code == 403
    assert c.get("/officer/list").status_code == 200
    assert c.post("/logout", {}).headers["location"] == "/login?reason=signed_out"
    assert c.get("/officer/list").headers["location"] == "/login?reason=none"


# --------------------------------------------------------------------------- throttling


def _sessions(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ConsoleSession)).scalar()


def test_repeated_wrong_passwords_lock_that_user_for_some_minutes(env):
    c, engine, clock = env["console"], env["engine"], env["clock"]
    for _ in range(4):
        assert c.sign_in("li_ming", "wrong-password").status_code == 401
    fifth = c.sign_in("li_ming", "wrong-password")
    assert fifth.status_code == 429
    assert "连续 5 次密码错误，登录已锁定" in fifth.text
    assert "2026-12-01 10:15" in fifth.text  # 02:00 UTC + 15 minutes, in Xinyu's time
    [lock] = audit_rows(engine, action="login_lock")
    assert (lock.username, lock.outcome, lock.target) == ("li_ming", "refused", "li_ming")
    assert lock.detail == "连续 5 次密码错误，登录锁定 15 分钟"

    # Locked: even the right password opens nothing, and the attempt is logged.
    clock.now += dt.timedelta(minutes=14)
    locked = c.sign_in("li_ming")
    assert locked.status_code == 429 and "登录已锁定" in locked.text
    assert "cc_session" not in locked.cookies and _sessions(engine) == 0
    last = audit_rows(engine, action="login", username="li_ming")[-1]
    assert last.outcome == "refused" and last.detail.startswith("登录已锁定")
    assert len(audit_rows(engine, action="login_lock")) == 1  # not extended
    # Other users are not affected.
    assert c.sign_in("wang_fang").headers["location"] == "/review"

    clock.now += dt.timedelta(minutes=1)  # 15 minutes after the lock
    assert c.sign_in("li_ming").headers["location"] == "/officer/list"
    # The success starts the count again: one wrong password is just a wrong password.
    assert c.sign_in("li_ming", "wrong-password").status_code == 401


def test_wrong_passwords_spread_out_or_before_a_success_do_not_lock(env):
    c, clock = env["console"], env["clock"]
    for _ in range(4):
        assert c.sign_in("li_ming", "wrong-password").status_code == 401
    assert c.sign_in("li_ming").status_code == 303
    for _ in range(4):
        assert c.sign_in("li_ming", "wrong-password").status_code == 401
    clock.now += dt.timedelta(minutes=16)  # the four fall out of the 15-minute window
    assert c.sign_in("li_ming", "wrong-password").status_code == 401
    assert c.sign_in("li_ming").status_code == 303
    assert audit_rows(env["engine"], action="login_lock") == []


def test_an_unknown_user_name_is_locked_like_a_known_one(env):
    c = env["console"]
    answers = [c.sign_in("nobody_here", "wrong-password") for _ in range(6)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429, 429]
    assert "登录已锁定" in answers[-1].text
    [lock] = audit_rows(env["engine"], action="login_lock")
    assert lock.username == "nobody_here"


def test_a_forged_sign_in_form_does_not_count_towards_a_lock(env):
    client = env["console"].client
    for _ in range(6):
        client.get("/login")
        client.post("/login", data={"username": "li_ming", "password": "x", "csrf": "forged"})
    assert env["console"].sign_in("li_ming").status_code == 303


# --------------------------------------------------------------------------- user management


def test_an_administrator_lists_deactivates_and_reactivates_users(env):
    c, engine = env["console"], env["engine"]
    officer = Console(c.client.app)
    officer.sign_in("li_ming")
    assert officer.get("/officer/list").status_code == 200

    c.sign_in("admin")
    page = c.get("/admin/users").text
    for username in ("li_ming", "zhao_lei", "wang_fang", "yibao_clerk", "admin"):
        assert f'id="user-{username}"' in page
    assert "渝水区" in page and "医疗保障局" in page and "$argon2" not in page
    assert 'action="/admin/users/admin/deactivate"' not in page  # not oneself

    done = c.post("/admin/users/li_ming/deactivate", {})
    assert done.headers["location"] == "/admin/users?done=deactivate&user=li_ming"
    assert "已停用用户 li_ming，其会话已结束" in c.get(done.headers["location"]).text
    # The officer's open session ends at once; signing in again says why.
    assert officer.get("/officer/list").headers["location"] == "/login?reason=none"
    refused = officer.sign_in("li_ming")
    assert refused.status_code == 403 and "该账号已停用" in refused.text
    assert officer.sign_in("li_ming", "wrong-password").status_code == 401  # says nothing
    assert audit_rows(engine, action="login", username="li_ming")[-2].detail == "账号已停用"

    assert c.post("/admin/users/li_ming/reactivate", {}).status_code == 303
    assert officer.sign_in("li_ming").headers["location"] == "/officer/list"
    changes = audit_rows(engine, username="admin", outcome="ok")
    assert [(r.action, r.target) for r in changes if r.action.startswith("user_")] == [
        ("user_deactivate", "li_ming"),
        ("user_reactivate", "li_ming"),
    ]
    assert "停用用户" in c.get("/admin/audit?username=admin").text


def test_user_changes_refused_are_explained_and_change_nothing(env):
    c, engine = env["console"], env["engine"]
    c.sign_in("admin")

    def active(username: str) -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    select(ConsoleUser.active).where(ConsoleUser.username == username)
                ).scalar()
            )

    myself = c.post("/admin/users/admin/deactivate", {})
    assert myself.status_code == 400 and "不能停用自己的账号" in myself.text
    unknown = c.post("/admin/users/no_such_user/deactivate", {})
    assert unknown.status_code == 404 and "没有这个用户" in unknown.text
    odd = c.post("/admin/users/li_ming/delete", {})
    assert odd.status_code == 404 and "未知的用户操作" in odd.text
    forged = c.post("/admin/users/li_ming/deactivate", {}, csrf="forged")
    assert forged.status_code == 403 and "校验码不符" in forged.text
    assert active("admin") and active("li_ming")
    refused = audit_rows(engine, username="admin", outcome="refused")
    assert [(r.action, r.target) for r in refused] == [
        ("user_deactivate", "admin"),
        ("user_deactivate", "no_such_user"),
        ("user_delete", "li_ming"),
        ("csrf", "/admin/users/li_ming/deactivate"),
    ]

    clerk = Console(c.client.app)
    clerk.sign_in("yibao_clerk")
    assert clerk.post("/admin/users/li_ming/deactivate", {}).status_code == 403
    assert active("li_ming")


def test_an_administrator_lifts_a_sign_in_lock(env):
    c, engine = env["console"], env["engine"]
    officer = Console(c.client.app)
    for _ in range(5):
        officer.sign_in("li_ming", "wrong-password")
    assert officer.sign_in("li_ming").status_code == 429
    c.sign_in("admin")
    page = c.get("/admin/users").text
    assert "登录锁定至 2026-12-01 10:15" in page
    assert 'action="/admin/users/li_ming/unlock"' in page
    assert c.post("/admin/users/li_ming/unlock", {}).status_code == 303
    assert "登录锁定至" not in c.get("/admin/users").text
    assert officer.sign_in("li_ming").headers["location"] == "/officer/list"
    [unlock] = audit_rows(engine, action="user_unlock")
    assert (unlock.username, unlock.target) == ("admin", "li_ming")


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    ("username", "forbidden"),
    [
        ("li_ming", ["/review", "/department", "/admin/audit", "/admin/users"]),
        (
            "wang_fang",
            ["/officer/list", "/officer/list.csv", "/overview", "/admin/audit", "/admin/users"],
        ),
        ("yibao_clerk", ["/officer/list", "/review", "/overview", "/admin/audit", "/admin/users"]),
        ("admin", ["/officer/list", "/review", "/department"]),
    ],
)
def test_each_role_reaches_its_own_pages_only(env, username, forbidden):
    c = env["console"]
    home = c.sign_in(username).headers["location"]
    assert c.get(home).status_code == 200
    for path in forbidden:
        response = c.get(path)
        assert response.status_code == 403, path
        assert "您的角色无权访问此页面" in response.text
    refused = audit_rows(env["engine"], action="page", outcome="refused")
    assert [r.target for r in refused] == forbidden


def test_without_a_session_every_page_sends_to_sign_in(env):
    c = env["console"]
    for path in [
        "/officer/list",
        "/officer/list.csv",
        f"/officer/households/{env['yushui_lead']}",
        "/overview",
        "/review",
        "/department",
        "/admin/audit",
        "/admin/users",
    ]:
        assert c.get(path).headers["location"] == "/login?reason=none", path


# --------------------------------------------------------------------------- county officer


def test_an_officer_of_yushui_gets_nothing_of_fenyi(env):
    c, listed = env["console"], env["listed"]
    c.sign_in("li_ming")
    fenyi_households = set(listed[listed.county == FENYI].household_no)
    fenyi_places = set(listed[listed.county == FENYI].township) - set(
        listed[listed.county == YUSHUI].township
    )
    assert fenyi_households and fenyi_places

    page = c.get("/officer/list").text
    shown = set(re.findall(r"/officer/households/([0-9A-Za-z]+)", page))
    assert shown == set(listed[listed.county == YUSHUI].household_no)
    export = pd.read_csv(io.BytesIO(c.get("/officer/list.csv").content), dtype=str)
    assert set(export["县(市、区)"]) == {YUSHUI}
    assert len(export) == (listed.county == YUSHUI).sum()
    # Filters cannot reach across: a 分宜县 township filter yields nothing.
    township = sorted(fenyi_places)[0]
    assert not re.findall(r"/officer/households/", c.get(f"/officer/list?township={township}").text)
    assert pd.read_csv(io.BytesIO(c.get(f"/officer/list.csv?township={township}").content)).empty
    overview = c.get("/overview").text
    assert FENYI not in overview and not any(t in overview for t in fenyi_places)

    other = env["fenyi"]
    for path in [f"/officer/households/{other}", f"/officer/households/{other}/evidence.csv"]:
        response = c.get(path)
        assert response.status_code == 404, path
        assert "不属于您所在的县（区）" in response.text
    response = c.post(
        f"/officer/households/{other}/decisions", {"decision": "开始核实", "decided_on": AS_OF}
    )
    assert response.status_code == 404
    assert decision_files(env["landing"]) == []
    refused = audit_rows(env["engine"], outcome="refused", household_no=other)
    assert [r.action for r in refused] == ["view_household", "export_evidence", "decision"]
    assert all(r.username == "li_ming" for r in refused)


def test_the_list_filters_by_grade_status_and_overdue(env):
    c, listed = env["console"], env["listed"]
    c.sign_in("li_ming")
    own = listed[listed.county == YUSHUI]

    def shown(query: str) -> set[str]:
        return set(re.findall(r"/officer/households/([0-9A-Za-z]+)", c.get(query).text))

    assert shown("/officer/list?grade=red") == set(own[own.grade == "red"].household_no)
    assert shown("/officer/list?status=lead") == set(own[own.status == "lead"].household_no)
    assert shown("/officer/list?overdue=1") == set(own[own.overdue.astype(bool)].household_no)
    village = own.village.iloc[0]
    assert shown(f"/officer/list?village={village}") == set(
        own[own.village == village].household_no
    )


def test_the_household_page_shows_members_masked_evidence_and_case(env):
    c = env["console"]
    c.sign_in("li_ming")
    household = env["yushui_lead"]
    page = c.get(f"/officer/households/{household}").text
    detail = queries.household_detail(env["engine"], household)
    for member in detail["members"].itertuples():
        assert member.id_masked in page
    assert not re.search(r"\d{17}[\dXx]", page)  # no raw ID number anywhere
    assert len(detail["signals"]) >= 1
    for signal in detail["signals"].itertuples():
        assert signal.evidence.replace("<", "&lt;") in page
        assert signal.rule_id in page
    assert ">线索待核实<" in page
    viewed = audit_rows(env["engine"], action="view_household", outcome="ok")
    assert [(r.username, r.household_no) for r in viewed] == [("li_ming", household)]


def test_a_decision_becomes_a_county_decisions_file(env):
    c, landing = env["console"], env["landing"]
    c.sign_in("li_ming")
    household = env["yushui_lead"]
    response = c.post(
        f"/officer/households/{household}/decisions",
        {"decision": "开始核实", "decided_on": "2026-11-30", "note": "入户核实"},
    )
    assert response.status_code == 303
    [path] = decision_files(landing)
    assert list((landing / INCOMING).iterdir()) == []  # no half-written file left behind
    spec = load_specs()["county_decisions"]
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(frame.columns) == [col.header for col in spec.columns]
    row = frame.iloc[0]
    with env["engine"].connect() as conn:
        house = conn.execute(
            select(DimHousehold).where(DimHousehold.household_no == household)
        ).one()
    assert row["户号"] == household
    assert (row["县(市、区)"], row["乡镇"], row["村"]) == (
        house.county,
        house.township,
        house.village,
    )
    assert row["户主姓名"] == house.head_name and row["户主证件号码"] == ""
    assert (row["决定"], row["决定日期"], row["经办人"], row["备注"]) == (
        "开始核实",
        "2026-11-30",
        "李明",
        "入户核实",
    )
    assert path.name == f"console_{row['决定编号']}.csv"
    [done] = audit_rows(env["engine"], action="decision", outcome="ok")
    assert done.target == f"county_decisions/{path.name}" and done.household_no == household
    page = c.get(f"/officer/households/{household}").text
    assert "等待下次运行处理" in page and path.name in page


@pytest.mark.parametrize(
    ("form", "reasons"),
    [
        (
            {"decision": "开除", "decided_on": "2026-11-30"},
            ["未知的决定「开除」", "「决定」取值不在允许范围：开除"],
        ),
        (
            {"decision": "开始核实", "decided_on": "2026-12-02"},
            ["决定日期 2026-12-02 晚于今天（2026-12-01）"],
        ),
        (
            {"decision": "开始核实", "decided_on": "2026-13-01"},
            ["决定日期须为 YYYY-MM-DD", "「决定日期」日期无法识别：2026-13-01"],
        ),
        ({"decision": "认定纳入", "decided_on": "2026-11-30"}, ["认定纳入须选择监测对象类型"]),
        (
            {"decision": "认定纳入", "decided_on": "2026-11-30", "object_type": "富裕户"},
            ["「监测对象类型」取值不在允许范围：富裕户"],
        ),
    ],
)
def test_a_bad_decision_is_refused_with_reasons_and_nothing_written(env, form, reasons):
    c = env["console"]
    c.sign_in("li_ming")
    household = env["yushui_lead"]
    response = c.post(f"/officer/households/{household}/decisions", form)
    assert response.status_code == 422
    for reason in reasons:
        assert reason in response.text
    assert decision_files(env["landing"]) == []
    [refused] = audit_rows(env["engine"], action="decision", outcome="refused")
    assert refused.household_no == household and reasons[0] in refused.detail


def test_a_forged_decision_form_writes_nothing(env):
    c = env["console"]
    c.sign_in("li_ming")
    response = c.post(
        f"/officer/households/{env['yushui_lead']}/decisions",
        {"decision": "开始核实", "decided_on": AS_OF},
        csrf="forged-token",
    )
    assert response.status_code == 403
    assert "校验码不符" in response.text
    assert decision_files(env["landing"]) == []
    assert [r.outcome for r in audit_rows(env["engine"], action="csrf")] == ["refused"]


# --------------------------------------------------------------------------- reviewer


def test_a_reviewer_sees_record_and_candidate_and_confirms(env):
    c, engine = env["console"], env["engine"]
    link = seed_review(engine)
    c.sign_in("wang_fang")
    page = c.get("/review").text
    assert "待复核 1 条" in page and "72.0%" in page
    items, total = queries.review_queue(engine)
    assert total == 1
    [item] = items
    assert item["record"]["file_name"] in page and item["id_masked"] in page
    assert f"第{item['record']['row_number']}行" in page
    form = {"source_id": link["source_id"], "record_key": link["record_key"]}
    form["person_key"] = link["person_key"]
    assert c.post("/review/decide", {**form, "action": "confirm"}).status_code == 303
    with engine.connect() as conn:
        row = conn.execute(select(MatchReview)).one()
    assert (row.status, row.decided_by, row.decided_at) == (
        "confirmed",
        "wang_fang",
        dt.datetime(2026, 12, 1, 2, 0),
    )
    again = c.post("/review/decide", {**form, "action": "reject"})
    assert again.status_code == 409 and "已由他人处理" in again.text
    assert "复核队列为空" in c.get("/review").text


def test_a_review_decision_needs_a_known_action_and_a_token(env):
    c, engine = env["console"], env["engine"]
    link = seed_review(engine)
    c.sign_in("wang_fang")
    form = {k: link[k] for k in ("source_id", "record_key", "person_key")}
    assert c.post("/review/decide", {**form, "action": "maybe"}).status_code == 400
    assert c.post("/review/decide", {**form, "action": "confirm"}, csrf="x").status_code == 403
    with engine.connect() as conn:
        assert conn.execute(select(MatchReview.status)).scalar() == "pending"


def seed_reviews(engine, count: int) -> list[tuple[str, str]]:
    """``count`` pending reviews (records that the run linked, put back as pending), with
    tied probabilities; returns their (source, record) keys in the queue's order."""
    with engine.begin() as conn:
        links = conn.execute(
            select(RecordLink)
            .where(RecordLink.person_key.is_not(None))
            .order_by(RecordLink.record_key, RecordLink.source_id)
            .limit(count)
        ).all()
        rows = [
            {
                "source_id": link.source_id,
                "record_key": link.record_key,
                "person_key": link.person_key,
                "household_no": link.household_no,
                "match_probability": (0.6, 0.8, 0.7)[i % 3],
                "status": "pending",
            }
            for i, link in enumerate(links)
        ]
        conn.execute(insert(MatchReview), rows)
    assert len(rows) == count
    rows.sort(key=lambda r: (-r["match_probability"], r["source_id"], r["record_key"]))
    return [(r["source_id"], r["record_key"]) for r in rows]


_SHOWN = re.compile(
    r'name="source_id" value="([^"]+)">\s*<input type="hidden" name="record_key" value="([^"]+)"'
)


def test_the_review_queue_is_paged_in_a_stable_order(env):
    c, engine = env["console"], env["engine"]
    expected = seed_reviews(engine, 65)
    c.sign_in("wang_fang")
    pages = [c.get(f"/review?page={n}").text for n in (1, 2, 3)]
    shown = [_SHOWN.findall(p) for p in pages]
    assert [len(s) for s in shown] == [30, 30, 5]
    assert [key for page in shown for key in page] == expected  # all, once, in order
    assert "待复核 65 条" in pages[0] and "本页第 31–60 条" in pages[1]
    assert "第 1 / 3 页" in pages[0] and 'href="/review?page=2" rel="next"' in pages[0]
    assert 'href="/review?page=1" rel="prev"' in pages[1]
    assert 'rel="next"' not in pages[2]
    assert _SHOWN.findall(c.get("/review").text) == shown[0]
    assert _SHOWN.findall(c.get("/review?page=abc").text) == shown[0]
    assert _SHOWN.findall(c.get("/review?page=99").text) == shown[2]  # past the end: last

    # A decision on page 2 comes back to page 2, which now starts one record later.
    source_id, record_key = expected[30]
    with engine.connect() as conn:
        person_key = conn.execute(
            select(MatchReview.person_key).where(
                MatchReview.source_id == source_id, MatchReview.record_key == record_key
            )
        ).scalar()
    form = {"source_id": source_id, "record_key": record_key, "person_key": person_key}
    done = c.post("/review/decide", {**form, "action": "reject", "page": "2"})
    assert done.headers["location"] == "/review?page=2&done=rejected"
    assert _SHOWN.findall(c.get("/review?page=2").text) == expected[31:61]
    items, total = queries.review_queue(engine, 30, 60)
    assert total == 64 and [(i["source_id"], i["record_key"]) for i in items] == expected[61:]


# --------------------------------------------------------------------------- department


def _upload(c: Console, source_id: str, name: str, content: bytes, **kw):
    return c.client.post(
        "/department/upload",
        data={"source_id": source_id, "csrf": kw.pop("csrf", None) or c.csrf()},
        files={"file": (name, content, "application/octet-stream")},
        follow_redirects=False,
    )


def test_a_department_uploads_a_file_into_its_landing_folder(env):
    c, landing = env["console"], env["landing"]
    c.sign_in("yibao_clerk")
    content = "姓名,身份证号,参保年度,参保状态,资助参保类别\n张三,,2026,正常参保,\n".encode()
    response = _upload(c, "yibao_enrollment", "参保登记_202612.csv", content)
    assert response.status_code == 303
    landed = landing / "yibao_enrollment" / "参保登记_202612.csv"
    assert landed.read_bytes() == content
    assert list((landing / INCOMING).iterdir()) == []
    page = c.get("/department").text
    assert "参保登记_202612.csv" in page and "等待处理" in page
    again = _upload(c, "yibao_enrollment", "参保登记_202612.csv", b"other,bytes\n1,2\n")
    assert again.status_code == 409 and "未覆盖" in again.text
    assert landed.read_bytes() == content


@pytest.mark.parametrize(
    ("source_id", "name", "content", "status", "message"),
    [
        ("yibao_enrollment", "big.csv", b"a,b\n" + b"1,2\n" * 20_000, 413, "超过 0 MB 的上限"),
        ("yibao_enrollment", "参保.xlsx", b"a,b\n1,2\n", 415, "须为 .csv 文件"),
        ("yibao_enrollment", "参保.csv", b"%PDF-1.7 not a table", 415, "不是 CSV 格式"),
        ("yibao_enrollment", "参保.csv", b"", 400, "文件为空"),
        ("gongan_hukou", "户籍.csv", b"a,b\n1,2\n", 403, "只能为本部门的数据源上传文件"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_lands(env, source_id, name, content, status, message):
    c, landing = env["console"], env["landing"]
    c.sign_in("yibao_clerk")
    before = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file())
    response = _upload(c, source_id, name, content)
    assert response.status_code == status
    assert message in response.text
    assert sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file()) == before
    [refused] = audit_rows(env["engine"], action="upload", outcome="refused")
    assert message in refused.detail


def test_a_department_sees_its_files_status_rejected_rows_and_feedback_only(env):
    c, engine = env["console"], env["engine"]
    with engine.connect() as conn:
        loads = pd.read_sql(select(LoadAudit), conn)
    own = loads[loads.source_id.isin(["yibao_settlement", "yibao_enrollment"])]
    mine = own.sort_values("rows_quarantined").iloc[-1]
    other = loads[~loads.source_id.isin(own.source_id)].iloc[0]
    c.sign_in("yibao_clerk")
    page = c.get("/department").text
    assert set(re.findall(r'/department/files/(\d+)"', page)) == set(map(str, own.load_id))
    status = c.get(f"/department/files/{mine.load_id}").text
    assert f"拒收的行（{mine.rows_quarantined}）" in status
    assert f"收到 {mine.rows_in} 行：入库 {mine.rows_loaded}" in status
    feedback = c.get(f"/department/files/{mine.load_id}/feedback")
    assert feedback.status_code == 200 and mine.file_name in feedback.text
    # The page keeps its own inline style (allowed by its hash), and nothing else inline.
    style = re.search(r"<style>(.*?)</style>", feedback.text, flags=re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = feedback.headers["content-security-policy"]
    assert f"style-src 'self' 'sha256-{digest}'" in policy and "script-src 'none'" in policy
    assert "sha256" not in c.get("/department").headers["content-security-policy"]
    for path in [
        f"/department/files/{other.load_id}",
        f"/department/files/{other.load_id}/feedback",
    ]:
        response = c.get(path)
        assert response.status_code == 404 and "不属于本部门" in response.text


# --------------------------------------------------------------------------- admin


def test_the_audit_log_is_for_administrators_and_append_only(env):
    c, engine = env["console"], env["engine"]
    c.sign_in("li_ming")
    c.get(f"/officer/households/{env['yushui_lead']}")
    assert c.get("/admin/audit").status_code == 403
    c.sign_in("admin")
    page = c.get(f"/admin/audit?household_no={env['yushui_lead']}").text
    assert "查看农户" in page and "li_ming" in page
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(update(ConsoleAudit).values(detail="changed"))
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(ConsoleAudit.__table__.delete())


def test_pages_escape_what_they_show_and_load_nothing_from_elsewhere(env):
    c, engine = env["console"], env["engine"]
    household = env["yushui_lead"]
    with engine.begin() as conn:
        conn.execute(
            update(MonitoringList)
            .where(MonitoringList.household_no == household)
            .values(head_name="<script>alert(1)</script>")
        )
    c.sign_in("li_ming")
    response = c.get("/officer/list")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script" not in response.text
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert not re.search(r'(src|href)="https?://', response.text)
    assert response.headers["cache-control"] == "no-store"


# --------------------------------------------------------------------------- command line


def test_serve_binds_loopback_by_default_and_add_user_reads_stdin(tmp_path, monkeypatch):
    args = cli._parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    code = cli.main(
        [
            "console",
            "add-user",
            "chen_jing",
            "--role",
            "county_officer",
            "--county",
            FENYI,
            "--name",
            "陈静",
            "--password-stdin",
            "--warehouse",
            url,
        ]
    )
    assert code == 0
    engine = create_engine(url)
    with engine.connect() as conn:
        user = conn.execute(select(ConsoleUser)).one()
    engine.dispose()
    assert (user.username, user.role, user.county, user.display_name) == (
        "chen_jing",
        "county_officer",
        FENYI,
        "陈静",
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        cli.main(
            [
                "console",
                "add-user",
                "chen_jing",
                "--role",
                "reviewer",
                "--password-stdin",
                "--warehouse",
                url,
            ]
        )
        == 2
    )


# --------------------------------------------------------------------------- both backends


def _small_warehouse(url: str):
    """Two counties, two run dates: what the list, the RLS and the change need."""
    engine = steps.open_warehouse(url)
    d1, d2 = dt.date(2026, 10, 31), dt.date(2026, 11, 30)

    def row(no, county, township, grade, as_of):
        return {
            "household_no": no,
            "county": county,
            "township": township,
            "village": "一村",
            "head_name": "张三",
            "head_id_masked": "360502********123X",
            "object_type": "边缘易致贫户",
            "risk_types": "因病;因学" if grade == "red" else "因病",
            "grade": grade,
            "first_flagged_at": d1,
            "evidence_count": 1,
            "status": "lead",
            "as_of": as_of,
            "overdue": False,
        }

    before = [
        row("Y1", YUSHUI, "珠珊镇", "yellow", d1),  # upgraded
        row("Y2", YUSHUI, "珠珊镇", "red", d1),  # downgraded
        row("Y3", YUSHUI, "罗坊镇", "green", d1),  # cleared
        row("Y4", YUSHUI, "罗坊镇", "red", d1),  # unchanged
        row("F1", FENYI, "杨桥镇", "red", d1),  # cleared (other county)
    ]
    after = [
        row("Y1", YUSHUI, "珠珊镇", "red", d2),
        row("Y2", YUSHUI, "珠珊镇", "green", d2),
        row("Y4", YUSHUI, "罗坊镇", "red", d2),
        row("Y5", YUSHUI, "罗坊镇", "yellow", d2),  # new
        row("F2", FENYI, "杨桥镇", "red", d2),  # new (other county)
    ]
    with engine.begin() as conn:
        conn.execute(insert(MonitoringListHistory), before + after)
        conn.execute(insert(MonitoringList), after)
        conn.execute(
            insert(DimHousehold),
            [
                {
                    "household_no": r["household_no"],
                    "county": r["county"],
                    "township": r["township"],
                    "village": "一村",
                    "head_name": "张三",
                    "members": 1,
                }
                for r in after
            ],
        )
    return engine


def test_change_since_previous_run_on_both_backends(warehouse_url):
    engine = _small_warehouse(warehouse_url)
    try:
        officer = User("li_ming", "李明", "county_officer", YUSHUI, None, None)
        if engine.dialect.name == "postgresql":
            grant_roles(engine)
            officer = add_user(
                engine,
                f"o_{uuid.uuid4().hex[:10]}",
                PASSWORD,
                "county_officer",
                county=YUSHUI,
                now=dt.datetime(2026, 12, 1),
            )
        change = queries.change_since_previous(engine, officer)
        assert (change["previous"], change["latest"]) == (
            dt.date(2026, 10, 31),
            dt.date(2026, 11, 30),
        )
        assert change["rows"] == [
            {"township": "珠珊镇", "new": 0, "upgraded": 1, "downgraded": 1, "cleared": 0},
            {"township": "罗坊镇", "new": 1, "upgraded": 0, "downgraded": 0, "cleared": 1},
        ]
        admin = User("admin", "admin", "admin", None, None, None)
        whole = queries.change_since_previous(engine, admin)["rows"]
        assert {r["township"]: (r["new"], r["cleared"]) for r in whole}["杨桥镇"] == (1, 1)
        summary = queries.overview(engine, officer)
        assert summary["households"] == 4
        assert summary["by_risk"].set_index("risk_type")["total"].to_dict() == {
            "因病": 4,
            "因学": 2,
        }
        villages = summary["by_village"].set_index(["county", "township", "village"])
        assert villages[["red", "yellow", "green", "因病", "因学"]].to_dict("index") == {
            (YUSHUI, "珠珊镇", "一村"): {"red": 1, "yellow": 0, "green": 1, "因病": 2, "因学": 1},
            (YUSHUI, "罗坊镇", "一村"): {"red": 1, "yellow": 1, "green": 0, "因病": 2, "因学": 1},
        }
    finally:
        _drop_officer_roles(engine)
        engine.dispose()


def _drop_officer_roles(engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        roles = conn.execute(select(ConsoleUser.pg_role).where(ConsoleUser.pg_role.is_not(None)))
        for (role,) in roles.all():
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.postgres
def test_on_postgresql_row_level_security_scopes_the_officer(postgres_url, tmp_path):
    engine = _small_warehouse(postgres_url)
    try:
        with pytest.raises(ConsoleError, match="无法建立数据库行级权限"):
            add_user(
                engine,
                "early_bird",
                PASSWORD,
                "county_officer",
                county=YUSHUI,
                now=dt.datetime(2026, 12, 1),
            )
        grant_roles(engine)
        officer = add_user(
            engine,
            f"o_{uuid.uuid4().hex[:10]}",
            PASSWORD,
            "county_officer",
            county=YUSHUI,
            now=dt.datetime(2026, 12, 1),
        )
        assert officer.pg_role == f"officer_{officer.username}"
        # The app's own county rule taken away: the warehouse still returns 渝水区 only.
        with queries.scoped(engine, officer) as conn:
            counties = conn.execute(select(MonitoringList.county).distinct()).scalars().all()
            history = conn.execute(select(func.count()).select_from(MonitoringListHistory)).scalar()
            user = conn.execute(text("SELECT current_user")).scalar()
        assert counties == [YUSHUI] and history == 8 and user == officer.pg_role
        stranger = User("x", "x", "county_officer", FENYI, None, officer.pg_role)
        assert queries.monitoring_list(engine, stranger, {}).empty  # RLS: 渝水区 role
        assert not queries.household_visible(engine, stranger, "F2")
        no_role = User("y", "y", "county_officer", YUSHUI, None, None)
        with pytest.raises(ConsoleError, match="行级权限"):
            queries.monitoring_list(engine, no_role, {})

        config = ConsoleConfig(
            postgres_url, tmp_path, tmp_path, clock=lambda: dt.datetime(2026, 12, 1)
        )
        c = Console(create_app(config))
        try:
            c.sign_in(officer.username)
            page = c.get("/officer/list").text
            assert set(re.findall(r"/officer/households/(\w+)\"", page)) == {"Y1", "Y2", "Y4", "Y5"}
            assert c.get("/officer/households/F2").status_code == 404
            assert c.get("/officer/households/Y1").status_code == 200
        finally:
            c.client.app.state.console.engine.dispose()
    finally:
        _drop_officer_roles(engine)
        engine.dispose()
