"""The console's settings and its clock (wall time for sessions and forms, never for logic)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = ["ROLES", "ConsoleConfig", "utc_now"]

ROLES = {
    "county_officer": "县级经办人",
    "reviewer": "匹配复核员",
    "department": "部门报送员",
    "admin": "管理员",
}


def utc_now() -> dt.datetime:
    """Naive UTC, as the warehouse stores audit times."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ConsoleConfig:
    warehouse_url: str
    landing_dir: Path
    reports_dir: Path
    timezone: str = "Asia/Shanghai"
    idle_minutes: int = 30  # a session unused this long expires
    max_hours: int = 8  # and every session after this long
    login_max_failures: int = 5  # this many wrong passwords for one user name in a row
    login_failure_minutes: int = 15  # (within this long)
    login_lock_minutes: int = 15  # lock that user name's sign-in for this long
    max_upload_bytes: int = 50 * 1024 * 1024
    secure_cookies: bool = False  # True behind HTTPS
    clock: Callable[[], dt.datetime] = utc_now

    def local(self, at: dt.datetime) -> dt.datetime:
        """A naive UTC time of the warehouse in the city's time zone (for messages)."""
        return at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.timezone))

    def today(self) -> dt.date:
        """Today in the city's time zone (to refuse decisions dated in the future)."""
        return self.clock().replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.timezone)).date()
