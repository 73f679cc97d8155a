"""Settings: one place, read from the environment (secrets never live in code or files).

- ``CROSSCHECK_WAREHOUSE_URL``: SQLAlchemy URL of the warehouse (default: embedded SQLite).
- ``CROSSCHECK_LANDING_DIR``: the landing zone (default ``var/landing``).
- ``CROSSCHECK_REPORTS_DIR``: exports and feedback (default ``var/reports``).
- ``CROSSCHECK_PII_KEY``: the secret that keys pseudonymous person ids. The demo city has
  a documented development key (``DEV_PII_KEY``); it is refused outside demo mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEMO_MARKER", "DEV_PII_KEY", "Settings", "SettingsError", "load_settings"]

DEFAULT_WAREHOUSE_URL = "sqlite:///var/warehouse.db"
# Public on purpose: it only ever keys the synthetic demo city.
DEV_PII_KEY = "crosscheck-demo-development-key-not-a-secret"
# The demo generator drops this file into the landing zone it creates.
DEMO_MARKER = ".crosscheck-demo"


class SettingsError(Exception):
    """A setting is missing or unsafe; the message says which and what to do."""


@dataclass(frozen=True)
class Settings:
    warehouse_url: str
    landing_dir: Path
    reports_dir: Path
    pii_key: bytes
    demo: bool


def load_settings(
    *,
    warehouse_url: str | None = None,
    landing_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
) -> Settings:
    """Explicit arguments win over the environment, which wins over the defaults."""
    env = os.environ
    landing = Path(landing_dir or env.get("CROSSCHECK_LANDING_DIR", "var/landing"))
    demo = (landing / DEMO_MARKER).exists()
    key = env.get("CROSSCHECK_PII_KEY")
    if not key:
        if not demo:
            raise SettingsError(
                "CROSSCHECK_PII_KEY is not set: export a secret key (the development key is "
                "only accepted for the demo city)"
            )
        key = DEV_PII_KEY
    elif key == DEV_PII_KEY and not demo:
        raise SettingsError(
            "CROSSCHECK_PII_KEY is the public development key: refused outside the demo city"
        )
    return Settings(
        warehouse_url=warehouse_url or env.get("CROSSCHECK_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL),
        landing_dir=landing,
        reports_dir=Path(reports_dir or env.get("CROSSCHECK_REPORTS_DIR", "var/reports")),
        pii_key=key.encode("utf-8"),
        demo=demo,
    )
