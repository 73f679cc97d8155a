"""The append-only audit log: every view of a household, every decision, every refusal."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, insert

from crosscheck.console.config import ConsoleConfig
from privacy import redact_ids
from warehouse.console_models import ConsoleAudit

__all__ = ["record"]

log = logging.getLogger("crosscheck.console")


def record(
    engine: Engine,
    config: ConsoleConfig,
    action: str,
    *,
    user=None,
    username: str | None = None,
    outcome: str = "ok",
    household_no: str | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one event (and log refusals); texts are redacted of ID numbers."""
    name = getattr(user, "username", None) or username
    detail = redact_ids(detail)[:2000] if detail else None
    with engine.begin() as conn:
        conn.execute(
            insert(ConsoleAudit).values(
                at=config.clock(),
                username=name,
                role=getattr(user, "role", None),
                action=action,
                outcome=outcome,
                household_no=household_no,
                target=redact_ids(target) if target else None,
                detail=detail,
            )
        )
    if outcome != "ok":
        log.warning(
            "refused %s by %s%s: %s",
            action,
            name or "-",
            f" household {household_no}" if household_no else "",
            detail or "",
        )
