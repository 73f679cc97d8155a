"""Visit and declaration leads at city scale: is each lead's household found?

    python -m benchmarks.match_leads --out var/bench [--households 100000]

A register of HOUSEHOLDS households (``demo.scale.generate_leads``: about 3.3 people a
household, villages of ~165 households, names from the demo's Zipf-weighted characters so
namesakes abound) and two lead extracts naming households by their head with the demo's
quirk rates: cadre visits (name, township, village; 8% typos, 1% traditional, 1% spaced;
no ID) and self-declarations (3% typos, 1% spaced; the head's ID for 85%, 2% of those
with a wrong check character). Each goes through ``matching.linker.link_records`` as the
pipeline runs the source (``links_by`` of its spec). The unit is the household: a lead is
right when linked (exact or accepted) to its household, in review when its best candidate
waits for a person, wrong when linked to another household, unlinked otherwise. Results
in ``OUT/match_leads.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main", "run"]


def run(households: int, seed: int, visits: int, declarations: int) -> dict:
    from connectors.spec import load_specs
    from demo.scale import (
        generate_leads,
        lead_outcomes,
        normalised_records,
        register_persons_frame,
    )
    from matching.comparators import settings_expressions, with_expressions
    from matching.linker import link_records
    from matching.settings import load_settings

    t0 = time.perf_counter()
    register, visit_raw, decl_raw = generate_leads(households, visits, declarations, seed)
    settings = load_settings("department")
    persons = with_expressions(register_persons_frame(register), settings_expressions(settings))
    setup_s = time.perf_counter() - t0
    specs = load_specs()
    result = {
        "households": int(register["household_no"].nunique()),
        "persons": len(register),
        "villages": int(register[["township", "village"]].drop_duplicates().shape[0]),
        "setup_s": round(setup_s, 1),
    }
    for source_id, raw in (("cadre_visits", visit_raw), ("declarations", decl_raw)):
        records = normalised_records(raw).drop(columns=["birth_date", "sex"])
        t0 = time.perf_counter()
        linked = link_records(
            records,
            persons,
            source_id=source_id,
            links_by=specs[source_id].links_by,
            settings=settings,
        )
        seconds = time.perf_counter() - t0
        result[source_id] = lead_outcomes(linked.links, raw) | {
            "link_s": round(seconds, 2),
            "load_avg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
    return result


def _markdown(result: dict) -> str:
    lines = [
        "# Leads at city scale",
        "",
        f"Command: `{result['command']}`. Register: {result['persons']} persons in "
        f"{result['households']} households, {result['villages']} villages.",
        "",
        "| source | leads | right household | review | wrong | unlinked | right share "
        "| typo'd names: right / review / all | link s | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for source_id in ("cadre_visits", "declarations"):
        r = result[source_id]
        lines.append(
            f"| {source_id} | {r['leads']} | {r['right']} | {r['review']} | {r['wrong']} | "
            f"{r['unlinked']} | {r['right_share']:.4f} | {r['typo_right']} / "
            f"{r['typo_review']} / {r['typo_leads']} | {r['link_s']} | {r['load_avg']} |"
        )
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.match_leads")
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261130)
    # A month of leads in a city this size (the demo: ~1.5% of households a month).
    parser.add_argument("--visits", type=int, default=2_000)
    parser.add_argument("--declarations", type=int, default=2_000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"command": " ".join(["python -m benchmarks.match_leads", *(argv or sys.argv[1:])])}
    result |= run(args.households, args.seed, args.visits, args.declarations)
    (args.out / "match_leads.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (args.out / "match_leads.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
