"""Settings: one place, read from the environment (secrets never live in code or files).

- ``CROSSCHECK_WAREHOUSE_URL``: SQLAlchemy URL of the warehouse (default: embedded SQLite).
- ``CROSSCHECK_LANDING_DIR``: the landing zone (default ``var/landing``).
- ``CROSSCHECK_REPORTS_DIR``: exports and feedback (default ``var/reports``).
- ``CROSSCHECK_PII_KEY``: the secret that keys pseudonymous person ids. The demo city has
  a documented development key (``DEV_PII_KEY``); it is refused outside demo mode.
- ``CROSSCHECK_RULES``: a rule-set YAML to apply instead of the shipped default.
- ``CROSSCHECK_TIMEZONE``: the city's time zone, which dates scheduled runs
  (default ``Asia/Shanghai``).

Explicit arguments win over the environment, which wins over the defaults. Any other
``CROSSCHECK_*`` variable is refused, so a typo (``CROSSCHECK_WAREHOUSE_ULR``) stops the
run instead of being ignored; ``CROSSCHECK_TEST_*`` belong to the test suite.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_TIMEZONE",
    "DEFAULT_WAREHOUSE_URL",
    "DEMO_MARKER",
    "DEV_PII_KEY",
    "ENV_PREFIX",
    "Environment",
    "Settings",
    "SettingsError",
    "load_settings",
]

ENV_PREFIX = "CROSSCHECK_"
# Reserved for the test suite (CROSSCHECK_TEST_PG_URL): never read by the product.
TEST_PREFIX = "CROSSCHECK_TEST_"
DEFAULT_WAREHOUSE_URL = "sqlite:///var/warehouse.db"
DEFAULT_TIMEZONE = "Asia/Shanghai"
# Public on purpose: it only ever keys the synthetic demo city.
DEV_PII_KEY = "crosscheck-demo-development-key-not-a-secret"
# The demo generator drops this file into the landing zone it creates.
DEMO_MARKER = ".crosscheck-demo"


class SettingsError(Exception):
    """A setting is missing or unsafe; the message says which and what to do."""


def _not_blank(what: str, v: Any, hint: str = "") -> Any:
    """Set but empty is a mistake (an unset template variable), not "use the default"."""
    if isinstance(v, str) and not v.strip():
        raise ValueError(f"{what} is empty{hint}")
    return v


class Environment(BaseSettings):
    """The ``CROSSCHECK_*`` variables, typed; ``load_settings`` turns them into ``Settings``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    warehouse_url: str = DEFAULT_WAREHOUSE_URL
    landing_dir: Path = Path("var/landing")
    reports_dir: Path = Path("var/reports")
    pii_key: SecretStr | None = None
    rules: Path | None = None
    timezone: str = DEFAULT_TIMEZONE
    # What one landed file may cost at most (connectors.limits); positive numbers only.
    max_file_bytes: PositiveInt = DEFAULT_LIMITS.max_file_bytes
    max_rows: PositiveInt = DEFAULT_LIMITS.max_rows
    max_field_chars: PositiveInt = DEFAULT_LIMITS.max_field_chars
    max_columns: PositiveInt = DEFAULT_LIMITS.max_columns
    xlsx_max_part_bytes: PositiveInt = DEFAULT_LIMITS.max_part_bytes
    xlsx_max_ratio: PositiveFloat = DEFAULT_LIMITS.max_part_ratio
    # A file is claimed once its size and mtime held this long (a copy still running).
    landing_settle_seconds: NonNegativeFloat = 2.0
    # How often the Airflow DAG's sensor looks at the landing zone for a new wave.
    poll_seconds: PositiveFloat = 60.0

    @field_validator("warehouse_url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> Any:
        return _not_blank(
            "warehouse URL", v, f": give a SQLAlchemy URL, or none for {DEFAULT_WAREHOUSE_URL}"
        )

    @field_validator("landing_dir", "reports_dir", "rules", mode="before")
    @classmethod
    def _path(cls, v: Any, info) -> Any:
        what = {"landing_dir": "landing folder", "reports_dir": "reports folder"}
        return _not_blank(what.get(info.field_name, "rule file"), v)

    @field_validator("pii_key", mode="before")
    @classmethod
    def _blank_key(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v else v  # set but empty: not set

    @field_validator("rules")
    @classmethod
    def _rules_exist(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"rule file not found: {v}")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r}: an IANA name such as Asia/Shanghai"
            ) from None
        return v

    @classmethod
    def variables(cls) -> list[str]:
        """The environment variable of every setting."""
        return [f"{ENV_PREFIX}{name.upper()}" for name in cls.model_fields]


