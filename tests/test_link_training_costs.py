"""Training costs that scale with the job: u sample sized by its error bound, exact-level u
counted exactly, every pair of a small job compared once, stage timings reported."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from matching.comparators import Sides
from matching.link_cli import link_files
from matching.model import u_sample_size
from matching.probabilistic import _train, link_frames
from matching.settings import LinkSettings

SETTINGS = LinkSettings.from_dict(
    {
        "link_type": "link_only",
        "assignment": "one_to_one",
        "training": "fixed",
        "blocking_rules": [["name"]],
        "comparisons": [
            {
                "name": "name",
                "columns": ["name"],
                "levels": ["null", "exact", {"kind": "levenshtein", "threshold": 1}, "else"],
            }
        ],
    }
)


def test_the_sample_size_follows_the_stated_bound():
    # n = z^2 (1 - p) / (e^2 p), z = 1.959964: 3.841459 * 0.999 / (0.04 * 0.001) = 95,940.4.
    assert u_sample_size(0.2, 1e-3, 10**9, 10**6) == 95_941
    # Only shares of 1% and more, within 10%: 3.841459 * 0.99 / (0.01 * 0.01) = 38,030.4.
    assert u_sample_size(0.1, 1e-2, 10**9, 10**6) == 38_031
    # Never more than the job has, nor than the cap.
    assert u_sample_size(0.2, 1e-3, 7 * 9_000, 10**6) == 63_000
    assert u_sample_size(0.01, 1e-6, 10**12, 10**6) == 10**6


def test_a_small_job_compares_every_pair_once_and_u_is_exact():
    left = pd.DataFrame({"name": ["ab", "ab", "cd", None]})
    right = pd.DataFrame({"name": ["ab", "cd", "cd", "ce", "xy"]})
    sides = Sides(left, right)
    model, stats = _train(sides, SETTINGS, dedupe=False)
    assert stats["u_pairs"] == 20 and stats["u_bound"]["all_pairs"]
    # Non-null pairs: 3 left x 5 right = 15. Exact: ab-ab twice, cd-cd twice = 4.
    # One edit (not exact): ab-? none; cd-ce = 1; ab-cd no (2 edits). Else: 10.
    u = model.u[0]
    assert u[1] == 4 / 15
    # The sampled levels share the rest (1 - 4/15) in their counts plus half a pair each.
    assert math.isclose(u[2], (11 / 15) * 1.5 / 12.0)
    assert math.isclose(u[3], (11 / 15) * 10.5 / 12.0)


def test_exact_level_u_is_counted_not_sampled_on_a_big_job():
    rng = np.random.default_rng(3)
    # 2,000 x 3,000 = 6M pairs: more than the bound, so u is sampled, except exact.
    left = pd.DataFrame({"name": rng.choice([f"n{i}" for i in range(40)], 2_000)})
    right = pd.DataFrame({"name": rng.choice([f"n{i}" for i in range(40)], 3_000)})
    model, stats = _train(Sides(left, right), SETTINGS, dedupe=False)
    assert stats["u_pairs"] == 95_941 and not stats["u_bound"]["all_pairs"]
    cl = left["name"].value_counts()
    cr = right["name"].value_counts().reindex(cl.index, fill_value=0)
    assert model.u[0][1] == float((cl * cr).sum()) / (2_000 * 3_000)


def test_dedupe_exact_share_counts_pairs_of_distinct_records():
    frame = pd.DataFrame({"name": ["ab", "ab", "ab", "cd"]})
    dedupe = LinkSettings.from_dict(SETTINGS.to_dict() | {"link_type": "dedupe_only"})
    model, stats = _train(Sides(frame, frame), dedupe, dedupe=True)
    # Ordered pairs of distinct records: 4 x 3 = 12; agreeing: 3 x 2 = 6.
    assert stats["u_pairs"] == 12
    assert model.u[0][1] == 0.5


def test_stage_timings_of_a_link_job(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    pd.DataFrame({"id": ["1", "2"], "name": ["ab", "cd"]}).to_csv(a, index=False)
    pd.DataFrame({"id": ["x", "y"], "name": ["ab", "cx"]}).to_csv(b, index=False)
    cfg = tmp_path / "s.yaml"
    SETTINGS.to_yaml(cfg)
    stats = link_files(cfg, a, b, "id", tmp_path / "out.csv")
    stages = ["read_s", "derive_s", "train_s", "block_s", "score_s", "assign_s", "write_s"]
    assert [k for k in stats if k.endswith("_s")] == stages
    assert all(stats[k] >= 0 for k in stages)
    assert pd.read_csv(tmp_path / "out.csv")[["left_id", "right_id"]].values.tolist() == [[1, "x"]]
    # The same pairs as link_frames on the frames themselves.
    direct = link_frames(pd.read_csv(a, dtype=str), pd.read_csv(b, dtype=str), SETTINGS)
    assert direct.pairs[["left_row", "right_row"]].values.tolist() == [[0, 0]]


def test_pinyin_of_a_name_is_read_once_per_process(monkeypatch):
    from matching import normalize as nz

    monkeypatch.setattr(nz, "_PINYIN_SEEN", {})
    calls = []
    real = nz._pinyin_distinct
    monkeypatch.setattr(nz, "_pinyin_distinct", lambda d: calls.append(len(d)) or real(d))
    first = nz.name_pinyin(pd.Series(["张伟", "单田芳"]))
    again = nz.name_pinyin(pd.Series(["单田芳", "张伟", "吕布", None]))
    assert first.tolist() == ["zhangwei", "shantianfang"]
    assert again.tolist() == ["shantianfang", "zhangwei", "lvbu", pd.NA]
    assert calls == [2, 1]  # only 吕布 was new
