"""Probabilistic linkage engine: comparators, settings, model, assignment, run_link."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matching.comparators import Sides, comparison_levels, derive
from matching.link_cli import run_link
from matching.model import FellegiSunter
from matching.probabilistic import assign, block_pairs, link_probabilistic
from matching.settings import BlockingRule, Comparison, Level, LinkSettings, load_settings


def _levels(left: list, right: list, levels: list[Level], expr: str = "v") -> list[str]:
    """Level name of each pair (left[k], right[k]) of column v for one comparison."""
    comp = Comparison("c", (expr,), (Level("null"), *levels, Level("else")))
    sides = Sides(pd.DataFrame({"v": left}), pd.DataFrame({"v": right}))
    idx = np.arange(len(left))
    return [comp.levels[g].name for g in comparison_levels(sides, comp, idx, idx)]


def test_id_number_levels():
    levels = [
        Level("exact"),
        Level("osa", 1, label="typo"),
        Level("id_15_18"),
        Level("prefix", 15, label="first15"),
    ]
    base = "36050219850307123X"
    got = _levels(
        [
            base,
            "36050219850307124X",
            "36050219580307123X",
            "360502850307123",
            "360502198503071",
            None,
            "11010519491231002X",
        ],
        [base, base, base, base, base, base, base],
        levels,
    )
    assert got == ["exact", "typo", "typo", "id_15_18", "first15", "null", "else"]


def test_name_levels_fold_traditional_and_homophones():
    levels = [
        Level("exact"),
        Level("simplified"),
        Level("pinyin"),
        Level("indel", 1, label="dropped"),
        Level("levenshtein", 1, label="one_char"),
    ]
    got = _levels(
        ["张伟", "張偉", "李纳", "王小", "王小红", "欧阳娜"],
        ["张伟", "张伟", "李娜", "王小明", "王小明", "张伟"],
        levels,
    )
    assert got == ["exact", "simplified", "pinyin", "dropped", "one_char", "else"]


def test_date_levels():
    levels = [Level("exact"), Level("day_month_swap"), Level("year_off", 1)]
    got = _levels(
        ["1985-03-07", "1985-07-03", "1986-03-07", "1990-01-01", ""],
        ["1985-03-07"] * 5,
        levels,
        expr="date(v)",
    )
    assert got == ["exact", "day_month_swap", "year_off_1", "else", "null"]


def test_address_and_generic_levels():
    comp = Comparison(
        "address",
        ("township",),
        (
            Level("null"),
            Level("exact", columns=("township", "village"), label="same_village"),
            Level("exact", label="same_township"),
            Level("else"),
        ),
    )
    left = pd.DataFrame(
        {"township": ["良山镇", "良山镇", "水西镇"], "village": ["下保村", "新村", "x"]}
    )
    right = pd.DataFrame({"township": ["良山镇"] * 3, "village": ["下保村"] * 3})
    idx = np.arange(3)
    got = comparison_levels(Sides(left, right), comp, idx, idx)
    assert [comp.levels[g].name for g in got] == ["same_village", "same_township", "else"]
    numeric = [Level("exact"), Level("abs_diff", 0.5)]
    got = _levels(["10", "10.4", "20"], ["10", "10", "10"], numeric)
    assert got == ["exact", "abs_diff_0.5", "else"]
    assert _levels(["martha", "dwayne"], ["marhta", "duane"], [Level("jaro_winkler", 0.9)]) == [
        "jaro_winkler_0.9",
        "else",
    ]


def test_derived_keys():
    frame = pd.DataFrame({"id": ["360502198503071234", "360502"], "name": ["曾伟", "張三"]})
    assert derive(frame, "substr(minlen(id,15),0,14)").tolist()[0] == "36050219850307"
    assert pd.isna(derive(frame, "substr(minlen(id,15),0,14)").iloc[1])
    assert derive(frame, "pinyin(name)").tolist() == ["zengwei", "zhangsan"]
    assert derive(frame, "surname(name)").tolist() == ["曾", "张"]


def test_settings_yaml_round_trip(tmp_path):
    for name in ("department", "febrl4"):
        settings = load_settings(name)
        path = tmp_path / f"{name}.yaml"
        settings.to_yaml(path)
        assert LinkSettings.from_yaml(path) == settings
    with pytest.raises(ValueError, match="quote"):
        LinkSettings.from_yaml("blocking_rules:\n  - keys: [substr(id,0,6)]\n")
    with pytest.raises(ValueError, match="last level"):
        Comparison("x", ("a",), (Level("null"), Level("exact")))


def test_em_recovers_known_m_and_u():
    rng = np.random.default_rng(7)
    comps = tuple(
        Comparison(f"c{k}", (f"c{k}",), (Level("null"), Level("exact"), Level("else")))
        for k in range(3)
    )
    true_m, true_u = np.array([0.95, 0.9, 0.85]), np.array([0.05, 0.1, 0.2])
    n, share = 200_000, 0.1
    is_match = rng.random(n) < share
    agree = np.where(is_match[:, None], rng.random((n, 3)) < true_m, rng.random((n, 3)) < true_u)
    gamma = np.where(agree, 1, 2).astype(np.int8)
    model = FellegiSunter(comps)
    # u from "random pairs": non-matches only, as random sampling nearly guarantees.
    model.estimate_u(gamma[~is_match])
    model.estimate_m_em(gamma, max_iter=200, tol=1e-9)
    got_m = np.array([m[1] for m in model.m])
    assert np.allclose(got_m, true_m, atol=0.02)
    assert np.allclose([u[1] for u in model.u], true_u, atol=0.01)
    assert model.prior == pytest.approx(share, abs=0.01)
    labelled = FellegiSunter(comps)
    labelled.estimate_m_labels(gamma, is_match)
    assert np.allclose([m[1] for m in labelled.m], true_m, atol=0.02)


def test_one_to_one_and_many_to_one_assignment():
    pairs = pd.DataFrame(
        {
            "left_row": [0, 0, 1, 1, 2],
            "right_row": [0, 1, 0, 1, 1],
            "match_weight": [10.0, 9.0, 8.0, 2.0, 5.0],
            "match_probability": [0.99, 0.98, 0.97, 0.8, 0.9],
        }
    )
    one = assign(pairs, "one_to_one")
    assert sorted(zip(one["left_row"], one["right_row"], strict=True)) == [(0, 0), (2, 1)]
    many = assign(pairs, "many_to_one")
    assert many["left_row"].tolist() == [0, 1, 2]
    assert many["right_row"].tolist() == [0, 0, 1]
    # Two strong candidates share the probability: neither is certain.
    assert many.loc[0, "match_probability"] == pytest.approx(2**10 / (1 + 2**10 + 2**9))


def test_blocking_skips_missing_and_dedupes_pairs():
    left = pd.DataFrame({"a": ["x", "x", None], "b": ["1", "2", "1"]})
    right = pd.DataFrame({"a": ["x", "y"], "b": ["1", "1"]})
    rules = (BlockingRule(("a",)), BlockingRule(("a", "b")))
    li, ri = block_pairs(left, right, rules)
    assert sorted(zip(li.tolist(), ri.tolist(), strict=True)) == [(0, 0), (1, 0)]
    li, ri = block_pairs(left, None, (BlockingRule(("a",)),))
    assert list(zip(li.tolist(), ri.tolist(), strict=True)) == [(0, 1)]


def _register() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_key": ["p1", "p2", "p3", "p4"],
            "household_no": ["h1", "h1", "h2", "h3"],
            "name_norm": ["王伟", "李娜", "王伟", "陈东"],
            "township": ["良山镇"] * 4,
            "village": ["下保村", "下保村", "新村", "新村"],
            "birth_date": pd.to_datetime(["1980-01-02", "1982-05-06", "1990-03-04", "1970-07-08"]),
            "sex": ["男", "女", "男", "男"],
            "id_number": [
                "360502198001020011",
                "360502198205060024",
                "360502199003040035",
                "360502197007080016",
            ],
            "relation": ["户主", "配偶", "户主", "户主"],
            "status": ["正常"] * 4,
        }
    )


def test_link_probabilistic_seam():
    records = pd.DataFrame(
        {
            "record_key": ["r1", "r2", "r3", "r4"],
            "name_norm": ["李纳", "王伟", "陈东", "赵六"],
            "township": ["良山镇", "良山镇", None, None],
            "village": ["下保村", "新村", None, None],
            "id_number": [None, None, "360502197007080061", None],
            "id_status": ["blank", "blank", "invalid_check", "blank"],
        }
    )
    out = link_probabilistic(records, _register())
    got = out.set_index("record_key")
    assert list(out.columns) == [
        "record_key",
        "person_key",
        "household_no",
        "match_probability",
        "decision",
    ]
    assert got.loc["r1", "person_key"] == "p2"  # homophone typo in the village
    assert got.loc["r2", "person_key"] == "p3"  # the 王伟 of that village
    assert got.loc["r3", "person_key"] == "p4"  # adjacent digits swapped in the ID
    assert "r4" not in got.index
    assert set(out["decision"]) <= {"accepted", "review"}
    assert out["match_probability"].between(0, 1).all()
    empty = link_probabilistic(records.iloc[0:0], _register())
    assert list(empty.columns) == list(out.columns) and empty.empty


def test_run_link_on_csv_files(tmp_path):
    left = tmp_path / "a.csv"
    right = tmp_path / "b.csv"
    pd.DataFrame(
        {
            "rid": ["a1", "a2", "a3"],
            "name": ["martha smith", "john brown", "ann lee"],
            "dob": ["19800102", "19751212", "19900505"],
        }
    ).to_csv(left, index=False)
    pd.DataFrame(
        {"rid": ["b1", "b2"], "name": ["martha smith", "ann lee"], "dob": ["19800102", "19900505"]}
    ).to_csv(right, index=False)
    settings = LinkSettings(
        link_type="link_only",
        blocking_rules=(BlockingRule(("dob",)), BlockingRule(("substr(name,0,3)",))),
        comparisons=(
            Comparison(
                "name",
                ("name",),
                (Level("null"), Level("exact"), Level("jaro_winkler", 0.9), Level("else")),
            ),
            Comparison("dob", ("dob",), (Level("null"), Level("exact"), Level("else"))),
        ),
        training="fixed",
        prior=0.3,
        accept_threshold=0.5,
        review_threshold=0.5,
    )
    cfg = tmp_path / "s.yaml"
    settings.to_yaml(cfg)
    out = tmp_path / "pairs.csv"
    assert run_link(cfg, left, right, "rid", out) == 0
    pairs = pd.read_csv(out)
    assert list(pairs.columns) == ["left_id", "right_id", "match_probability"]
    assert sorted(zip(pairs["left_id"], pairs["right_id"], strict=True)) == [
        ("a1", "b1"),
        ("a3", "b2"),
    ]
    # Dedupe: both ids from the one file.
    dup = tmp_path / "dup.csv"
    dup_rows = {
        "rid": ["x", "y", "z"],
        "name": ["ann lee", "ann lee", "bob"],
        "dob": ["19900505", "19900505", "19600101"],
    }
    pd.DataFrame(dup_rows).to_csv(dup, index=False)
    assert run_link(cfg, dup, None, "rid", out) == 0
    assert pd.read_csv(out)[["left_id", "right_id"]].values.tolist() == [["x", "y"]]
    assert run_link(cfg, dup, None, "nope", out) == 2
    assert run_link(cfg, tmp_path / "missing.csv", None, "rid", out) == 2
