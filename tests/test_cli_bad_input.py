"""Every bad command-line input is one clear line, a non-zero exit, and nothing written.

Each case runs the real ``crosscheck`` command in a subprocess, as an operator would type
it: a missing or wrong landing folder, an empty or malformed warehouse URL, a server that
does not answer, an impossible or future run date, a read-only warehouse.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _crosscheck(*args: str, env: dict | None = None, cwd: Path = ROOT):
    full = {k: v for k, v in os.environ.items() if not k.startswith("CROSSCHECK_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "crosscheck.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=120,
    )


def _one_line(result) -> str:
    """The whole of stderr: exactly one line, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    (folder / "gongan_hukou").mkdir(parents=True)
    return folder


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


KEY = {"CROSSCHECK_PII_KEY": "test-only-pii-key"}


@pytest.mark.parametrize(
    ("landing_arg", "warehouse", "as_of", "env", "expected"),
    [
        # The missing folder is named, not the missing key.
        ("missing", "w.db", "2026-11-30", {}, "crosscheck: landing folder not found: "),
        ("a_file", "w.db", "2026-11-30", KEY, "crosscheck: landing folder is not a folder: "),
        ("ok", "", "2026-11-30", KEY, "crosscheck: warehouse URL is empty"),
        (
            "ok",
            "not a url",
            "2026-11-30",
            KEY,
            "crosscheck: warehouse URL is not a valid SQLAlchemy URL: 'not a url'",
        ),
        (
            "ok",
            "postgresql+psycopg://postgres@127.0.0.1:54x2/db",
            "2026-11-30",
            KEY,
            "crosscheck: warehouse URL is not a valid SQLAlchemy URL: ",
        ),
        (
            "ok",
            "postgresql+psycopg://postgres@127.0.0.1:1/db",
            "2026-11-30",
            KEY,
            "crosscheck: cannot connect to warehouse postgresql+psycopg://postgres@127.0.0.1:1/",
        ),
        (
            "ok",
            "w.db",
            "2026-02-30",
            KEY,
            "crosscheck run: argument --as-of: not a date (YYYY-MM-DD): '2026-02-30'",
        ),
        (
            "ok",
            "w.db",
            "2099-01-01",
            KEY,
            "crosscheck: run date 2099-01-01 is after today (",
        ),
    ],
    ids=[
        "missing-landing",
        "landing-is-a-file",
        "empty-url",
        "malformed-url",
        "malformed-port",
        "unreachable-server",
        "impossible-date",
        "future-date",
    ],
)
def test_bad_run_input_is_one_line_and_writes_nothing(
    tmp_path, landing, landing_arg, warehouse, as_of, env, expected
):
    (tmp_path / "a_file").write_text("not a folder", encoding="utf-8")
    folder = {"missing": tmp_path / "missing", "a_file": tmp_path / "a_file", "ok": landing}
    url = f"sqlite:///{tmp_path / 'w.db'}" if warehouse == "w.db" else warehouse
    before = _files(tmp_path)
    result = _crosscheck(
        "run",
        "--landing",
        str(folder[landing_arg]),
        "--warehouse",
        url,
        "--as-of",
        as_of,
        "--reports",
        str(tmp_path / "reports"),
        env=env,
        cwd=tmp_path,  # a fallback to var/warehouse.db under the working folder would show
    )
    assert result.returncode == 2
    assert _one_line(result).startswith(expected)
    assert _files(tmp_path) == before  # no warehouse, no reports, no var/


def test_a_future_run_date_needs_the_explicit_flag(tmp_path, landing):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    args = ["run", "--landing", str(landing), "--warehouse", url, "--reports", str(tmp_path)]
    result = _crosscheck(*args, "--as-of", "2099-01-01", "--allow-future-date", env=KEY)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cross-check as of 2099-01-01" in result.stdout
    # And the wrong date is removed again, as the refusal message says.
    forget = _crosscheck("history", "forget", "--as-of", "2099-01-01", "--warehouse", url)
    assert forget.returncode == 0, forget.stderr[-2000:]
    # An empty landing: no households, but the run's checks, source health and log.
    from connectors.spec import load_specs

    # The run's checks: 10 on the warehouse, and 2 per source (facts tied to a load, facts
    # linked); 58 with the 24 sources of today.
    checks = 10 + 2 * len(load_specs())
    assert forget.stdout.strip() == (
        f"run date 2099-01-01 removed (dq_check_result {checks}, "
        f"mart_source_health {len(load_specs())}, run_log 1)"
    )
    older = _crosscheck("history", "forget", "--as-of", "2026-11-30", "--warehouse", url)
    assert older.returncode == 0  # nothing newer left: removing a date never run is a no-op
    assert older.stdout.strip() == "run date 2026-11-30 removed (nothing recorded)"


def _read_only_urls(tmp_path, postgres_url) -> dict[str, str]:
    deployed = _crosscheck("db", "upgrade", "--warehouse", f"sqlite:///{tmp_path / 'ro.db'}")
    assert deployed.returncode == 0, deployed.stderr
    pg = _crosscheck("db", "upgrade", "--warehouse", postgres_url)
    assert pg.returncode == 0, pg.stderr
    return {
        # What a chmod 444 file gives a non-root user (root writes through file modes).
        "sqlite": f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true",
        # A read-only replica or session.
        "postgresql": postgres_url + "?options=-c%20default_transaction_read_only%3Don",
    }


@pytest.mark.postgres
def test_a_read_only_warehouse_is_refused_before_anything_is_read(tmp_path, landing, postgres_url):
    (landing / "gongan_hukou" / "hukou.csv").write_text("户号,姓名\nH1,张伟\n", encoding="utf-8")

    def files() -> list[str]:
        # SQLite's own -wal/-shm index files appear whenever a WAL database is opened, even
        # read-only; no content is written.
        return [f for f in _files(tmp_path) if not f.endswith(("-wal", "-shm"))]

    for backend, url in _read_only_urls(tmp_path, postgres_url).items():
        before = files()
        result = _crosscheck(
            "run",
            "--landing",
            str(landing),
            "--warehouse",
            url,
            "--as-of",
            "2026-11-30",
            "--reports",
            str(tmp_path / "reports"),
            env=KEY,
        )
        assert result.returncode == 2, (backend, result.stderr[-2000:])
        line = _one_line(result)
        assert line.startswith("crosscheck: warehouse is "), (backend, line)
        assert "read-only" in line or "readonly" in line, (backend, line)
        assert files() == before, backend
