"""crosscheck.steps: what a run records about itself, whoever ran it."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import pytest
from sqlalchemy import create_engine, select, text

from crosscheck.settings import load_settings
from crosscheck.steps import RunSummary, deploy_warehouse, open_warehouse, record_run
from warehouse.db import WarehouseError
from warehouse.models import RunLog
from warehouse.rules import DEFAULT_RULES, load_rule_set

RUN_DATE = dt.date(2026, 11, 30)


def _run_log(url: str) -> list:
    engine = open_warehouse(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(RunLog.as_of, RunLog.rules_file, RunLog.rules_sha256)).all()
    finally:
        engine.dispose()


def test_run_log_names_the_shipped_rule_file_the_same_on_every_machine(warehouse_url):
    engine = open_warehouse(warehouse_url)
    record_run(engine, RunSummary(RUN_DATE), load_rule_set())
    engine.dispose()
    expected = hashlib.sha256(DEFAULT_RULES.read_bytes()).hexdigest()
    assert _run_log(warehouse_url) == [(RUN_DATE, "warehouse/rules/default.yaml", expected)]


def test_run_log_records_a_selected_rule_file_and_its_hash(tmp_path, monkeypatch):
    custom = tmp_path / "jiangxi_2025.yaml"
    shutil.copy(DEFAULT_RULES, custom)
    custom.write_text(custom.read_text(encoding="utf-8") + "\n# 2025\n", encoding="utf-8")
    monkeypatch.setenv("CROSSCHECK_RULES", str(custom))
    settings = load_settings(landing_dir=tmp_path, require_pii_key=False)
    assert settings.rules_file == custom
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = open_warehouse(url)
    record_run(engine, RunSummary(RUN_DATE), load_rule_set(settings.rules_file))
    record_run(engine, RunSummary(RUN_DATE), load_rule_set(settings.rules_file))  # rerun
    engine.dispose()
    digest = hashlib.sha256(custom.read_bytes()).hexdigest()
    assert _run_log(url) == [(RUN_DATE, str(custom.resolve()), digest)]
    assert digest != hashlib.sha256(DEFAULT_RULES.read_bytes()).hexdigest()


def test_a_task_on_a_warehouse_not_deployed_fails_at_once_naming_the_deploy_step(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with pytest.raises(WarehouseError, match=r"no schema.*crosscheck db upgrade"):
        open_warehouse(url, deploy=False)
    deploy_warehouse(create_engine(url))
    open_warehouse(url, deploy=False).dispose()  # deployed: the task goes on
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text('DROP VIEW "int_zhujian_housing_linked"'))
    engine.dispose()
    with pytest.raises(WarehouseError, match="view int_zhujian_housing_linked"):
        open_warehouse(url, deploy=False)


def test_the_deploy_step_runs_twice_without_harm(warehouse_url):
    engine = create_engine(warehouse_url)
    deploy_warehouse(engine)
    deploy_warehouse(engine)
    engine.dispose()
    open_warehouse(warehouse_url, deploy=False).dispose()
