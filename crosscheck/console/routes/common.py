"""Sign-in, sign-out, the home redirect and the risk overview (officers: own county)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from crosscheck.console import audit, charts, queries, throttle
from crosscheck.console.auth import Session, SignInRefused, check_csrf, end_session, sign_in
from crosscheck.console.web import (
    HOME,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    NeedSignIn,
    OverviewSession,
    checked_form,
    console,
    current_session,
    render,
)

router = APIRouter()

REASONS = {
    "expired": "会话已过期，请重新登录",
    "none": "请先登录",
    "signed_out": "已退出登录",
}


def _login_page(request: Request, message: str = "", status: int = 200, username: str = ""):
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status=status,
        message=message,
        failed=status >= 400,
        login_csrf=token,
        username=username,
    )
    c = console(request)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=c.config.secure_cookies,
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, reason: str = ""):
    return _login_page(request, REASONS.get(reason, ""))


@router.post("/login")
async def login(request: Request):
    c = console(request)
    form = await request.form()
    username = str(form.get("username", "")).strip()[:64]
    if not check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        audit.record(
            c.engine,
            c.config,
            "login",
            username=username or None,
            outcome="refused",
            detail="登录表单校验码不符",
        )
        return _login_page(request, "登录表单已失效，请重新输入", 403, username)
    locked = throttle.lock_until(c.engine, c.config, username)
    if locked is not None:
        audit.record(
            c.engine,
            c.config,
            "login",
            username=username,
            outcome="refused",
            detail=f"登录已锁定（至 {locked:%Y-%m-%d %H:%M} UTC）",
        )
        return _login_page(request, _locked_message(c, locked), 429, username)
    try:
        token = sign_in(c.engine, c.config, username, str(form.get("password", "")))
    except SignInRefused as exc:
        audit.record(
            c.engine,
            c.config,
            "login",
            username=username or None,
            outcome="refused",
            detail=exc.detail,
        )
        if exc.detail == throttle.WRONG_PASSWORD:
            locked = throttle.record_failure(c.engine, c.config, username)
            if locked is not None:
                return _login_page(request, _locked_message(c, locked), 429, username)
        return _login_page(request, exc.message, exc.status, username)
    session = current_session_for(request, token)
    audit.record(c.engine, c.config, "login", user=session.user)
    response = RedirectResponse(HOME[session.user.role], status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=c.config.secure_cookies,
        max_age=c.config.max_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _locked_message(c, until) -> str:
    local = c.config.local(until)
    return (
        f"该用户连续 {c.config.login_max_failures} 次密码错误，登录已锁定："
        f"请于 {local:%Y-%m-%d %H:%M} 后再试，或请管理员解除锁定"
    )


def current_session_for(request: Request, token: str) -> Session:
    from crosscheck.console.auth import NoSession, open_session

    c = console(request)
    found = open_session(c.engine, c.config, token)
    if isinstance(found, NoSession):
        raise NeedSignIn(found.reason)
    return found


@router.post("/logout")
async def logout(request: Request):
    session = current_session(request)
    await checked_form(request, session)
    c = console(request)
    end_session(c.engine, request.cookies.get(SESSION_COOKIE))
    audit.record(c.engine, c.config, "logout", user=session.user)
    response = RedirectResponse("/login?reason=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request):
    try:
        session = current_session(request)
    except NeedSignIn:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME[session.user.role], status_code=303)


@router.get("/overview")
def overview(request: Request, session: OverviewSession):
    c = console(request)
    data = queries.overview(c.engine, session.user)
    audit.record(
        c.engine, c.config, "view_overview", user=session.user, target=session.user.county or "全市"
    )
    return render(
        request,
        "overview.html",
        session,
        data=data,
        township_chart=charts.stacked_bars(
            [
                (f"{r['township']}", [r["red"], r["yellow"], r["green"]])
                for r in data["by_township"].to_dict("records")
            ],
            charts.GRADE_COLORS,
        ),
        risk_chart=charts.stacked_bars(
            [
                (r["risk_type"], [r["red"], r["yellow"], r["green"]])
                for r in data["by_risk"].to_dict("records")
            ],
            charts.GRADE_COLORS,
        ),
        change_chart=charts.grouped_change(data["change"]["rows"]),
        grade_labels=queries.GRADE_LABELS,
    )
