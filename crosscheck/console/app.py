"""The console's FastAPI application factory."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from crosscheck.console.auth import ConsoleError
from crosscheck.console.config import ConsoleConfig
from crosscheck.console.routes import admin, common, department, officer, reviewer
from crosscheck.console.web import CSP, Console, NeedSignIn, current_session, render
from crosscheck.steps import open_warehouse

__all__ = ["ConsoleConfig", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"


# No script may run and nothing loads from elsewhere: the pages are plain HTML and SVG.
def create_app(config: ConsoleConfig) -> FastAPI:
    """The console over the warehouse at ``config.warehouse_url`` (deployed if SQLite)."""
    state = Console(open_warehouse(config.warehouse_url), config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.engine.dispose()

    app = FastAPI(
        title="智慧新余 一站式核对 工作台",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.console = state
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (common, officer, reviewer, department, admin):
        app.include_router(module.router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        # A route may widen it for its own page (csp_allowing_inline_styles), never drop it.
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # personal data: never cached
        return response

    @app.exception_handler(NeedSignIn)
    async def sign_in_again(request: Request, exc: NeedSignIn):
        return RedirectResponse(f"/login?reason={exc.reason}", status_code=303)

    @app.exception_handler(ConsoleError)
    async def refused(request: Request, exc: ConsoleError):
        try:
            session = current_session(request)
        except NeedSignIn:
            session = None
        return render(request, "error.html", session, status=exc.status, message=exc.message)

    return app
