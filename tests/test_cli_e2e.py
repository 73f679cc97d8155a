"""End to end through the real CLI: demo city -> warehouse -> monitoring list and exports."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select, text

from connectors.spec import load_specs
from tests.conftest import AS_OF
from warehouse.models import Base, LoadAudit, MonitoringList

pytestmark = pytest.mark.slow


def crosscheck(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "CROSSCHECK_PII_KEY"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "crosscheck.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
    )


def _snapshot(url: str) -> dict[str, int | list]:
    """Row counts of every table, and the monitoring list's content."""
    engine = create_engine(url)
    with engine.connect() as conn:
        names = [t for t in Base.metadata.tables] + [f"stg_{s}" for s in load_specs()]
        counts = {
            t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
            for t in sorted(set(names))
        }
        mart = conn.execute(select(MonitoringList).order_by(MonitoringList.household_no)).all()
    engine.dispose()
    return {"counts": counts, "mart": [tuple(r) for r in mart]}


def test_run_twice_on_the_demo_city(demo_city, tmp_path, warehouse_url):
    reports = tmp_path / "reports"
    args = [
        "run",
        "--landing",
        str(demo_city["landing"]),
        "--warehouse",
        warehouse_url,
        "--as-of",
        AS_OF,
        "--reports",
        str(reports),
    ]
    first = crosscheck(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "cross-check as of 2026-11-30" in first.stdout
    assert "flagged" in first.stdout and "quarantined" in first.stdout
    assert "Traceback" not in first.stderr
    before = _snapshot(warehouse_url)

    second = crosscheck(*args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "0 new" in second.stdout
    assert _snapshot(warehouse_url) == before

    engine = create_engine(warehouse_url)
    with engine.connect() as conn:
        audits = pd.DataFrame(conn.execute(select(LoadAudit)).mappings().all())
        mart = pd.DataFrame(conn.execute(select(MonitoringList)).mappings().all())
        flagged = conn.execute(select(func.count()).select_from(MonitoringList)).scalar_one()
    engine.dispose()
    # Every landed file is accounted for, every row of it too.
    landed = [
        p for p in demo_city["landing"].rglob("*") if p.is_file() and not p.name.startswith(".")
    ]
    assert len(audits) == len(landed)
    assert (
        audits["rows_in"]
        == audits["rows_loaded"] + audits["rows_quarantined"] + audits["rows_duplicate"]
    ).all()
    assert flagged > 0
    # The mart shows masked IDs only and the columns BI relies on.
    assert mart["head_id_masked"].dropna().str.fullmatch(r"\d{6}\*{8}[\dX]{4}").all()
    assert set(mart["grade"]) <= {"red", "yellow", "green"}
    # A decision is due 15 days after the lead (a self-declaration or a county decision may
    # predate the run); only cases still waiting for one have a deadline.
    waiting = mart[mart["status"].isin(["lead", "verifying"])]
    due = pd.to_datetime(waiting["decision_due"])
    first = pd.to_datetime(waiting["first_flagged_at"])
    assert (due <= first + pd.Timedelta(days=15)).all()
    assert (due == first + pd.Timedelta(days=15)).any()
    assert mart.loc[~mart.index.isin(waiting.index), "decision_due"].isna().all()
    export = reports / "monitoring_list_20261130.csv"
    assert export.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Chinese
    assert len(pd.read_csv(export)) == flagged


@pytest.fixture(scope="module")
def demo_run(demo_city, tmp_path_factory):
    """One CLI run of the demo city into SQLite, shared by the checks below."""
    base = tmp_path_factory.mktemp("demo_run")
    url = f"sqlite:///{base / 'w.db'}"
    args = ["--landing", str(demo_city["landing"]), "--warehouse", url, "--as-of", AS_OF]
    result = crosscheck("run", *args, "--reports", str(base / "reports"))
    assert result.returncode == 0, result.stderr[-2000:]
    return {"url": url, "reports": base / "reports", "result": result}


def test_no_raw_id_numbers_outside_the_restricted_table(demo_city, demo_run):
    url, result = demo_run["url"], demo_run["result"]
    truth = pd.read_csv(demo_city["truth"] / "persons.csv", dtype=str)
    sample = set(truth["id_number"].head(200))
    engine = create_engine(url)
    with engine.connect() as conn:
        for table in [t for t in _snapshot(url)["counts"] if t != "pii_identity"]:
            frame = pd.DataFrame(conn.execute(text(f'SELECT * FROM "{table}"')).all())
            if frame.empty:
                continue
            cells = set(frame.astype(str).to_numpy().ravel())
            assert not (cells & sample), f"raw ID numbers found in {table}"
    engine.dispose()
    for path in demo_run["reports"].rglob("*.csv"):
        content = path.read_text(encoding="utf-8-sig")
        assert not any(i in content for i in sample), path
    assert not any(i in result.stdout + result.stderr for i in sample)


def test_wrong_landing_path_is_one_clear_line(tmp_path):
    result = crosscheck(
        "run",
        "--landing",
        str(tmp_path / "nope"),
        "--warehouse",
        f"sqlite:///{tmp_path / 'w.db'}",
        env={"CROSSCHECK_PII_KEY": "k"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "landing folder not found" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_warehouse_is_one_clear_line(demo_city):
    result = crosscheck(
        "run",
        "--landing",
        str(demo_city["landing"]),
        "--warehouse",
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
    )
    assert result.returncode == 2
    assert "cannot connect to warehouse" in result.stderr
    assert "Traceback" not in result.stderr
    bad_url = crosscheck("run", "--landing", str(demo_city["landing"]), "--warehouse", "nonsense")
    assert bad_url.returncode == 2 and "not a valid SQLAlchemy URL" in bad_url.stderr


def test_pii_key_is_required_outside_the_demo(tmp_path):
    (tmp_path / "landing").mkdir()
    result = crosscheck(
        "run",
        "--landing",
        str(tmp_path / "landing"),
        "--warehouse",
        f"sqlite:///{tmp_path / 'w.db'}",
    )
    assert result.returncode == 2 and "CROSSCHECK_PII_KEY" in result.stderr
    dev = crosscheck(
        "run",
        "--landing",
        str(tmp_path / "landing"),
        "--warehouse",
        f"sqlite:///{tmp_path / 'w.db'}",
        env={"CROSSCHECK_PII_KEY": "crosscheck-demo-development-key-not-a-secret"},
    )
    assert dev.returncode == 2 and "refused" in dev.stderr


IMPLEMENTED_RULES = {
    "R-INCOME",
    "R-DROP",
    "R-MEDICAL",
    "R-RIGID",
    "R-DISASTER",
    "R-HOUSING",
    "R-SCHOOL",
    "R-DISABILITY",
    "R-WORK",
    "R-LABOUR",
    "R-WATER",
    "R-MEDINS",
    "R-ASSIST",
}


def test_planted_hardship_is_flagged_and_clean_households_are_not(demo_city, demo_run):
    url = demo_run["url"]
    truth = pd.read_csv(demo_city["truth"] / "hardship.csv", dtype=str)
    engine = create_engine(url)
    with engine.connect() as conn:
        signals = pd.DataFrame(
            conn.execute(text("SELECT household_no, rule_id FROM risk_signal")).all()
        )
        flagged = set(conn.execute(text("SELECT household_no FROM household_flag")).scalars())
    engine.dispose()
    signals["rule_id"] = signals["rule_id"].replace({"L-DECLARATION": "LEAD", "L-VISIT": "LEAD"})
    for rule in sorted(IMPLEMENTED_RULES):
        planted = set(truth.loc[truth["rule_id"] == rule, "household_no"])
        found = set(signals.loc[signals["rule_id"] == rule, "household_no"])
        assert planted, f"the demo city plants no {rule}"
        assert found == planted, rule
    leads = set(truth.loc[truth["rule_id"] == "LEAD", "household_no"])
    found_leads = set(signals.loc[signals["rule_id"] == "LEAD", "household_no"])
    assert found_leads == leads  # visits name the head with typos: probabilistic linking
    assert flagged <= set(truth["household_no"]), "a clean household was flagged"


def test_quarantine_holds_exactly_the_planted_garbage_rows(demo_city, demo_run):
    truth = pd.read_csv(demo_city["truth"] / "records.csv", dtype=str)
    events = pd.read_csv(demo_city["truth"] / "landing_events.csv", dtype=str)
    expected = truth[truth["expected_reject"] == "1"]
    expected = expected[~expected["file"].isin(events["file"])]  # re-dropped files are skipped
    engine = create_engine(demo_run["url"])
    with engine.connect() as conn:
        quarantined = pd.DataFrame(
            conn.execute(
                text("SELECT source_id, file_name AS file, row_number FROM quarantine")
            ).all()
        )
    engine.dispose()
    assert len(expected) > 0
    got = set(
        zip(
            quarantined["source_id"],
            quarantined["file"],
            quarantined["row_number"].astype(str),
            strict=True,
        )
    )
    want = set(zip(expected["source_id"], expected["file"], expected["row_number"], strict=True))
    assert got == want


def test_late_sources_are_named_in_the_summary_and_the_health_mart(demo_city, demo_run):
    events = pd.read_csv(demo_city["truth"] / "landing_events.csv", dtype=str)
    late = set(events.loc[events["event"] == "missing_period", "source_id"])
    assert late
    engine = create_engine(demo_run["url"])
    with engine.connect() as conn:
        health = pd.DataFrame(conn.execute(text("SELECT * FROM mart_source_health")).mappings())
        quality = pd.DataFrame(conn.execute(text("SELECT * FROM mart_match_quality")).mappings())
        region = conn.execute(text("SELECT COUNT(*) FROM mart_risk_by_region")).scalar_one()
    engine.dispose()
    assert set(health.loc[health["overdue"].astype(bool), "source_id"]) == late
    assert len(health) == len(quality) == len(load_specs())
    assert (
        quality["records"]
        == quality[
            ["linked_exact", "linked_name_place", "linked_probabilistic", "in_review", "unlinked"]
        ].sum(axis=1)
    ).all()
    assert region > 0
    for source_id in late:
        assert f"late      {source_id}: overdue" in demo_run["result"].stdout


def test_offline_data_docs_list_every_suite(demo_run):
    page = (demo_run["reports"] / "data_docs" / "index.html").read_text(encoding="utf-8")
    for source_id in load_specs():
        assert f"（{source_id}）" in page
    assert "expect_column_values_to_be_between" in page
    assert "http://" not in page and "https://" not in page


def test_explain_prints_a_households_signals_with_masked_evidence(demo_city, demo_run):
    engine = create_engine(demo_run["url"])
    with engine.connect() as conn:
        household, risk_types = conn.execute(
            text(
                "SELECT household_no, risk_types FROM mart_monitoring_list "
                "WHERE grade = 'red' ORDER BY household_no LIMIT 1"
            )
        ).one()
        signals = conn.execute(
            text("SELECT COUNT(*) FROM risk_signal WHERE household_no = :h"), {"h": household}
        ).scalar_one()
    engine.dispose()
    result = crosscheck("explain", household, "--warehouse", demo_run["url"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"户号 {household}" in out and "red" in out and risk_types in out
    assert out.count("  [") == signals  # one line per signal, with source, file and row
    assert "第" in out and "行" in out
    truth = pd.read_csv(demo_city["truth"] / "persons.csv", dtype=str)
    assert not any(i in out for i in truth["id_number"])
    missing = crosscheck("explain", "NO-SUCH-HOUSEHOLD", "--warehouse", demo_run["url"])
    assert missing.returncode == 0 and "户籍中没有这一户" in missing.stdout


def test_county_decisions_move_each_case_to_its_planted_status(demo_city, demo_run):
    truth = pd.read_csv(demo_city["truth"] / "cases.csv", dtype={"household_no": str})
    engine = create_engine(demo_run["url"])
    with engine.connect() as conn:
        cases = pd.DataFrame(conn.execute(text("SELECT * FROM household_case")).mappings().all())
        listed = set(conn.execute(select(MonitoringList.household_no)).scalars())
        to_recheck = set(
            conn.execute(
                select(MonitoringList.household_no).where(
                    MonitoringList.decision_conflict.is_not(None)
                )
            ).scalars()
        )
    engine.dispose()
    assert to_recheck == set(truth.loc[truth["conflict"], "household_no"])
    assert set(truth["story"]) >= {"lead", "verifying", "confirmed", "assisting", "reopened"}
    got = truth.merge(cases, on="household_no", how="left", suffixes=("_want", ""))
    for column in ("status", "case_no", "elimination_check"):
        want = got[f"{column}_want"].fillna("").astype(str)
        have = got[column].fillna("").astype(str)
        wrong = got.loc[want != have, ["household_no", "story", column]]
        assert wrong.empty, f"{column}:\n{wrong}"
    assert (got["decision_conflict"].notna() == got["conflict"]).all()
    # The list: open and flagged cases; closed ones only when the closing needs a second look.
    assert set(got.loc[got["on_list_want"], "household_no"]) <= listed
    assert not set(got.loc[~got["on_list_want"], "household_no"]) & listed
    assert listed == set(cases.loc[cases["on_list"].astype(bool), "household_no"])


def test_retrain_linkage_trains_the_stored_models_afresh(demo_city, demo_run):
    """Last in this module: it reruns the shared warehouse (nothing new to load)."""
    engine = create_engine(demo_run["url"])

    def trained() -> dict:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT source_id, trained_at FROM match_model")).all())

    before = trained()
    args = ["--landing", str(demo_city["landing"]), "--warehouse", demo_run["url"]]
    reused = crosscheck("run", *args, "--as-of", AS_OF)
    assert reused.returncode == 0, reused.stderr[-2000:]
    assert trained() == before and before  # stored models reused
    retrained = crosscheck("run", *args, "--as-of", AS_OF, "--retrain-linkage")
    assert retrained.returncode == 0, retrained.stderr[-2000:]
    after = trained()
    assert after.keys() == before.keys()
    assert all(after[s] > before[s] for s in before)
    engine.dispose()
