"""Sign-in throttling, kept in the append-only audit log (no table of its own).

Every wrong password is already an audit row (``login``, refused, 用户名或密码错误). When
``login_max_failures`` of them for one user name fall within ``login_failure_minutes``
(counting only those after the user's last successful sign-in, the last lock, and the
last unlock or reactivation by an administrator), a ``login_lock`` row is appended and
that user name cannot sign in for ``login_lock_minutes``, even with the right password.
Attempts during the lock are refused without checking the password and are logged, but
do not extend the lock. Unknown user names are locked the same way, so the answer never
tells whether a name exists.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, and_, func, or_, select

from crosscheck.console import audit
from crosscheck.console.config import ConsoleConfig
from warehouse.console_models import ConsoleAudit

__all__ = ["LOCK", "RESETS", "WRONG_PASSWORD", "lock_until", "locked_users", "record_failure"]

WRONG_PASSWORD = "用户名或密码错误"
LOCK = "login_lock"
RESETS = ("user_unlock", "user_reactivate")  # administrator actions, target = user name


def _reset_id(conn, username: str) -> int:
    """The audit id after which failures count: last success, lock or administrator reset."""
    a = ConsoleAudit
    return (
        conn.execute(
            select(func.max(a.audit_id)).where(
                or_(
                    and_(a.action == "login", a.outcome == "ok", a.username == username),
                    and_(a.action == LOCK, a.username == username),
                    and_(a.action.in_(RESETS), a.outcome == "ok", a.target == username),
                )
            )
        ).scalar()
        or 0
    )


def lock_until(engine: Engine, config: ConsoleConfig, username: str) -> dt.datetime | None:
    """When the user name's current sign-in lock ends (None: not locked)."""
    if not username:
        return None
    a = ConsoleAudit
    now = config.clock()
    with engine.connect() as conn:
        lock = conn.execute(
            select(a.audit_id, a.at)
            .where(a.action == LOCK, a.username == username)
            .order_by(a.audit_id.desc())
            .limit(1)
        ).first()
        if lock is None:
            return None
        reset = conn.execute(
            select(func.max(a.audit_id)).where(
                a.action.in_(RESETS), a.outcome == "ok", a.target == username
            )
        ).scalar()
    if reset is not None and reset > lock.audit_id:
        return None
    until = lock.at + dt.timedelta(minutes=config.login_lock_minutes)
    return until if now < until else None


def record_failure(engine: Engine, config: ConsoleConfig, username: str) -> dt.datetime | None:
    """After a wrong password (already audited): lock the user name if it was one too many.

    Returns when the new lock ends, or None."""
    if not username:
        return None
    a = ConsoleAudit
    now = config.clock()
    since = now - dt.timedelta(minutes=config.login_failure_minutes)
    with engine.connect() as conn:
        failures = conn.execute(
            select(func.count()).where(
                a.action == "login",
                a.outcome == "refused",
                a.detail == WRONG_PASSWORD,
                a.username == username,
                a.audit_id > _reset_id(conn, username),
                a.at > since,
            )
        ).scalar()
    if failures < config.login_max_failures:
        return None
    audit.record(
        engine,
        config,
        LOCK,
        username=username,
        outcome="refused",
        target=username,
        detail=f"连续 {failures} 次密码错误，登录锁定 {config.login_lock_minutes} 分钟",
    )
    return now + dt.timedelta(minutes=config.login_lock_minutes)


def locked_users(engine: Engine, config: ConsoleConfig, usernames: list[str]) -> dict:
    """User name -> when its lock ends, for those locked now (the user list)."""
    found = {}
    for username in usernames:
        until = lock_until(engine, config, username)
        if until is not None:
            found[username] = until
    return found
