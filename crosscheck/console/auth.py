"""Users, passwords (Argon2), sessions that expire, and CSRF tokens.

A session cookie holds a random token; the warehouse keeps only its SHA-256, with the
session's CSRF token and its expiry (idle and absolute). Every form carries the CSRF
token; the sign-in form, before any session exists, a double-submit cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from connectors.spec import load_specs
from crosscheck.console.config import ROLES, ConsoleConfig
from warehouse import access
from warehouse.console_models import ConsoleSession, ConsoleUser

__all__ = [
    "ConsoleError",
    "NoSession",
    "Session",
    "SignInRefused",
    "User",
    "add_user",
    "check_csrf",
    "end_session",
    "open_session",
    "set_active",
    "sign_in",
]

_HASHER = PasswordHasher()
_USERNAME = re.compile(r"^[a-z][a-z0-9_]{2,31}$")  # also usable in a PostgreSQL role name
# Verified when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not-a-password")


class ConsoleError(Exception):
    """A refused request; ``message`` is the Chinese text shown to the person."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class User:
    """A signed-in person, as the pages need them."""

    username: str
    display_name: str
    role: str
    county: str | None
    department: str | None
    pg_role: str | None

    @property
    def role_label(self) -> str:
        return ROLES[self.role]


_USER_COLUMNS = [
    ConsoleUser.username,
    ConsoleUser.display_name,
    ConsoleUser.role,
    ConsoleUser.county,
    ConsoleUser.department,
    ConsoleUser.pg_role,
]


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


@dataclass(frozen=True)
class NoSession:
    """Why a request has no session: 'none' (no or unknown token) or 'expired' (whose)."""

    reason: str
    username: str | None = None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    county: str | None = None,
    department: str | None = None,
    now: dt.datetime,
) -> User:
    """Create or update a user. On PostgreSQL a county officer also gets a database login
    (``officer_<username>``) registered for the county, whose row-level security scopes
    what the console shows them (``warehouse.access``; run ``crosscheck db grant`` first)."""
    if not _USERNAME.match(username):
        raise ConsoleError("用户名须为 3-32 位小写字母、数字或下划线，以字母开头")
    if role not in ROLES:
        raise ConsoleError(f"未知角色 {role}：可选 {', '.join(ROLES)}")
    if len(password) < 10:
        raise ConsoleError("密码至少 10 位")
    if role == "county_officer" and not county:
        raise ConsoleError("县级经办人须指定所属县（区）")
    departments = {s.department for s in load_specs().values()}
    if role == "department" and department not in departments:
        raise ConsoleError(f"部门须为数据源登记的部门之一：{'、'.join(sorted(departments))}")
    pg_role = None
    if role == "county_officer" and engine.dialect.name == "postgresql":
        pg_role = f"officer_{username}"
        try:
            access.add_county_officer(engine, pg_role, county)
        except (access.AccessControlError, DBAPIError) as exc:
            # No grants yet (officer_county missing): run `crosscheck db grant` first.
            first = str(exc).splitlines()[0][:200]
            raise ConsoleError(
                f"无法建立数据库行级权限（请先运行 crosscheck db grant）：{first}"
            ) from None
    values = dict(
        display_name=display_name or username,
        role=role,
        county=county if role == "county_officer" else None,
        department=department if role == "department" else None,
        pg_role=pg_role,
        password_hash=_HASHER.hash(password),
        active=True,
    )
    with engine.begin() as conn:
        exists = conn.execute(
            select(ConsoleUser.username).where(ConsoleUser.username == username)
        ).first()
        if exists:
            conn.execute(update(ConsoleUser).where(ConsoleUser.username == username).values(values))
            # A changed password or role ends the user's open sessions.
            conn.execute(delete(ConsoleSession).where(ConsoleSession.username == username))
        else:
            conn.execute(insert(ConsoleUser).values(username=username, created_at=now, **values))
        row = conn.execute(select(*_USER_COLUMNS).where(ConsoleUser.username == username)).one()
    return User(*row)


class SignInRefused(ConsoleError):
    """Sign-in refused: ``detail`` is what the audit log records."""

    def __init__(self, message: str, status: int, detail: str):
        super().__init__(message, status)
        self.detail = detail


def sign_in(engine: Engine, config: ConsoleConfig, username: str, password: str) -> str:
    """A new session token for right credentials of an active user.

    Raises ``SignInRefused``: 401 for a wrong name or password (never says which), 403 for
    the right password of a deactivated user."""
    with engine.connect() as conn:
        user = conn.execute(
            select(ConsoleUser.username, ConsoleUser.password_hash, ConsoleUser.active).where(
                ConsoleUser.username == username
            )
        ).first()
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise SignInRefused("用户名或密码错误", 401, "用户名或密码错误")
    if not user.active:
        raise SignInRefused("该账号已停用，请联系管理员", 403, "账号已停用")
    now = config.clock()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        conn.execute(
            insert(ConsoleSession).values(
                token_sha256=_token_hash(token),
                username=user.username,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + dt.timedelta(hours=config.max_hours),
            )
        )
    return token


def open_session(engine: Engine, config: ConsoleConfig, token: str | None) -> Session | NoSession:
    """The session of a cookie token, or why there is none."""
    if not token:
        return NoSession("none")
    now = config.clock()
    key = _token_hash(token)
    with engine.begin() as conn:
        session = conn.execute(
            select(
                ConsoleSession.csrf_token,
                ConsoleSession.last_seen_at,
                ConsoleSession.expires_at,
                ConsoleUser.active,
                *_USER_COLUMNS,
            )
            .join(ConsoleUser, ConsoleUser.username == ConsoleSession.username)
            .where(ConsoleSession.token_sha256 == key)
        ).first()
        if session is None:
            return NoSession("none")
        idle_limit = session.last_seen_at + dt.timedelta(minutes=config.idle_minutes)
        if now >= session.expires_at or now >= idle_limit or not session.active:
            conn.execute(delete(ConsoleSession).where(ConsoleSession.token_sha256 == key))
            return NoSession("expired", session.username)
        conn.execute(
            update(ConsoleSession)
            .where(ConsoleSession.token_sha256 == key)
            .values(last_seen_at=now)
        )
    return Session(User(*session[4:]), session.csrf_token)


def set_active(engine: Engine, username: str, active: bool) -> bool:
    """Deactivate (ending the user's sessions at once) or reactivate a user; False if the
    user does not exist. The user row stays: the audit log refers to it."""
    with engine.begin() as conn:
        changed = conn.execute(
            update(ConsoleUser).where(ConsoleUser.username == username).values(active=active)
        ).rowcount
        if changed and not active:
            conn.execute(delete(ConsoleSession).where(ConsoleSession.username == username))
    return bool(changed)


def end_session(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(
                delete(ConsoleSession).where(ConsoleSession.token_sha256 == _token_hash(token))
            )


def check_csrf(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the form's token with the session's."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)
