"""``crosscheck link``: the probabilistic engine on arbitrary CSV files.

Output columns ``left_id,right_id,match_probability``; when deduplicating one file both
ids come from it. Every column is read as text (IDs keep their leading zeros).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from matching.probabilistic import link_frames
from matching.settings import LinkSettings

__all__ = ["link_files", "read_csv_text", "run_link"]

log = logging.getLogger(__name__)


def read_csv_text(path: Path) -> pd.DataFrame:
    """A CSV with every column as text and blanks as missing (utf-8, BOM tolerated)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def run_link(settings: Path, left: Path, right: Path | None, id_column: str, out: Path) -> int:
    """Link ``left`` to ``right`` (or dedupe ``left``) and write the pairs; returns 0, or 2
    with one readable line on stderr for a missing file or id column."""
    import sys

    try:
        link_files(settings, left, right, id_column, out)
    except (OSError, ValueError) as exc:
        print(f"crosscheck link: {exc}", file=sys.stderr)
        return 2
    return 0


def link_files(settings: Path, left: Path, right: Path | None, id_column: str, out: Path) -> dict:
    """``run_link`` without the error handling: the statistics, with the seconds of every
    stage (read, derive keys, train, block, score, assign, write)."""
    t0 = time.perf_counter()
    cfg = LinkSettings.from_yaml(Path(settings))
    a = read_csv_text(left)
    b = read_csv_text(right) if right is not None else None
    for name, frame in (("left", a), ("right", b)):
        if frame is not None and id_column not in frame.columns:
            raise ValueError(f"{name} file has no column {id_column!r}")
    if b is None and cfg.link_type != "dedupe_only":
        cfg = LinkSettings.from_dict(cfg.to_dict() | {"link_type": "dedupe_only"})
    read_s = time.perf_counter() - t0
    result = link_frames(a, b, cfg)
    t0 = time.perf_counter()
    pairs = result.pairs
    other = a if b is None else b
    frame = pd.DataFrame(
        {
            "left_id": a[id_column].to_numpy()[pairs["left_row"].to_numpy()],
            "right_id": other[id_column].to_numpy()[pairs["right_row"].to_numpy()],
            "match_probability": pairs["match_probability"].round(6).to_numpy(),
        }
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    stats = {"read_s": round(read_s, 3)} | result.stats
    stats["write_s"] = round(time.perf_counter() - t0, 3)
    log.info("crosscheck link: %d pairs -> %s (%s)", len(frame), out, stats)
    return stats
