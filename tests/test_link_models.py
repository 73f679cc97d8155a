"""Train once, reuse: models stored per source in match_model (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select

from connectors.spec import load_specs
from crosscheck.steps import ingest_source, open_warehouse
from matching.model import FellegiSunter
from matching.settings import load_settings
from tests.conftest import AS_OF, PII_KEY
from warehouse.dims import build_dimensions
from warehouse.link_models import load_model, save_model, settings_hash
from warehouse.links import link_all
from warehouse.models import MatchModel, RecordLink

RUN_DATE = dt.date.fromisoformat(AS_OF)  # the run date ingest judges IDs by


@pytest.fixture
def city(demo_city, warehouse_url):
    """The demo city ingested and its dimensions built; nothing linked yet."""
    engine = open_warehouse(warehouse_url)
    for spec in load_specs().values():
        ingest_source(engine, spec, demo_city["landing"], PII_KEY, RUN_DATE)
    build_dimensions(engine)
    yield engine
    engine.dispose()


def _models(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(MatchModel)).all()
    return {r.source_id: (r.settings_hash, r.trained_at, r.parameters) for r in rows}


def _links(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                RecordLink.source_id,
                RecordLink.record_key,
                RecordLink.person_key,
                RecordLink.method,
                RecordLink.match_probability,
            ).order_by(RecordLink.source_id, RecordLink.record_key)
        ).all()
    return [tuple(r) for r in rows]


def test_second_run_reuses_models_and_links_the_same(city):
    link_all(city)
    first, links = _models(city), _links(city)
    # Sources with records left for the probabilistic stage got a model, trained on the
    # source's own exact-ID links where it has enough.
    assert {"renshe_employment", "yibao_enrollment"} <= set(first)
    params = json.loads(first["renshe_employment"][2])
    assert params["trained_by"] == "labels"
    assert any(m == "probabilistic" for *_, m, _p in links)

    # Nothing changed: every source keeps its links, unread.
    assert set(link_all(city).values()) == {"unchanged"}
    assert _models(city) == first and _links(city) == links
    # Linked again (--full) with the stored models: exact IDs in SQL, the rest in pandas.
    assert set(link_all(city, full=True).values()) == {"linked"}
    assert _models(city) == first  # same trained_at: nothing retrained
    assert _links(city) == links


def test_changed_settings_or_forced_retraining_train_again(city, monkeypatch):
    link_all(city)
    first = _models(city)
    changed = dataclasses.replace(load_settings("department"), u_sample_pairs=200_000)
    monkeypatch.setattr("warehouse.links.load_settings", lambda _name: changed)
    link_all(city)
    second = _models(city)
    assert set(second) == set(first)
    for source, (digest, trained_at, _params) in second.items():
        assert digest == settings_hash(changed) != first[source][0]
        assert trained_at > first[source][1]
    link_all(city, retrain=True)
    assert all(_models(city)[s][1] > second[s][1] for s in second)


def test_a_register_that_changed_size_retrains(warehouse_url):
    engine = open_warehouse(warehouse_url)
    settings = load_settings("department")
    model = FellegiSunter(settings.comparisons, prior=0.25)
    save_model(engine, "src", settings, model, training_records=10, register_persons=1000)
    reused = load_model(engine, "src", settings, register_persons=1150)
    assert reused is not None and reused.to_params() == model.to_params()
    assert load_model(engine, "src", settings, register_persons=1250) is None  # grew 25%
    assert load_model(engine, "src", settings, register_persons=750) is None
    other = dataclasses.replace(settings, seed=settings.seed + 1)
    assert load_model(engine, "src", other, register_persons=1000) is None
    assert load_model(engine, "other_source", settings, register_persons=1000) is None
    engine.dispose()


def test_parameters_round_trip_exactly():
    settings = load_settings("department")
    model = FellegiSunter(settings.comparisons, prior=1 / 3)
    model.m[1][1] = 0.1 + 0.2  # not representable in short decimal
    back = FellegiSunter.from_params(
        settings.comparisons, json.loads(json.dumps(model.to_params()))
    )
    assert back.prior == model.prior
    assert all((a == b).all() for a, b in zip(back.m, model.m, strict=True))
    febrl = load_settings("febrl4")
    with pytest.raises(ValueError, match="other comparisons"):
        FellegiSunter.from_params(febrl.comparisons, model.to_params())
    frame = pd.DataFrame(model.to_dict()["comparisons"]["name"]).T
    assert list(frame.columns) == ["m", "u", "weight"]
