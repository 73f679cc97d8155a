"""The data dictionary: every warehouse table, its grain and columns; every mart column's meaning.

``docs/warehouse.md`` is generated from the models and the meanings below
(``python -m warehouse.dictionary > docs/warehouse.md``, or ``make docs``); a test keeps
the two equal and requires a meaning for every mart column.
"""

from __future__ import annotations

import inspect as pyinspect

from connectors.spec import load_specs
from warehouse.models import Base, staging_table

__all__ = ["MART_MEANINGS", "dictionary_markdown"]

MART_MEANINGS: dict[str, dict[str, str]] = {
    "mart_monitoring_list": {
        "household_no": "公安户号 (household key of the register)",
        "county": "county (县/区) of the household",
        "township": "township (乡镇)",
        "village": "village (村/社区)",
        "head_name": "name of the household head",
        "head_id_masked": "head's ID number, masked: first 6 and last 4 characters",
        "object_type": "脱贫不稳定户 / 边缘易致贫户 / 突发严重困难户",
        "risk_types": "Chinese labels of the risk types and leads, joined by ';'",
        "grade": "red / yellow / green, as domain.md grades",
        "asset_check": "reasons to verify eligibility (car, company, payroll, properties); "
        "blank if none",
        "evidence_count": "number of signals behind the flag (see risk_signal)",
        "first_flagged_at": "first run date on which the household was flagged (for an "
        "open case never flagged: the date the case opened)",
        "status": "case status: lead / verifying / confirmed / assisting / eliminated "
        "(only with a decision conflict) (see household_case)",
        "decision_due": "case opened + 15 days: the county's decision deadline (leads and "
        "verifying cases only)",
        "as_of": "run date of this list",
        "case_no": "the household's case number (2+ : reopened by a new risk)",
        "status_since": "date of the decision that set the status (or the case opening)",
        "overdue": "no decision by decision_due",
        "measures": "help measures the county applied (county_decisions), ';'-joined",
        "suggested_measures": "help measures suggested by risk type and labour (rules YAML)",
        "elimination_check": "confirmed/assisting cases: eligible / not_eligible for 风险消除",
        "elimination_blockers": "the elimination conditions not met, in Chinese",
        "decision_conflict": "a county decision the rules contradict (e.g. 风险消除 without "
        "working-age labour): on the list for a second look",
        "object_type_source": "where object_type comes from: county (the type the county "
        "confirmed) / rules (the decision table of docs/policy.md); blank: no type",
        "list_category": "object (a monitoring object: counts nationally) / gap_referral (a "
        "三保障/饮水 gap, income well above the line: for the responsible department) / "
        "verify (a risk whose type the home verification decides) / lead (leads or watch "
        "signals only)",
        "income_position": "latest per-capita income against that year's line: below / near "
        "(within near_line_margin above) / above / unknown (no income row)",
        "risk_codes": "national risk type codes of the risks (rules file risk_types), ';'",
        "tags": "tags that are not risks (兜底保障: a new 低保/特困/临时救助 case), ';'",
        "gap_departments": "departments whose data show a 三保障/饮水 gap (who closes it), ';'",
    },
    "mart_monitoring_list_deidentified": {
        "row_no": "row number within the run (the list's household order)",
        "household_masked": "户号 masked: county code (first 6) and last 2 characters",
        "county": "county",
        "township": "township",
        "village": "village",
        "object_type": "as on mart_monitoring_list",
        "list_category": "as on mart_monitoring_list",
        "income_position": "as on mart_monitoring_list",
        "risk_codes": "as on mart_monitoring_list",
        "risk_types": "as on mart_monitoring_list",
        "tags": "as on mart_monitoring_list",
        "grade": "as on mart_monitoring_list",
        "status": "as on mart_monitoring_list",
        "first_flagged_at": "as on mart_monitoring_list",
        "decision_due": "as on mart_monitoring_list",
        "overdue": "as on mart_monitoring_list",
        "as_of": "run date",
    },
    "mart_monitoring_evidence": {
        "household_no": "公安户号 of a household on mart_monitoring_list",
        "signal_no": "the signal's number in risk_signal (run date as_of)",
        "county": "county (row-level security: officers see their county)",
        "township": "township",
        "village": "village",
        "head_name": "name of the household head",
        "member_name": "the member the record was linked to (blank: not linked to a person)",
        "member_id_masked": "that member's ID number, masked",
        "kind": "risk / lead / tag / watch / asset",
        "rule_id": "the rule that raised the signal",
        "risk_code": "national risk type code (risks and leads)",
        "risk_type": "national risk type label (tags: the tag; others: the rule's name)",
        "evidence": "what the rule found, in Chinese, with the value and threshold",
        "source_id": "source the evidence row came from",
        "department": "the department of that source",
        "file_name": "the file the row came from",
        "row_number": "data row in that file (header not counted)",
        "event_date": "date of the event, when the record has one",
        "value": "the value the rule compared",
        "threshold": "the threshold it was compared with",
        "as_of": "run date",
    },
    "mart_monitoring_list_history": {},  # filled below: the list's columns, every run
    "mart_risk_by_region": {
        "region_id": "row id, stable within a run",
        "county": "county",
        "township": "township",
        "village": "village",
        "risk_type": "one risk type label (a household counts once per risk type)",
        "households": "flagged households with this risk type in the village",
        "red": "of which graded red",
        "yellow": "of which graded yellow",
        "green": "of which graded green",
    },
    "mart_source_health": {
        "source_id": "source spec id",
        "department": "department",
        "title": "extract title",
        "cadence": "delivery cadence from the spec",
        "last_file": "name of the last file claimed",
        "last_loaded_at": "when the last file finished loading (UTC)",
        "files": "files claimed so far",
        "rows_in": "rows received so far",
        "quarantine_rate": "quarantined rows / rows received",
        "link_rate": "records linked to a household / records staged",
        "expected_period_start": "start of the latest period due by the run date",
        "due_date": "its due date (cadence + due day of the spec)",
        "latest_period_loaded": "latest period the loaded rows cover (spec period_field)",
        "freshness": "ok / overdue / missing",
        "overdue": "freshness is not ok",
        "as_of": "run date",
    },
    "mart_match_quality": {
        "source_id": "source spec id",
        "records": "staged records",
        "linked_exact": "linked by a trusted ID number",
        "linked_name_place": "linked by a name unique in its village",
        "linked_probabilistic": "linked by the probabilistic model or a confirmed review",
        "in_review": "waiting in match_review for a person to decide",
        "unlinked": "not linked",
    },
}