@dataclass(frozen=True)
class Settings:
    warehouse_url: str
    landing_dir: Path
    reports_dir: Path
    pii_key: bytes | None = field(repr=False)  # None only from load_settings(require_pii_key=False)
    demo: bool
    rules_file: Path | None = None  # None: the shipped default rule set
    timezone: str = DEFAULT_TIMEZONE
    limits: Limits = DEFAULT_LIMITS
    settle_seconds: float = 2.0


def _check_variables() -> None:
    """Refuse a ``CROSSCHECK_*`` variable that is no setting (a typo would go unnoticed)."""
    known = Environment.variables()
    unknown = sorted(
        name
        for name in os.environ
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and not name.upper().startswith(TEST_PREFIX)
    )
    if unknown:
        close = difflib.get_close_matches(unknown[0].upper(), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SettingsError(
            f"unknown environment variable {', '.join(unknown)}{hint}; known: {', '.join(known)}"
        )


def load_settings(
    *,
    warehouse_url: str | None = None,
    landing_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    rules_file: str | Path | None = None,
    require_pii_key: bool = True,
) -> Settings:
    """Explicit arguments win over the environment, which wins over the defaults.

    ``require_pii_key=False`` is for commands that never key a person (``crosscheck db``):
    the key is then not checked and ``pii_key`` is None.
    """
    _check_variables()
    given = {
        "warehouse_url": warehouse_url,
        "landing_dir": landing_dir,
        "reports_dir": reports_dir,
        "rules": rules_file,
    }
    given = {k: v for k, v in given.items() if v is not None}
    try:
        env = Environment(**given)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, given)) from None
    landing = env.landing_dir
    demo = (landing / DEMO_MARKER).exists()
    key: bytes | None = None
    if require_pii_key:
        secret = env.pii_key.get_secret_value() if env.pii_key is not None else None
        if not secret:
            if not demo:
                raise SettingsError(
                    "CROSSCHECK_PII_KEY is not set: export a secret key (the development key is "
                    "only accepted for the demo city)"
                )
            secret = DEV_PII_KEY
        elif secret == DEV_PII_KEY and not demo:
            raise SettingsError(
                "CROSSCHECK_PII_KEY is the public development key: refused outside the demo city"
            )
        key = secret.encode("utf-8")
    return Settings(
        warehouse_url=env.warehouse_url,
        landing_dir=landing,
        reports_dir=env.reports_dir,
        pii_key=key,
        demo=demo,
        rules_file=env.rules,
        timezone=env.timezone,
        limits=Limits(
            max_file_bytes=env.max_file_bytes,
            max_rows=env.max_rows,
            max_field_chars=env.max_field_chars,
            max_columns=env.max_columns,
            max_part_bytes=env.xlsx_max_part_bytes,
            max_part_ratio=env.xlsx_max_ratio,
        ),
        settle_seconds=env.landing_settle_seconds,
    )


def _describe(exc: ValidationError, given: dict[str, Any]) -> str:
    """One line per bad setting, naming where it came from (argument or variable)."""
    arguments = {"rules": "rules_file"}
    lines = []
    for err in exc.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else ""
        origin = (
            f"the {arguments.get(name, name)} argument"
            if name in given
            else f"{ENV_PREFIX}{name.upper()}"
        )
        problem, _, hint = err["msg"].removeprefix("Value error, ").partition(": ")
        lines.append(f"{problem} ({origin})" + (f": {hint}" if hint else ""))
    return "\n".join(lines)
