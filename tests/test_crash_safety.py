"""Kill anywhere, rerun, and the warehouse is as if nothing happened; two runs at once are one.

A small city (one file per source) is run through the real CLI in a subprocess that is
SIGKILLed at points spread over the whole run: between statements inside the load
transactions, in the linking, the rules, the marts, between export files
(``tests/faults.py`` counts the points). The rerun must heal the warehouse: every table
equal to a clean run's, and the same export files. On SQLite and on PostgreSQL.

The same clean runs show that the backend, the order a database returns rows in and the
machine's clock change nothing: SQLite, SQLite with every unordered SELECT reversed,
PostgreSQL and a clock 400 days ahead give the same warehouse.

``make fault-sweep`` runs the kill test over many more points and writes what each point
did to ``var/bench/fault_sweep_<backend>.{json,md}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import AS_OF, ROOT
from tests.warehouse_tables import differences, warehouse_tables

pytestmark = pytest.mark.slow

# A handful in `make test`; `make fault-sweep` sets many more.
KILL_POINTS = int(os.environ.get("CROSSCHECK_TEST_FAULT_POINTS", "2"))
REPORT = os.environ.get("CROSSCHECK_TEST_FAULT_REPORT")  # path prefix for the sweep's results
AT = os.environ.get("CROSSCHECK_TEST_FAULT_AT")  # explicit points, e.g. "90,505": a repro
ENV = {
    "CROSSCHECK_PII_KEY": "test-only-pii-key",
    "CROSSCHECK_LANDING_SETTLE_SECONDS": "0",  # the files were written long before
}


def _crosscheck(url: str, landing: Path, reports: Path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSCHECK_")}
    env.update(ENV)
    args = ["run", "--landing", str(landing), "--warehouse", url, "--as-of", AS_OF]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults", *extra, "--", *args, "--reports", str(reports)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def _content(path: Path) -> bytes:
    """What a reader of the file sees: a workbook's cell values (openpyxl stamps the save
    time into the package), a page without its processing time (when the file was loaded,
    which a rerun after a crash does again)."""
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        sheets = {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb}
        wb.close()
        return repr(sheets).encode()
    data = path.read_bytes()
    if path.suffix == ".html":
        data = re.sub("处理时间 [0-9: -]+".encode(), b"", data)
    return data


def _reports(folder: Path) -> dict[str, str]:
    """{file: digest of its content} of every export and report page a run wrote."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(_content(p)).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _kill_points(total: int, count: int) -> list[int]:
    """``count`` points spread evenly over a run of ``total`` points (the middle of each
    slice, so neither the first statement nor the last is favoured)."""
    return sorted({max(1, round(total * (k + 0.5) / count)) for k in range(count)})


def _write_report(backend: str, total: int, rows: list[dict]) -> None:
    prefix = Path(REPORT)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    path = prefix.with_name(f"{prefix.name}_{backend}.json")
    path.write_text(json.dumps({"backend": backend, "points": total, "kills": rows}, indent=1))
    healed = sum(not r["problem"] for r in rows)
    lines = [
        f"# Kill-anywhere sweep, {backend}: {len(rows)} kill points of {total}, {healed} healed",
        "",
        "Each point: SIGKILL before that SQL statement or file write, rerun, then every table",
        "and every export compared with a clean run's.",
        "",
        "| point | killed after s | rerun s | outcome |",
        "|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['point']} | {r['killed_after_s']} | {r['rerun_s']} | "
        + (r["problem"][:300].replace("|", "/").replace("\n", " ") or "healed: equal")
        + " |"
        for r in rows
    ]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


_CLEAN: dict[str, dict] = {}  # per backend: a clean run's tables, reports and point count


def _clean_run(small_landing: Path, new_warehouse, tmp_path: Path) -> dict:
    """One clean run per backend and test session, the yardstick of every test here."""
    backend = new_warehouse.backend
    if backend not in _CLEAN:
        url, counted = new_warehouse(), tmp_path / "points"
        reports = tmp_path / "clean"
        code, _, err = _finish(
            _crosscheck(url, small_landing, reports, "--count-file", str(counted))
        )
        assert code == 0, err[-3000:]
        _CLEAN[backend] = {
            "points": int(counted.read_text()),
            "tables": warehouse_tables(url),
            "reports": _reports(reports),
        }
    return _CLEAN[backend]


