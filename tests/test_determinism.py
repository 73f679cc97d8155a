"""The same landing gives the same warehouse whatever the backend or the order rows come in.

Run through the real CLI: on SQLite, on SQLite made to return every unordered SELECT in
reverse (``PRAGMA reverse_unordered_selects``), and on PostgreSQL. Every table must be
equal row for row (the wall-clock audit columns aside): models, links, flags, cases and
marts. A crash and rerun is compared the same way in ``test_crash_safety.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import AS_OF, ROOT
from tests.warehouse_tables import differences, warehouse_tables

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _run(url: str, landing, reports, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSCHECK_")}
    env.update(CROSSCHECK_PII_KEY="test-only-pii-key", CROSSCHECK_LANDING_SETTLE_SECONDS="0")
    args = ["run", "--landing", str(landing), "--warehouse", url, "--as-of", AS_OF]
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults", *extra, "--", *args, "--reports", str(reports)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_backend_and_row_order_do_not_change_the_warehouse(small_landing, tmp_path, postgres_url):
    plain, reversed_rows = (f"sqlite:///{tmp_path / n}.db" for n in ("plain", "reversed"))
    _run(plain, small_landing, tmp_path / "r1")
    _run(reversed_rows, small_landing, tmp_path / "r2", "--reverse-unordered-selects")
    _run(postgres_url, small_landing, tmp_path / "r3")
    expected = warehouse_tables(plain)
    assert expected["record_link"] and expected["match_model"] and expected["household_flag"]
    assert differences(warehouse_tables(reversed_rows), expected) == {}
    assert differences(warehouse_tables(postgres_url), expected) == {}
