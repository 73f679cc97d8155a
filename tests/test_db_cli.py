"""`crosscheck db`: schema upgrades as a deploy step, and a stale schema refused in one line."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.test_cli_e2e import crosscheck


def test_upgrade_then_refuse_an_out_of_date_schema(postgres_url, tmp_path):
    first = crosscheck("db", "upgrade", "--warehouse", postgres_url)
    assert first.returncode == 0, first.stderr
    assert "warehouse at revision" in first.stdout
    again = crosscheck("db", "upgrade", "--warehouse", postgres_url)
    assert again.returncode == 0 and again.stdout == first.stdout

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    (tmp_path / "landing").mkdir()
    stale = crosscheck(
        "run",
        "--landing",
        str(tmp_path / "landing"),
        "--warehouse",
        postgres_url,
        env={"CROSSCHECK_PII_KEY": "k"},
    )
    assert stale.returncode == 2
    assert stale.stderr.strip().count("\n") == 0
    assert "revision 0000" in stale.stderr and "crosscheck db upgrade" in stale.stderr


def test_access_control_needs_postgresql(tmp_path):
    result = crosscheck("db", "grant", "--warehouse", f"sqlite:///{tmp_path / 'w.db'}")
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stderr and "Traceback" not in result.stderr
