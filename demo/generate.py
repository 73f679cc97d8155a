"""generate_demo: build the city, plant hardship, write the landing zone and the truth."""

from __future__ import annotations

import itertools
import shutil
import zlib
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .cases import OUTCOMES, plan_cases
from .city import build_city
from .facts import LINE_CUR, build_registry
from .geo import build_geography
from .oracle import check_plan, evaluate_rules
from .periods import Periods
from .plan import choose_plan
from .quirks import META
from .render import Ctx, OutFile
from .sources import SOURCES
from .story import build_facts
from .writers import write_csv, write_jsonl, write_sqlite, write_xlsx

__all__ = ["generate_demo"]

_SQLITE_TYPES = {"bzrs": "INTEGER", "ybzje": "REAL"}
_RECORD_COLS = [
    "source_id",
    "file",
    "row_number",
    "true_id_number",
    "true_household_no",
    "corruptions",
    "expected_reject",
    "reject_problem",
]


def generate_demo(
    out: Path,
    households: int = 3000,
    seed: int = 20261130,
    as_of: date = date(2026, 11, 30),
    truth_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write the demo landing zone into `out` (one folder per source_id) and ground truth into
    truth_dir (default: out.parent / "truth"; never inside `out`). Returns a summary dict:
    {"households": n, "persons": n, "files": [{"source_id", "file", "rows"}...]}.

    The same (households, seed, as_of) always gives byte-identical files.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    out = Path(out)
    truth = Path(truth_dir) if truth_dir is not None else out.parent / "truth"
    if truth.resolve().is_relative_to(out.resolve()):
        raise ValueError(f"truth_dir {truth} must not be inside the landing zone {out}")
    out.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)

    def rng(name: str) -> np.random.Generator:
        # One independent stream per topic: changing one source never shifts another.
        key = (zlib.crc32(name.encode("utf-8")),)
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))

    periods = Periods(as_of)
    geo = build_geography(households, rng("geography"))
    city = build_city(geo, households, periods.day, rng("city"))
    registry = build_registry(city, rng("registry"))
    plan = choose_plan(city, registry["registered"].to_numpy(), rng("plan"))
    facts = build_facts(city, plan, registry, periods, rng)
    hits = evaluate_rules(city, facts)
    check_plan(plan, hits, households)

    near_hh = np.concatenate([m["hh"].to_numpy() for m in facts.near_misses] or [[]])
    decisions, stories = plan_cases(
        city,
        registry,
        facts.income["pc_cur"].to_numpy() / 100,
        hits,
        near_hh.astype(np.int64),
        periods,
        LINE_CUR,
        rng("county_decisions_plan"),
    )
    ctx = Ctx(
        city, facts, periods, rng, planted_hh=plan.planted_mask(households), decisions=decisions
    )
    when = datetime(as_of.year, as_of.month, as_of.day)
    records = truth / "records.csv"
    write_csv(records, _RECORD_COLS, [], "utf-8")
    written: list[dict] = []
    events: list[dict] = []
    for source_id, build in SOURCES:
        folder = out / source_id
        folder.mkdir(exist_ok=True)
        rows = 0
        for f in build(ctx):  # one file in memory at a time
            n = _write(folder / f.name, f, when)
            _append_records(records, f, f.name, ctx)
            written.append(_file_meta(f, f.name, n))
            rows += n
            if n == 0:
                events.append(
                    {
                        "event": "empty_file",
                        "source_id": source_id,
                        "file": f.name,
                        "period": f.period,
                        "detail": "header only, no data rows",
                    }
                )
            if f.redrop_as:
                shutil.copyfile(folder / f.name, folder / f.redrop_as)
                _append_records(records, f, f.redrop_as, ctx)
                written.append(_file_meta(f, f.redrop_as, n))
                rows += n
                events.append(
                    {
                        "event": "duplicate",
                        "source_id": source_id,
                        "file": f.redrop_as,
                        "period": f.period,
                        "detail": f"same bytes as {f.name}",
                    }
                )
        if progress is not None:
            count = sum(1 for w in written if w["source_id"] == source_id)
            progress(f"{source_id}: {count} file(s), {rows} rows")
    y, q = periods.quarter
    events.append(
        {
            "event": "missing_period",
            "source_id": "shuili_water",
            "file": "",
            "period": f"{y}Q{q}",
            "detail": "latest quarterly survey never delivered (overdue)",
        }
    )
    _write_truth(truth, city, registry, plan, facts, hits, written, events)
    _write_case_truth(truth, city, stories)
    return {
        "households": households,
        "persons": len(city.persons),
        "files": [
            {"source_id": w["source_id"], "file": w["file"], "rows": w["rows"]} for w in written
        ],
        "truth_dir": str(truth),
    }


def _data_columns(f: OutFile) -> list[np.ndarray]:
    cols = [f.frame[c].to_numpy(dtype=object) for c in f.frame.columns if c not in META]
    if len(f.header) == len(cols) + 1:  # the trailing empty column
        cols.append(np.full(len(f.frame), "", dtype=object))
    return cols


def _write(path: Path, f: OutFile, when: datetime) -> int:
    cols = _data_columns(f)
    if f.fmt == "csv":
        write_csv(path, f.header, cols, f.encoding, f.newline)
    elif f.fmt == "xlsx":
        write_xlsx(path, f.header, cols, when)
    elif f.fmt == "jsonl":
        write_jsonl(path, f.header, cols)
    elif f.fmt == "sqlite":
        types = [(c, _SQLITE_TYPES.get(c, "TEXT")) for c in f.header]
        write_sqlite(path, "v_jiuzhu", types, list(zip(*cols, strict=True)))
    else:
        raise ValueError(f"unknown format {f.fmt}")
    return len(f.frame)


