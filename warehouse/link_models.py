"""Trained models per source in ``match_model``: train once, reuse while they still fit.

A stored model is reused when it was trained with the same settings (``settings_hash``:
the settings as data plus the training code's version) and on a register of about the same
size (within ``REGISTER_CHANGE``); otherwise the source is trained afresh and stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import Engine, delete, insert, select

from matching.model import FellegiSunter
from matching.settings import LinkSettings
from warehouse.models import MatchModel

__all__ = ["REGISTER_CHANGE", "TRAINING_VERSION", "load_model", "save_model", "settings_hash"]

# Bump when training changes what it would learn from the same data and settings.
TRAINING_VERSION = "3"
# A register grown or shrunk by more than this share has other term and value frequencies.
REGISTER_CHANGE = 0.2


def settings_hash(settings: LinkSettings) -> str:
    """SHA-256 of the settings as canonical JSON and the training version."""
    text = json.dumps(
        {"settings": settings.to_dict(), "training_version": TRAINING_VERSION},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_model(
    engine: Engine, source_id: str, settings: LinkSettings, register_persons: int
) -> FellegiSunter | None:
    """The stored model of a source, or None when there is none or it no longer fits."""
    with engine.connect() as conn:
        row = conn.execute(select(MatchModel).where(MatchModel.source_id == source_id)).first()
    if row is None or row.settings_hash != settings_hash(settings):
        return None
    if abs(register_persons - row.register_persons) > REGISTER_CHANGE * max(
        row.register_persons, 1
    ):
        return None
    try:
        return FellegiSunter.from_params(settings.comparisons, json.loads(row.parameters))
    except (ValueError, KeyError, TypeError):  # written by another version: train again
        return None


def save_model(
    engine: Engine,
    source_id: str,
    settings: LinkSettings,
    model: FellegiSunter,
    *,
    training_records: int,
    register_persons: int,
) -> None:
    """Store (replace) the model of a source."""
    values = {
        "source_id": source_id,
        "settings_hash": settings_hash(settings),
        # When it was trained (bookkeeping only; no logic depends on the clock).
        "trained_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "training_records": training_records,
        "register_persons": register_persons,
        "parameters": json.dumps(model.to_params()),
    }
    with engine.begin() as conn:
        conn.execute(delete(MatchModel).where(MatchModel.source_id == source_id))
        conn.execute(insert(MatchModel).values(**values))