def test_a_run_killed_anywhere_is_healed_by_the_rerun(small_landing, new_warehouse, tmp_path):
    clean = _clean_run(small_landing, new_warehouse, tmp_path)
    total, expected, expected_reports = clean["points"], clean["tables"], clean["reports"]
    assert total > 300  # statements and file writes: the run is long enough to spread kills
    assert expected["mart_monitoring_list"] and expected_reports

    points = [int(p) for p in AT.split(",")] if AT else _kill_points(total, KILL_POINTS)
    rows = [
        _kill_and_rerun(point, small_landing, new_warehouse, tmp_path, clean) for point in points
    ]
    if REPORT:  # every point's outcome, failures included, before the assertion
        _write_report(new_warehouse.backend, total, rows)
    failed = [r for r in rows if r["problem"]]
    assert not failed, f"{len(failed)} of {len(rows)} kill points of {total} not healed: " + (
        "; ".join(f"point {r['point']}: {r['problem']}" for r in failed)
    )


def _kill_and_rerun(point: int, small_landing: Path, new_warehouse, tmp_path: Path, clean) -> dict:
    """Kill a run at ``point``, rerun it, compare with the clean run: the outcome as a row."""
    url, reports = new_warehouse(), tmp_path / f"killed_at_{point}"
    row = {"point": point, "killed_after_s": None, "rerun_s": None, "problem": ""}
    row |= {"tables_differing": [], "reports_differing": []}
    started = time.monotonic()
    code, _, err = _finish(_crosscheck(url, small_landing, reports, "--kill-at", str(point)))
    row["killed_after_s"] = round(time.monotonic() - started, 1)
    if code != -signal.SIGKILL:
        row["problem"] = f"not reached (exit {code}): {err[-500:]}"
        return row
    started = time.monotonic()
    code, _, err = _finish(_crosscheck(url, small_landing, reports))
    row["rerun_s"] = round(time.monotonic() - started, 1)
    if code != 0 or "Traceback" in err:
        row["problem"] = f"rerun exit {code}: {err[-1500:]}"
        return row
    tables = differences(warehouse_tables(url), clean["tables"])
    got, expected = _reports(reports), clean["reports"]
    row["tables_differing"] = [f"{name}: {how}" for name, how in sorted(tables.items())]
    row["reports_differing"] = sorted(
        k for k in set(got) | set(expected) if got.get(k) != expected.get(k)
    )
    if tables or row["reports_differing"]:
        row["problem"] = f"tables {row['tables_differing']}, reports {row['reports_differing']}"
    return row


def test_two_runs_at_once_leave_what_one_run_leaves(small_landing, new_warehouse, tmp_path):
    expected = _clean_run(small_landing, new_warehouse, tmp_path)["tables"]

    url = new_warehouse()
    both = [_crosscheck(url, small_landing, tmp_path / f"run_{i}") for i in (0, 1)]
    results = [_finish(proc) for proc in both]
    for code, _, err in results:
        assert "Traceback" not in err, err[-3000:]
        # Each run either did the work or found it done (it waited for the other).
        assert code == 0, err[-3000:]
    assert differences(warehouse_tables(url), expected) == {}
    # Every file was loaded by exactly one of the two runs.
    new_files = [int(out.split("files")[1].split("new")[0]) for _, out, _ in results]
    assert sorted(new_files)[0] == 0 and sum(new_files) == sum(
        1 for p in small_landing.rglob("*") if p.is_file()
    )


def _one_shot(url: str, backend: str):
    """A warehouse factory handing out one given URL (for ``_clean_run``)."""

    def make() -> str:
        return url

    make.backend = backend
    return make


@pytest.mark.postgres
def test_backend_row_order_and_clock_do_not_change_the_warehouse(
    small_landing, tmp_path, postgres_url
):
    """SQLite, SQLite returning every unordered SELECT in reverse, PostgreSQL, and a clock
    400 days ahead: the same warehouse, table by table (models, links, flags, cases,
    marts). The clean runs of the tests above are reused when they ran."""
    sqlite_url = f"sqlite:///{tmp_path / 'plain.db'}"
    sqlite = _clean_run(small_landing, _one_shot(sqlite_url, "sqlite"), tmp_path / "s")["tables"]
    postgres = _clean_run(small_landing, _one_shot(postgres_url, "postgresql"), tmp_path / "p")
    reversed_url = f"sqlite:///{tmp_path / 'reversed.db'}"
    code, _, err = _finish(
        _crosscheck(reversed_url, small_landing, tmp_path / "r", "--reverse-unordered-selects")
    )
    assert code == 0, err[-3000:]
    assert sqlite["record_link"] and sqlite["match_model"] and sqlite["household_flag"]
    assert differences(warehouse_tables(reversed_url), sqlite) == {}
    assert differences(postgres["tables"], sqlite) == {}
    # Nor does the machine's clock: the same run with the clock 400 days ahead.
    shifted_url = f"sqlite:///{tmp_path / 'shifted.db'}"
    code, _, err = _finish(
        _crosscheck(shifted_url, small_landing, tmp_path / "c", "--clock-shift-days", "400")
    )
    assert code == 0, err[-3000:]
    assert differences(warehouse_tables(shifted_url), sqlite) == {}