def _file_meta(f: OutFile, name: str, rows: int) -> dict:
    return {
        "source_id": f.source_id,
        "file": name,
        "format": f.fmt,
        "encoding": f.encoding or ("utf-8" if f.fmt == "jsonl" else ""),
        "rows": rows,
        "period": f.period,
        "header_quirks": ";".join(f.header_quirks),
    }


def _append_records(path: Path, f: OutFile, name: str, ctx: Ctx) -> None:
    m = f.frame
    pidx = m["__pidx"].to_numpy()
    hh = m["__hh"].to_numpy()
    reject = m["__reject"].to_numpy(dtype=object)
    n = len(m)
    cols = [
        itertools.repeat(f.source_id, n),
        itertools.repeat(name, n),
        range(1, n + 1),
        np.where(pidx >= 0, ctx.ids[np.maximum(pidx, 0)], ""),
        np.where(hh >= 0, ctx.hh_no[np.maximum(hh, 0)], ""),
        m["__corr"].to_numpy(dtype=object),
        np.where(reject != "", "1", "0"),
        reject,
    ]
    write_csv(path, (), cols, "utf-8", mode="a")


def _write_case_truth(truth: Path, city, stories: pd.DataFrame) -> None:
    """truth/cases.csv: the case each story must end in (see demo/cases.py)."""
    outcome = pd.DataFrame.from_dict(
        OUTCOMES,
        orient="index",
        columns=["status", "case_no", "on_list", "elimination_check", "conflict"],
    )
    out = stories.join(outcome, on="story")
    out.insert(0, "household_no", city.hh["hh_no"].to_numpy()[out["hh"].to_numpy()])
    out.drop(columns="hh").to_csv(truth / "cases.csv", index=False)


def _write_truth(truth: Path, city, registry, plan, facts, hits, written, events) -> None:
    p = city.persons
    hh = city.hh
    hh_of = p["hh"].to_numpy()
    pd.DataFrame(
        {
            "id_number": p["id"],
            "household_no": hh["hh_no"].to_numpy()[hh_of],
            "name": p["name"],
            "sex": np.where(p["male"], "男", "女"),
            "birth_date": p["birth"].dt.strftime("%Y-%m-%d"),
            "relation": p["relation"],
            "county_code": p["county_code"],
            "township": hh["township"].to_numpy()[hh_of],
            "village": hh["village"].to_numpy()[hh_of],
            "status": p["status"],
            "ethnicity": p["ethnic"],
            "cancel_date": pd.Series(p["cancel_date"]).dt.strftime("%Y-%m-%d").fillna(""),
            "cancel_reason": p["cancel_reason"],
        }
    ).to_csv(truth / "persons.csv", index=False)

    living = np.bincount(hh_of[p["status"].to_numpy() == "正常"], minlength=len(hh))
    head = hh["first"].to_numpy()
    inc = facts.income
    pd.DataFrame(
        {
            "household_no": hh["hh_no"],
            "county": hh["county_name"],
            "township": hh["township"],
            "village": hh["village"],
            "head_id_number": p["id"].to_numpy()[head],
            "head_name": p["name"].to_numpy()[head],
            "members": living,
            "registry_type": registry["reg_type"],
            "monitored_type": registry["mon_type"],
            "risk_elimination": registry["elim"],
            "registry_no": np.where(registry["in_registry"], registry["reg_no"], ""),
            "income_per_capita_prev": inc["pc_prev"] / 100,
            "income_per_capita_cur": inc["pc_cur"] / 100,
        }
    ).to_csv(truth / "households.csv", index=False)

    role = plan.risks.set_index(["hh", "rule"])["role"]
    keys = list(zip(hits["hh"], hits["rule_id"], strict=True))
    origin = [
        role.get(k, "consequence") if r.startswith("R-") else r.lower()
        for k, r in zip(keys, hits["rule_id"], strict=True)
    ]
    pd.DataFrame(
        {
            "household_no": hh["hh_no"].to_numpy()[hits["hh"].to_numpy()],
            "rule_id": hits["rule_id"],
            "detail": hits["detail"],
            "origin": origin,
        }
    ).to_csv(truth / "hardship.csv", index=False)

    near = pd.concat(facts.near_misses, ignore_index=True)
    near = near.sort_values(["hh", "rule_id"], kind="stable")
    pd.DataFrame(
        {
            "household_no": hh["hh_no"].to_numpy()[near["hh"].to_numpy()],
            "rule_id": near["rule_id"].to_numpy(),
            "detail": near["detail"].to_numpy(),
        }
    ).to_csv(truth / "near_misses.csv", index=False)

    pd.DataFrame(events, columns=["event", "source_id", "file", "period", "detail"]).to_csv(
        truth / "landing_events.csv", index=False
    )
    pd.DataFrame(written).to_csv(truth / "files.csv", index=False)
    c = facts.corrections
    months = [f"{y:04d}{m:02d}" for y, m in facts.periods.months]
    pd.DataFrame(
        {
            "setl_id": c["setl_id"],
            "first_file": [f"yibao_settlement_{months[m - 1]}.jsonl" for m in c["month"]],
            "corrected_file": [f"yibao_settlement_{months[m]}.jsonl" for m in c["month"]],
            "psn_selfpay": c["self_c"] / 100,
        }
    ).to_csv(truth / "settlement_corrections.csv", index=False)
