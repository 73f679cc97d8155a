"""What trains a source's model, and the links it gives (link_records on generated data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.scale import generate, normalised_records, register_persons_frame
from matching.comparators import settings_expressions, with_expressions
from matching.linker import link_records
from matching.model import FellegiSunter
from matching.settings import load_settings
from privacy import keyed_hash

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _check(body17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, W, strict=True)) % 11]


@pytest.fixture(scope="module")
def city():
    """A generated register (6,000 persons) and 5,000 quirky records with their truth."""
    register, raw = generate(6_000, 5_000, seed=11)
    persons = register_persons_frame(register)
    return persons, normalised_records(raw), raw


def test_exact_id_links_train_m_and_the_id_comparison_keeps_its_settings(city):
    persons, records, _raw = city
    settings = load_settings("department")
    result = link_records(
        records, persons, source_id="s", links_by="head", settings=settings, model=None
    )
    stats = result.stats["probabilistic"]
    assert result.trained and stats["trained_by"] == "labels"
    assert stats["labelled_matches"] >= 50
    # links_by head: the records name a household's head, and the labels say how often
    # the person an ID names is one.
    assert set(stats["m_from_labels"]) == {
        "name",
        "birth_date",
        "sex",
        "address",
        "head_of_household",
    }
    model = result.model
    default = FellegiSunter(settings.comparisons)
    names = [c.name for c in settings.comparisons]
    # The labels are exact-ID links: they cannot say how often true matches' IDs differ.
    for k in (names.index("id_number"), names.index("id_region")):
        assert np.array_equal(model.m[k], default.m[k])
    # Generated names are spelt exactly for ~97% of true pairs (1% traditional is folded,
    # 1% typo, 0.8% space folded): the learnt m says so, not the settings' 0.90.
    exact = model.m[names.index("name")][1]
    assert 0.95 < exact < 1.0 and exact != default.m[names.index("name")][1]
    assert 0 < model.prior <= 0.5


def test_links_do_not_depend_on_training_here_or_precomputed_register_keys(city):
    persons, records, raw = city
    settings = load_settings("department")
    cold = link_records(records, persons, source_id="s", links_by="head", settings=settings)
    indexed = with_expressions(persons, settings_expressions(settings))
    warm = link_records(
        records, indexed, source_id="s", links_by="head", settings=settings, model=cold.model
    )
    assert not warm.trained
    cols = ["record_key", "person_key", "method", "match_probability"]
    a, b = cold.links[cols].astype(object), warm.links[cols].astype(object)
    assert a.where(a.notna(), None).equals(b.where(b.notna(), None))
    # And they are right: the generator's truth, on the records linked.
    row = raw["true_row"].to_numpy()
    truth = pd.Series(persons["person_key"].to_numpy()[np.maximum(row, 0)], dtype="string")
    truth[row < 0] = pd.NA
    linked = warm.links["method"].isin(["exact_id", "exact_name_place", "probabilistic"])
    right = warm.links["person_key"].astype("string").eq(truth).fillna(False).to_numpy()
    assert linked.sum() > 0.9 * len(records)
    assert (right[linked.to_numpy()]).mean() > 0.995
    prob = warm.links["method"].eq("probabilistic").to_numpy()
    assert prob.sum() > 20 and right[prob].mean() > 0.97


def _excel_case() -> tuple[str, str]:
    """A register ID and what Excel made of it: its first 15 digits + '000', and by chance
    (one in eleven) a fitting check character."""
    for day in range(1, 29):
        prefix = f"360502198503{day:02d}1"
        if _check(prefix + "00") == "0":
            return prefix + "23" + _check(prefix + "23"), prefix + "000"
    raise AssertionError("no date gives a valid ...000 ID")  # pragma: no cover


def test_a_valid_id_ending_000_outside_the_register_is_tried_as_excel_rounded():
    real, rounded = _excel_case()
    other = "36050219900101002" + _check("36050219900101002")
    key = b"k"
    persons = pd.DataFrame(
        {
            "person_key": keyed_hash(pd.Series([real, other], dtype="string"), key),
            "household_no": ["h1", "h2"],
            "name_norm": ["欧阳娜", "李四"],
            "township": ["良山镇", "良山镇"],
            "village": ["下保村", "下保村"],
            "birth_date": pd.to_datetime(["1985-03-01", "1990-01-01"]),
            "sex": ["女", "男"],
            "status": ["正常", "正常"],
            "relation": ["户主", "户主"],
            "id_number": [real, other],
        }
    )
    stranger = "36050219700101001" + _check("36050219700101001")  # valid, not registered
    ids = pd.Series([rounded, stranger], dtype="string")
    records = pd.DataFrame(
        {
            "record_key": ["r1", "r2"],
            "person_key": keyed_hash(ids, key),
            "id_status": ["valid", "valid"],
            "name_norm": ["欧阳娜", "李四"],
            "id_number": ids,
        }
    )
    settings = load_settings("department")
    model = FellegiSunter(settings.comparisons, prior=0.5)  # settings m, no training
    model.u = [np.full(len(c.levels), 1e-3) for c in settings.comparisons]
    for u in model.u:
        u[-1] = 1.0
    out = link_records(
        records, persons, source_id="s", links_by="person", settings=settings, model=model
    ).links.set_index("record_key")
    assert out.loc["r1", "method"] == "probabilistic"
    assert out.loc["r1", "person_key"] == persons.loc[0, "person_key"]
    # A valid ID of someone else stays someone else's, whatever the name says.
    assert out.loc["r2", "method"] == "unlinked"


def test_the_village_namesake_is_not_taken_when_the_birth_date_says_otherwise():
    persons = pd.DataFrame(
        {
            "person_key": ["p1", "p2"],
            "household_no": ["h1", "h2"],
            "name_norm": ["张三", "李四"],
            "township": ["良山镇", "良山镇"],
            "village": ["下保村", "下保村"],
            "birth_date": pd.to_datetime(["1980-05-06", "1975-01-02"]),
            "sex": ["男", "男"],
            "status": ["正常", "正常"],
            "relation": ["户主", "户主"],
            "id_number": ["360502198005060011", "360502197501020019"],
        }
    )
    records = pd.DataFrame(
        {
            "record_key": ["same", "other", "unstated"],
            "person_key": [None, None, None],
            "id_status": ["blank"] * 3,
            "name_norm": ["张三", "张三", "李四"],
            "township": ["良山镇"] * 3,
            "village": ["下保村"] * 3,
            "birth_date": ["1980-05-06", "1999-09-09", None],
        }
    )
    settings = load_settings("department")
    model = FellegiSunter(settings.comparisons, prior=0.01)
    out = link_records(
        records, persons, source_id="s", links_by="head", settings=settings, model=model
    ).links.set_index("record_key")
    assert out.loc["same", "method"] == "exact_name_place"
    assert out.loc["unstated", "method"] == "exact_name_place"
    assert out.loc["other", "method"] != "exact_name_place"
    assert pd.isna(out.loc["other", "person_key"])  # not linked to 张三 born 1980


@pytest.mark.parametrize("chunk_rows", [1, 50_000])
def test_two_equally_good_namesakes_share_the_probability_in_any_chunking(chunk_rows):
    from dataclasses import replace

    from matching.probabilistic import link_frames

    people = pd.DataFrame(
        {
            "name_norm": ["王伟", "王伟", "李娜"],
            "township": ["良山镇"] * 3,
            "village": ["下保村"] * 3,
        }
    )
    records = pd.DataFrame(
        {"name_norm": ["王伟", "李娜"], "township": ["良山镇"] * 2, "village": ["下保村"] * 2}
    )
    settings = replace(load_settings("department"), chunk_rows=chunk_rows)
    model = FellegiSunter(settings.comparisons, prior=0.5)
    pairs = link_frames(records, people, settings, model).pairs.set_index("left_row")
    odds = 2.0 ** pairs["match_weight"]
    # 王伟 has two candidates of equal weight: odds / (1 + both odds), below one half.
    assert pairs.loc[0, "match_probability"] == pytest.approx(odds[0] / (1 + 2 * odds[0]))
    assert pairs.loc[0, "match_probability"] < 0.5
    assert pairs.loc[1, "match_probability"] == pytest.approx(odds[1] / (1 + odds[1]))
