"""Visit and declaration leads of the full demo city: is each lead's household found?

    python -m benchmarks.match_leads --out var/bench [--households 100000] [--before]

The city is the one ``make run`` generates (``demo.generate_demo``: every source, the
demo's quirk and typo rates: visits 8% misheard names, declarations 3% typos and an ID
for 85%), ingested into a SQLite warehouse with the pipeline's steps and kept in
``OUT/leads_city_<households>/`` for the next run (same households and seed: reused).
Every department source the settings name as lead evidence (``extra.lead_evidence``) is
linked by ``warehouse.links.link_source`` as the pipeline does; its linked records become
household events (``matching.evidence.evidence_rows``). Then the leads: declarations,
then visits, read from staging as ``link_source`` reads them plus their reason, date and
phone, linked by ``matching.linker.link_records`` with that evidence (the phones and
labels of the declarations' trusted links go on to the visits).

``--before``: the leads linked exactly as ``link_source`` fed the linker before lead
evidence (its columns only, no evidence): run it with the previous ``matching`` package
first on the path to measure the code before the change on the same city.

The unit is the household: a lead is right when linked to its true household (truth:
``truth/records.csv``), wrong when linked to another, in review when its best candidate
waits for a person, unlinked otherwise. Results: ``OUT/match_leads.{json,md}`` (with
``--before``: ``match_leads_before.{json,md}``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

__all__ = ["main", "run"]

AS_OF = dt.date(2026, 11, 30)
LEAD_SOURCES = ("declarations", "cadre_visits")
LINKED = ("exact_id", "exact_name_place", "probabilistic", "review_confirmed")


def _city(work: Path, households: int, seed: int):
    """The demo city generated and ingested (dimensions built); reused when present."""
    from connectors.spec import load_specs
    from crosscheck.settings import DEV_PII_KEY
    from crosscheck.steps import ingest_source, open_warehouse
    from demo import generate_demo
    from warehouse.dims import build_dimensions

    done = work / "city.json"
    want = {"households": households, "seed": seed, "as_of": AS_OF.isoformat()}
    if done.exists() and json.loads(done.read_text()) == want:
        return open_warehouse(f"sqlite:///{work / 'warehouse.db'}"), {}
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.perf_counter()
    generate_demo(
        work / "landing", households=households, seed=seed, as_of=AS_OF, truth_dir=work / "truth"
    )
    t1 = time.perf_counter()
    engine = open_warehouse(f"sqlite:///{work / 'warehouse.db'}")
    for spec in load_specs().values():
        ingest_source(engine, spec, work / "landing", DEV_PII_KEY.encode(), AS_OF)
    build_dimensions(engine)
    done.write_text(json.dumps(want))
    return engine, {"generate_s": round(t1 - t0, 1), "ingest_s": round(time.perf_counter() - t1, 1)}


def _staged(engine, spec, columns: list[str]) -> pd.DataFrame:
    from sqlalchemy import select

    from warehouse.db import read_frame
    from warehouse.models import staging_table

    stg = staging_table(spec)
    cols = [stg.c.record_key, *[stg.c[c] for c in columns if c != "record_key"]]
    with engine.connect() as conn:
        return read_frame(conn, select(*cols).order_by(stg.c.record_key))


def _events(engine, persons, specs, config) -> tuple[pd.DataFrame, dict]:
    """Household events of every evidence source, linked as the pipeline links it."""
    from matching.evidence import evidence_rows
    from warehouse.links import link_source

    frames, seconds = [], {}
    for kind in config.kinds:
        spec = specs[kind.source_id]
        t0 = time.perf_counter()
        links, _ = link_source(engine, spec, persons)
        cols = [c for c in (kind.date, *kind.where, *kind.min, *kind.max) if c]
        frames.append(evidence_rows(kind, _staged(engine, spec, cols), links))
        seconds[kind.source_id] = round(time.perf_counter() - t0, 1)
    return pd.concat(frames, ignore_index=True), seconds


def _lead_records(engine, spec, persons, before: bool) -> pd.DataFrame:
    """The records ``link_source`` hands the linker (with reason, date and phone unless
    ``before``)."""
    from matching.identity import EXACT_STATUSES
    from warehouse.links import _identity_numbers

    cols = ["person_key", "id_status", "name_norm"]
    cols += [c for c in ("township", "village", "birth_date", "sex") if spec.has(c)]
    if not before:
        cols += [c for c in ("phone", "reason", "visited_on", "applied_at") if spec.has(c)]
    records = _staged(engine, spec, cols)
    register = persons[["person_key"]].dropna().drop_duplicates()
    known = records[["person_key"]].merge(register, on="person_key", how="left", indicator=True)
    wanted = ~records["id_status"].isin(EXACT_STATUSES) | known["_merge"].eq("left_only")
    return records.merge(
        _identity_numbers(engine, records.loc[wanted, "person_key"]), on="person_key", how="left"
    )


def _outcomes(links: pd.DataFrame, truth: pd.DataFrame, records: pd.DataFrame) -> dict:
    ev = links.merge(truth, on="record_key", how="left")
    linked = ev["method"].isin(LINKED)
    right = linked & ev["household_no"].astype("string").eq(ev["true_household_no"]).fillna(False)
    out = {
        "leads": len(ev),
        "right": int(right.sum()),
        "review": int(ev["method"].eq("review").sum()),
        "wrong": int((linked & ~right).sum()),
        "unlinked": int(ev["method"].eq("unlinked").sum()),
        "by_method": ev["method"].value_counts().sort_index().to_dict(),
    }
    out["right_share"] = round(out["right"] / max(len(ev), 1), 5)
    typo = ev["corruptions"].str.contains("name_typo")
    out["typo_leads"] = int(typo.sum())
    out["typo_right"] = int((right & typo).sum())
    out["typo_review"] = int((ev["method"].eq("review") & typo).sum())
    return out


def _why_review(links, truth, records, evidence, config) -> dict:
    """Leads in review by what their reason could say: none stated (a quiet visit), a
    reason no department record speaks for, a reason whose records the true household
    lacks near the date, or one it shows (then another candidate shows it too, or the
    name odds outweigh it)."""
    from matching.evidence import lead_dates

    rec = records.assign(date=lead_dates(records, config).to_numpy())
    rev = links[links["method"].eq("review")][["record_key"]].merge(truth).merge(rec)
    if "reason" not in rev.columns or rev.empty:
        return {"no_reason": len(rev)}
    ev = evidence.events
    hit = rev.merge(
        ev, left_on=["true_household_no", "reason"], right_on=["household_no", "reason"]
    )
    lo = hit["date_x"] - pd.Timedelta(days=config.days_before)
    hi = hit["date_x"] + pd.Timedelta(days=config.days_after)
    inside = hit["date_y"].isna() | ((hit["date_y"] >= lo) & (hit["date_y"] <= hi))
    shows = set(hit.loc[inside, "record_key"])
    spoken = set(ev["reason"])
    none = rev["reason"].isna()
    unspoken = ~none & ~rev["reason"].isin(spoken)
    shown = rev["record_key"].isin(shows)
    return {
        "no_reason": int(none.sum()),
        "reason_without_records": int(unspoken.sum()),
        "true_household_lacks_them": int((~none & ~unspoken & ~shown).sum()),
        "true_household_shows_them": int(shown.sum()),
    }


def run(households: int, seed: int, out: Path, before: bool) -> dict:
    from connectors.spec import load_specs
    from crosscheck.settings import DEV_PII_KEY
    from matching.comparators import settings_expressions, with_expressions
    from matching.linker import link_records
    from matching.settings import load_settings
    from warehouse.links import register_persons

    from .match import _truth_by_record

    engine, setup = _city(out / f"leads_city_{households}", households, seed)
    work = out / f"leads_city_{households}"
    truth = pd.read_csv(work / "truth" / "records.csv", dtype=str, keep_default_na=False)
    settings = load_settings("department")
    persons = with_expressions(register_persons(engine), settings_expressions(settings))
    specs = load_specs()
    result: dict = {
        "households": int(persons["household_no"].nunique()),
        "persons": len(persons),
        "before": before,
        **setup,
    }
    evidence = None
    if not before:
        from matching.evidence import (
            TRUSTED,
            LeadEvidence,
            LeadEvidenceSettings,
            lead_dates,
            trusted_phones,
        )

        config = LeadEvidenceSettings.from_extra(settings.extra)
        t0 = time.perf_counter()
        events, seconds = _events(engine, persons, specs, config)
        result["evidence"] = {
            "events": len(events),
            "by_kind": events["kind"].value_counts().sort_index().to_dict(),
            "link_s": seconds,
            "total_s": round(time.perf_counter() - t0, 1),
        }
        evidence = LeadEvidence(events=events)
    for source_id in LEAD_SOURCES:
        spec = specs[source_id]
        records = _lead_records(engine, spec, persons, before)
        t0 = time.perf_counter()
        kwargs = {} if before else {"evidence": evidence}
        linked = link_records(
            records,
            persons,
            source_id=source_id,
            links_by=spec.links_by,
            settings=settings,
            **kwargs,
        )
        seconds = time.perf_counter() - t0
        t = _truth_by_record(engine, spec, truth, DEV_PII_KEY.encode())
        # Every lead with its link and truth, for reading the reviews (no ID numbers).
        shown = [c for c in ("record_key", "name_norm", "reason") if c in records.columns]
        linked.links.merge(t, on="record_key", how="left").merge(
            records[shown], on="record_key", how="left"
        ).to_csv(work / f"evaluation_{source_id}{'_before' if before else ''}.csv", index=False)
        result[source_id] = _outcomes(linked.links, t, records) | {
            "review_why": None
            if before
            else _why_review(linked.links, t, records, evidence, config),
            "link_s": round(seconds, 2),
            "evidence_stage": linked.stats.get("evidence"),
            "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
        if not before:
            # This source's trusted links: labels and phones for the next lead source.
            rec = records.assign(date=lead_dates(records, config).to_numpy())
            own = linked.links[linked.links["method"].isin(TRUSTED)]
            lab = own[["record_key", "household_no"]].merge(rec[["record_key", "reason", "date"]])
            evidence = LeadEvidence(
                events=evidence.events,
                phones=pd.concat(
                    [evidence.phones, trusted_phones(rec, linked.links)], ignore_index=True
                ),
                labelled=pd.concat(
                    [evidence.labelled, lab[["reason", "date", "household_no"]]], ignore_index=True
                ),
            )
    engine.dispose()
    return result


def _markdown(result: dict) -> str:
    lines = [
        "# Leads of the full demo city" + (" (before lead evidence)" if result["before"] else ""),
        "",
        f"Command: `{result['command']}`. Register: {result['persons']} persons in "
        f"{result['households']} households (demo.generate_demo, the demo's quirk rates).",
        "",
        "| source | leads | right household | review | wrong | unlinked | right share "
        "| typo'd names: right / review / all | link s | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for source_id in LEAD_SOURCES:
        r = result[source_id]
        lines.append(
            f"| {source_id} | {r['leads']} | {r['right']} | {r['review']} | {r['wrong']} | "
            f"{r['unlinked']} | {r['right_share']:.4f} | {r['typo_right']} / "
            f"{r['typo_review']} / {r['typo_leads']} | {r['link_s']} | {r['load_avg']} |"
        )
    ev = result.get("evidence")
    if ev:
        lines += [
            "",
            f"Evidence: {ev['events']} household events ({ev['by_kind']}), their sources "
            f"linked in {ev['total_s']} s ({ev['link_s']}).",
        ]
    for source_id in LEAD_SOURCES:
        why = result[source_id].get("review_why")
        if why:
            lines += ["", f"{source_id} in review, by what the reason could say: {why}"]
    for source_id in LEAD_SOURCES:
        stage = result[source_id].get("evidence_stage")
        if stage:
            lines += ["", f"{source_id} evidence stage: `{json.dumps(stage, ensure_ascii=False)}`"]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.match_leads")
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--before", action="store_true", help="leads as fed before evidence")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"command": " ".join(["python -m benchmarks.match_leads", *(argv or sys.argv[1:])])}
    result |= run(args.households, args.seed, args.out, args.before)
    name = "match_leads_before" if args.before else "match_leads"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / f"{name}.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
