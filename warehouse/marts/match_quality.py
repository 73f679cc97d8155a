"""``mart_match_quality`` -- grain: one row per source spec: its records by how they were
linked (exactly by ID, by name and place, probabilistically, in review, unlinked).

Rebuilt per run from ``record_link``.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from connectors.spec import load_specs
from warehouse.db import read_frame
from warehouse.models import RecordLink

__all__ = ["match_quality"]


def match_quality(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        links = read_frame(
            conn,
            select(RecordLink.source_id, RecordLink.method, func.count().label("n")).group_by(
                RecordLink.source_id, RecordLink.method
            ),
        )
    counts = (
        links.pivot_table(
            index="source_id", columns="method", values="n", aggfunc="sum", fill_value=0
        )
        if len(links)
        else pd.DataFrame()
    )
    out = pd.DataFrame({"source_id": list(load_specs())}).set_index("source_id")
    methods = {
        "linked_exact": ["exact_id"],
        "linked_name_place": ["exact_name_place"],
        "linked_probabilistic": ["probabilistic", "review_confirmed"],
        "in_review": ["review"],
        "unlinked": ["unlinked"],
    }
    for column, names in methods.items():
        present = [m for m in names if m in counts]
        out[column] = (
            counts[present].sum(axis=1).reindex(out.index).fillna(0).astype("int64")
            if present
            else 0
        )
    out["records"] = out.sum(axis=1)
    return out.reset_index()
