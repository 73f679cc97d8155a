"""``crosscheck serve`` (the console, 127.0.0.1 by default) and ``crosscheck console
add-user`` (users are created by whoever administers the server, never over the web)."""

from __future__ import annotations

import getpass
import sys

from crosscheck.console.config import ROLES
from crosscheck.settings import SettingsError, load_settings

__all__ = ["COMMANDS", "add_console_commands"]


def add_console_commands(sub) -> None:
    serve = sub.add_parser("serve", help="the web console (binds 127.0.0.1 by default)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")
    serve.add_argument("--landing", help="landing zone (CROSSCHECK_LANDING_DIR)")
    serve.add_argument("--reports", help="reports folder (CROSSCHECK_REPORTS_DIR)")
    serve.add_argument("--secure-cookies", action="store_true", help="behind HTTPS")

    console = sub.add_parser("console", help="web console administration")
    console_sub = console.add_subparsers(dest="console_command", required=True)
    add = console_sub.add_parser("add-user", help="create or update a console user")
    add.add_argument("username", help="3-32 lower-case letters, digits, _")
    add.add_argument("--role", required=True, choices=list(ROLES))
    add.add_argument("--name", help="display name (e.g. 李明)")
    add.add_argument("--county", help="county_officer: the county (e.g. 渝水区)")
    add.add_argument("--department", help="department: as the source specs name it")
    add.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def _config(args):
    from crosscheck.console.config import ConsoleConfig

    s = load_settings(
        warehouse_url=args.warehouse,
        landing_dir=getattr(args, "landing", None),
        reports_dir=getattr(args, "reports", None),
        require_pii_key=False,
    )
    return ConsoleConfig(
        warehouse_url=s.warehouse_url,
        landing_dir=s.landing_dir,
        reports_dir=s.reports_dir,
        timezone=s.timezone,
        max_upload_bytes=min(s.limits.max_file_bytes, 50 * 1024 * 1024),
        secure_cookies=getattr(args, "secure_cookies", False),
    )


def _serve(args) -> int:
    import uvicorn

    from crosscheck.console import create_app
    from warehouse.db import WarehouseError

    config = _config(args)
    if not config.landing_dir.is_dir():
        raise SettingsError(f"landing folder not found: {config.landing_dir}")
    try:
        app = create_app(config)
    except WarehouseError as exc:
        raise SettingsError(str(exc)) from None
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _console(args) -> int:
    from crosscheck.console.auth import ConsoleError, add_user
    from crosscheck.console.config import utc_now
    from crosscheck.steps import open_warehouse
    from warehouse.db import WarehouseError

    config = _config(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
    try:
        engine = open_warehouse(config.warehouse_url)
        try:
            user = add_user(
                engine,
                args.username,
                password,
                args.role,
                display_name=args.name,
                county=args.county,
                department=args.department,
                now=utc_now(),
            )
        finally:
            engine.dispose()
    except (ConsoleError, WarehouseError) as exc:
        raise SettingsError(getattr(exc, "message", str(exc))) from None
    print(
        f"console user {user.username}: {ROLES[user.role]} {user.county or user.department or ''}"
    )
    return 0


COMMANDS = {"serve": _serve, "console": _console}