MART_MEANINGS["mart_monitoring_list_history"] = {
    **MART_MEANINGS["mart_monitoring_list"],
    "as_of": "run date that published the row (the list of any past run: WHERE as_of = D)",
}


def _grain(model) -> str:
    doc = pyinspect.getdoc(model) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def dictionary_markdown() -> str:
    """docs/warehouse.md: tables by layer, grain, columns, meanings."""
    models = {m.class_.__tablename__: m.class_ for m in Base.registry.mappers}
    # Tables declared without a class (the list's history) document themselves by comment.
    tables = {t.name: t for t in Base.metadata.tables.values() if not t.name.startswith("stg_")}
    lines = [
        "# Warehouse data dictionary",
        "",
        "Generated from `warehouse/models.py` and `warehouse/dictionary.py` by `make docs`;",
        "do not edit by hand. Raw ID numbers live only in `pii_identity` (restricted).",
        "",
    ]
    for name in sorted(tables):
        model = models.get(name)
        lines += [
            f"## `{name}`",
            "",
            _grain(model) if model is not None else tables[name].comment,
            "",
            "| column | type | null | meaning |",
            "|---|---|---|---|",
        ]
        meanings = MART_MEANINGS.get(name, {})
        for col in tables[name].columns:
            lines.append(
                f"| `{col.name}` | {col.type} | {'yes' if col.nullable else 'no'} | "
                f"{meanings.get(col.name, '')} |"
            )
        lines.append("")
    lines += [
        "## Staging tables `stg_<source_id>`",
        "",
        "One per source spec (rename and cast only): `record_key` (row key hash), "
        "`row_hash`, `load_id`, `row_number`, `person_key` (HMAC of the ID), `id_status`, "
        "`id_masked`, `name_norm`, `row_warning`, `extra_values`, `file_period` (the snapshot "
        "date a file name states, for specs that set `file_period`), then the spec's fields "
        "(ID fields replaced by `person_key`).",
        "",
        "| table | department | fields |",
        "|---|---|---|",
    ]
    for spec in load_specs().values():
        cols = [c.name for c in staging_table(spec).columns][11:]
        lines.append(
            f"| `{spec.staging_table}` | {spec.department} {spec.title} | {', '.join(cols)} |"
        )
    lines += [
        "",
        "## Intermediate views `int_<source_id>_linked`",
        "",
        "One per source spec (`warehouse/intermediate.py`); grain: one row per staged record "
        "linked to a register household. Columns: `household_no`, `person_key` (the register "
        "person the record was linked to), `link_method`, `match_probability`, then the "
        "staging columns. The rules read these views.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(dictionary_markdown(), end="")
