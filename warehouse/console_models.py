"""The web console's own tables: users, sessions and the append-only audit log.

``crosscheck.console`` writes them; the pipeline never reads them. Passwords are stored as
Argon2 hashes only; a session is stored by the SHA-256 of its cookie token, so a copy of
the table opens no session. ``console_audit`` is append-only: a trigger (migration
``0008_console``) refuses UPDATE and DELETE on both backends.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models import Base

__all__ = ["ConsoleAudit", "ConsoleSession", "ConsoleUser"]


class ConsoleUser(Base):
    """One person who signs in to the console, with one role.

    ``role``: county_officer (``county``; on PostgreSQL also ``pg_role``, the officer login
    whose row-level security scopes the list) | reviewer | department (``department``, as
    the source specs name it) | admin.
    """

    __tablename__ = "console_user"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    county: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(Text)
    pg_role: Mapped[str | None] = mapped_column(String(63))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ConsoleSession(Base):
    """One signed-in browser: the token's hash, its CSRF token and when it expires."""

    __tablename__ = "console_session"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ConsoleAudit(Base):
    """One console event: who viewed which household, who decided or uploaded what, and
    every refused attempt (wrong password, forged form, another county's household)."""

    __tablename__ = "console_audit"
    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | refused
    household_no: Mapped[str | None] = mapped_column(Text, index=True)
    target: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
