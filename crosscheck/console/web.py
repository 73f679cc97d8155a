"""What every route shares: the console's state, the signed-in session, role checks,
CSRF-checked forms and rendering of the autoescaped templates."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from crosscheck.console import audit
from crosscheck.console.auth import ConsoleError, NoSession, Session, check_csrf, open_session
from crosscheck.console.config import ROLES, ConsoleConfig

__all__ = [
    "CSP",
    "SESSION_COOKIE",
    "Console",
    "NeedSignIn",
    "checked_form",
    "csp_allowing_inline_styles",
    "render",
    "require",
]

# No script at all, nothing from elsewhere; pages style themselves from /static only.
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; img-src 'self' data:"
)


def csp_allowing_inline_styles(html: str) -> str:
    """``CSP`` plus the hashes of the page's own ``<style>`` blocks: a self-contained page
    (a department's feedback page, also sent as a file) keeps its look, and nothing else
    inline is allowed."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    ]
    return CSP + ("; style-src 'self' " + " ".join(hashes) if hashes else "")


SESSION_COOKIE = "cc_session"
LOGIN_CSRF_COOKIE = "cc_login_csrf"
HOME = {
    "county_officer": "/officer/list",
    "reviewer": "/review",
    "department": "/department",
    "admin": "/overview",
}
NAV = {
    "county_officer": [("/officer/list", "监测名单"), ("/overview", "风险概览")],
    "reviewer": [("/review", "匹配复核")],
    "department": [("/department", "数据报送")],
    "admin": [
        ("/overview", "风险概览"),
        ("/admin/users", "用户管理"),
        ("/admin/audit", "审计日志"),
    ],
}


class NeedSignIn(Exception):
    """No valid session: back to the sign-in page, saying why ('none' or 'expired')."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Console:
    engine: Engine
    config: ConsoleConfig


def console(request: Request) -> Console:
    return request.app.state.console


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crosscheck.console", "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["blank"] = lambda v: "" if v is None or v != v else v  # None/NaN -> ""
    return env


def render(request: Request, template: str, session: Session | None, status: int = 200, **ctx):
    user = session.user if session else None
    html = (
        _templates()
        .get_template(template)
        .render(
            user=user,
            csrf=session.csrf_token if session else "",
            nav=NAV.get(user.role, []) if user else [],
            roles=ROLES,
            path=request.url.path,
            **ctx,
        )
    )
    return HTMLResponse(html, status_code=status)


def current_session(request: Request) -> Session:
    c = console(request)
    found = open_session(c.engine, c.config, request.cookies.get(SESSION_COOKIE))
    if isinstance(found, NoSession):
        if found.reason == "expired":
            audit.record(
                c.engine,
                c.config,
                "session",
                username=found.username,
                outcome="refused",
                detail="会话已过期",
            )
        raise NeedSignIn(found.reason)
    return found


def require(*roles: str):
    """A dependency: the session of a signed-in user holding one of ``roles``."""

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if session.user.role not in roles:
            c = console(request)
            audit.record(
                c.engine,
                c.config,
                "page",
                user=session.user,
                outcome="refused",
                target=request.url.path,
                detail="角色无权访问",
            )
            raise ConsoleError("您的角色无权访问此页面", 403)
        return session

    return dependency


async def checked_form(request: Request, session: Session, **limits) -> dict:
    """The posted form, after its CSRF token matched the session's (else refused, logged)."""
    form = await request.form(**limits)
    if not check_csrf(session.csrf_token, form.get("csrf")):
        c = console(request)
        audit.record(
            c.engine,
            c.config,
            "csrf",
            user=session.user,
            outcome="refused",
            target=request.url.path,
            detail="表单校验码不符",
        )
        raise ConsoleError(
            "表单已失效或来源不明（校验码不符），未作任何更改：请刷新页面后重试", 403
        )
    return form


OfficerSession = Annotated[Session, Depends(require("county_officer"))]
ReviewerSession = Annotated[Session, Depends(require("reviewer"))]
DepartmentSession = Annotated[Session, Depends(require("department"))]
AdminSession = Annotated[Session, Depends(require("admin"))]
OverviewSession = Annotated[Session, Depends(require("county_officer", "admin"))]
