"""Scale benchmark: 1 million department records against a 1.2 million person register.

    python -m matching.bench_scale --out var/bench [--persons 1200000] [--records 1000000]
        [--seed 20261130] [--skip-all-probabilistic]

Target (issue 3): 1M records against 1.2M persons in under 2 minutes on 2 cores, peak
memory under 4 GiB. The register and the department extract are generated with numpy
(deterministic seed): households in 2,000 villages of 10 counties, names drawn from the
demo's surname table and homophone character pairs, GB 11643 IDs. The extract carries the
quirks departments produce (departments.md): blank, 15-digit, check-digit typos and
swaps, Excel-rounded (``...000`` and ``3.60502E+17``), full-width, spaced and lowercase-x
IDs; traditional, homophone and spaced names; a 5% share of people not in the register
(same villages and names, so they are hard negatives).

Each measurement runs in a fresh process on the generated data (cached as Parquet under
``OUT/scale_data``), so its peak RSS is the linking's, not the generator's:

- ``pipeline``: normalisation (``identity.resolve_identity``, ``normalize_names``) and then
  ``linker.link_records``, the function ``link_source`` runs for every source: exact ID,
  name in village, then the probabilistic stage. Cold (trains the source's model) and warm
  (reuses it, as later runs do with ``match_model``).
- ``all_probabilistic``: every record through ``probabilistic.link_to_register`` with no
  exact stage (ID digits only as fuzzy evidence): the throughput of the fuzzy path.

Precision, recall and F1 are per record against the generated truth (a link counts when
accepted; review is not a link). Results go to ``OUT/match_scale.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["generate", "main"]

AS_OF = dt.date(2026, 11, 30)
COUNTIES = ("360502", "360521", "360503", "360522", "360523")
COUNTIES += ("360524", "360525", "360526", "360527", "360528")
TOWNSHIPS_PER_COUNTY = 10
VILLAGES_PER_TOWNSHIP = 20
OUTSIDER_SHARE = 0.05  # records of people who are not in the register
RELATIONS = np.array(
    ["配偶", "子", "女", "父亲", "母亲", "孙子", "孙女", "儿媳", "其他"], dtype=object
)
# Shares of ID quirks among records (the rest is a valid ID). 15-digit IDs come on top:
# 15% of people born before 1960; lowercase x: a quarter of IDs ending in X.
ID_QUIRKS = {
    "id_blank": 0.05,
    "id_check_digit": 0.01,
    "id_mangled": 0.01,
    "id_fullwidth": 0.005,
    "id_space": 0.01,
}
NAME_QUIRKS = {"name_traditional": 0.01, "name_typo": 0.01, "name_space": 0.008}
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- generation


@cache
def _alphabet() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Given-name characters with Zipf weights, each one's homophone partner, and the
    traditional forms of characters and surnames (opencc, once per character)."""
    from opencc import OpenCC

    from crosscheck.demo.names import SURNAMES, TYPO

    chars = sorted(set(TYPO) | set(TYPO.values()))
    index = {c: i for i, c in enumerate(chars)}
    partner = np.array([index[TYPO[c]] if c in TYPO else index[c] for c in chars])
    # A character that is only ever a typo target gets the character it came from.
    back = {v: k for k, v in TYPO.items()}
    for i, c in enumerate(chars):
        if partner[i] == i and c in back:
            partner[i] = index[back[c]]
    rank = np.random.default_rng(1).permutation(len(chars))
    weights = 1.0 / (rank + 5.0)
    cc = OpenCC("s2t")
    trad = np.array([cc.convert(c) for c in chars], dtype=object)
    sur_trad = np.array([cc.convert(s) for s, _ in SURNAMES], dtype=object)
    return np.array(chars, dtype=object), weights / weights.sum(), partner, trad, sur_trad


def _id_matrix(region: np.ndarray, ymd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """(n, 18) uint8 ASCII digits of GB 11643 IDs with their check character."""
    body = region.astype(np.int64) * 10**11 + ymd.astype(np.int64) * 1000 + seq
    digits = np.empty((len(body), 17), dtype=np.int64)
    rest = body.copy()
    for k in range(16, -1, -1):
        digits[:, k] = rest % 10
        rest //= 10
    mat = np.empty((len(body), 18), dtype=np.uint8)
    mat[:, :17] = digits + ord("0")
    mat[:, 17] = _CHECK[(digits @ _WEIGHTS) % 11]
    return mat


def _strings(mat: np.ndarray) -> np.ndarray:
    """Rows of an ASCII byte matrix as an object array of str."""
    width = mat.shape[1]
    return np.ascontiguousarray(mat).view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def _population(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` people in households and villages (names, sexes, birth dates) and their IDs
    as an (n, 18) byte matrix."""
    from crosscheck.demo.names import SURNAMES

    chars, weights, _partner, _trad, _sur_trad = _alphabet()
    sizes = rng.choice(np.arange(1, 8), size=n, p=[0.12, 0.22, 0.2, 0.2, 0.14, 0.08, 0.04])
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, n)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(cum[k - 1]) - n
    hh = np.repeat(np.arange(k), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n_villages = len(COUNTIES) * TOWNSHIPS_PER_COUNTY * VILLAGES_PER_TOWNSHIP
    village = rng.integers(0, n_villages, k)[hh]
    township = village // VILLAGES_PER_TOWNSHIP
    county = township // TOWNSHIPS_PER_COUNTY
    head = pos == 0
    male = np.where(head, rng.random(n) < 0.8, rng.random(n) < 0.5)
    # Heads 25-85 years old, other members 0-95.
    age_days = np.where(head, rng.integers(25 * 365, 85 * 365, n), rng.integers(0, 95 * 365, n))
    born = np.datetime64("2026-06-30") - age_days.astype("timedelta64[D]")
    ymd = pd.DatetimeIndex(born).strftime("%Y%m%d").to_numpy().astype(np.int64)
    # Surnames: mostly the household's; given names of one (28%) or two characters.
    sur_w = np.array([w for _, w in SURNAMES])
    hh_sur = rng.choice(len(SURNAMES), size=k, p=sur_w / sur_w.sum())[hh]
    surname = np.where(
        rng.random(n) < 0.75, hh_sur, rng.choice(len(SURNAMES), n, p=sur_w / sur_w.sum())
    )
    c1 = rng.choice(len(chars), n, p=weights)
    c2 = np.where(rng.random(n) < 0.72, rng.choice(len(chars), n, p=weights), -1)
    # Unique IDs: sequence numbers counted within (county, birth date, sex).
    region = np.array(COUNTIES, dtype=np.int64)[county]
    key = (region * 10**8 + ymd) * 2 + male
    order = np.argsort(key, kind="stable")
    sk = key[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    offset = rng.integers(0, 300, n)
    offset = offset[order][np.repeat(starts, np.diff(np.r_[starts, n]))]  # one per group
    offset_by_row = np.empty(n, dtype=np.int64)
    offset_by_row[order] = offset
    seq = 2 * (offset_by_row + rank) + male
    if seq.max() >= 1000:
        raise RuntimeError("sequence numbers overflow: too many people per birth date")
    return pd.DataFrame(
        {
            "household": hh,
            "head": head,
            "relation_code": np.where(head, -1, rng.integers(0, len(RELATIONS), n)),
            "village": village,
            "township": township,
            "county": county,
            "male": male,
            "born": born,
            "surname": surname,
            "c1": c1,
            "c2": c2,
        }
    ), _id_matrix(region, ymd, seq)


def _names(pop: pd.DataFrame, idx: np.ndarray | None = None, *, trad: bool = False) -> np.ndarray:
    from crosscheck.demo.names import SURNAMES

    chars, _w, _p, trad_chars, sur_trad = _alphabet()
    sur = sur_trad if trad else np.array([s for s, _ in SURNAMES], dtype=object)
    table = trad_chars if trad else chars
    p = pop if idx is None else pop.iloc[idx]
    c2 = p["c2"].to_numpy()
    second = np.where(c2 >= 0, table[np.maximum(c2, 0)], "")
    return sur[p["surname"].to_numpy()] + table[p["c1"].to_numpy()] + second


def _place_names(village: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    township = village // VILLAGES_PER_TOWNSHIP
    t_names = np.array([f"第{i:03d}镇" for i in range(township.max() + 1)], dtype=object)
    v_names = np.array([f"第{i % VILLAGES_PER_TOWNSHIP:02d}村" for i in range(village.max() + 1)])
    return t_names[township], v_names.astype(object)[village]


def generate(persons: int, records: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(register, raw department records with their truth), both as plain frames."""
    rng = np.random.default_rng(seed)
    n_out_people = int(persons * OUTSIDER_SHARE * 1.5)
    pop, mat = _population(persons + n_out_people, rng)
    # Whole households are outsiders: people of the same villages who are not registered.
    hh = pop["household"].to_numpy()
    outsider_hh = rng.random(hh.max() + 1) < n_out_people / len(pop)
    outsider = outsider_hh[hh]
    reg = pop[~outsider].reset_index(drop=True)
    out_pop = pop[outsider].reset_index(drop=True)

    partner = _alphabet()[2]
    ids = _strings(mat[~outsider])
    town, vill = _place_names(reg["village"].to_numpy())
    dead = rng.random(len(reg)) < 0.02
    register = pd.DataFrame(
        {
            "id_number": ids,
            "household_no": np.char.mod("H%08d", reg["household"].to_numpy()).astype(object),
            "name": _names(reg),
            "township": town,
            "village": vill,
            "birth_date": pd.Series(reg["born"].to_numpy()).dt.date.to_numpy(),
            "sex": np.where(reg["male"].to_numpy(), "男", "女").astype(object),
            "relation": np.where(
                reg["head"].to_numpy(), "户主", RELATIONS[np.maximum(reg["relation_code"], 0)]
            ).astype(object),
            "status": np.where(dead, "注销", "正常").astype(object),
        }
    )

    # Records: 95% register people (a person may appear in several), 5% outsiders.
    n_out = int(records * OUTSIDER_SHARE)
    from_reg = rng.integers(0, len(reg), records - n_out)
    from_out = rng.integers(0, len(out_pop), n_out)
    people = pd.concat([reg.iloc[from_reg], out_pop.iloc[from_out]], ignore_index=True)
    people_mat = np.concatenate([mat[~outsider][from_reg], mat[outsider][from_out]])
    truth = np.r_[from_reg, np.full(n_out, -1)]
    shuffle = rng.permutation(records)
    people, truth = people.iloc[shuffle].reset_index(drop=True), truth[shuffle]
    mat = people_mat[shuffle]
    n = records

    # Names: traditional, homophone typo, a space inside.
    names = _names(people)
    u = rng.random(n)
    edges = np.cumsum(list(NAME_QUIRKS.values()))
    name_code = np.searchsorted(edges, u, side="right")
    name_labels = np.array([*NAME_QUIRKS, ""], dtype=object)[name_code]
    sel = name_code == 0
    names[sel] = _names(people, np.flatnonzero(sel), trad=True)
    sel = np.flatnonzero(name_code == 1)
    typo = people.iloc[sel].copy()
    second = (typo["c2"].to_numpy() >= 0) & (rng.random(len(sel)) < 0.5)
    typo.loc[second, "c2"] = partner[typo.loc[second, "c2"].to_numpy()]
    typo.loc[~second, "c1"] = partner[typo.loc[~second, "c1"].to_numpy()]
    names[sel] = _names(typo)
    sel = np.flatnonzero(name_code == 2)
    spaced = pd.Series(names[sel], dtype=object)
    names[sel] = (
        spaced.str.slice(0, 1)
        + np.where(rng.random(len(sel)) < 0.5, " ", "\u3000")
        + spaced.str.slice(1)
    ).to_numpy()

    # IDs.
    born_year = pd.DatetimeIndex(people["born"]).year.to_numpy()
    u, v = rng.random(n), rng.random(n)
    edges = np.cumsum(list(ID_QUIRKS.values()))
    id_code = np.searchsorted(edges, u, side="right")
    id_labels = np.array([*ID_QUIRKS, ""], dtype=object)[id_code]
    plain = id_code == len(ID_QUIRKS)
    old15 = plain & (born_year < 1960) & (v < 0.15)
    lower_x = plain & ~old15 & (mat[:, 17] == ord("X")) & (v < 0.25)
    id_labels[old15] = "id_15"
    id_labels[lower_x] = "id_lowercase_x"
    # Check-digit errors on the byte matrix: a wrong check character, one body digit
    # mistyped, or two different neighbours swapped.
    sel = np.flatnonzero(id_labels == "id_check_digit")
    kind = rng.random(len(sel))
    wrong = sel[kind < 0.4]
    cur = np.searchsorted(np.sort(_CHECK), mat[wrong, 17])  # any other check character
    mat[wrong, 17] = np.sort(_CHECK)[(cur + rng.integers(1, 11, len(wrong))) % 11]
    typo_rows = sel[(kind >= 0.4) & (kind < 0.75)]
    pos = rng.integers(6, 17, len(typo_rows))
    d = mat[typo_rows, pos].astype(np.int64) - ord("0")
    mat[typo_rows, pos] = ((d + rng.integers(1, 10, len(typo_rows))) % 10 + ord("0")).astype(
        np.uint8
    )
    swap_rows = sel[kind >= 0.75]
    pos = rng.integers(6, 16, len(swap_rows))
    a, b = mat[swap_rows, pos].copy(), mat[swap_rows, pos + 1].copy()
    same = a == b
    mat[swap_rows, pos], mat[swap_rows, pos + 1] = b, a
    # Equal neighbours swap to the same ID: change the check character instead.
    fix = swap_rows[same]
    mat[fix, 17] = np.where(mat[fix, 17] == ord("0"), ord("1"), ord("0"))
    raw = _strings(mat)
    s = pd.Series(raw, dtype=object)
    sel = np.flatnonzero(id_labels == "id_mangled")
    ends_x = mat[sel, 17] == ord("X")
    zeros = ~ends_x & (rng.random(len(sel)) < 0.7)
    raw[sel[zeros]] = (s.iloc[sel[zeros]].str.slice(0, 15) + "000").to_numpy()
    sci = sel[~zeros]  # what Excel shows: 3.60502E+17
    raw[sci] = (s.iloc[sci].str.slice(0, 1) + "." + s.iloc[sci].str.slice(1, 6) + "E+17").to_numpy()
    sel = np.flatnonzero(old15)
    raw[sel] = (s.iloc[sel].str.slice(0, 6) + s.iloc[sel].str.slice(8, 17)).to_numpy()
    sel = np.flatnonzero(lower_x)
    raw[sel] = (s.iloc[sel].str.slice(0, 17) + "x").to_numpy()
    sel = np.flatnonzero(id_labels == "id_fullwidth")
    raw[sel] = (
        s.iloc[sel].str.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")).to_numpy()
    )
    sel = np.flatnonzero(id_labels == "id_space")
    raw[sel] = (
        s.iloc[sel].str.slice(0, 6)
        + " "
        + s.iloc[sel].str.slice(6, 14)
        + " "
        + s.iloc[sel].str.slice(14)
    ).to_numpy()
    raw[id_labels == "id_blank"] = ""

    # Place: always with a blank ID (such extracts name the village), else half the rows.
    has_place = (id_labels == "id_blank") | (rng.random(n) < 0.5)
    town, vill = _place_names(people["village"].to_numpy())
    born = pd.Series(people["born"].to_numpy())
    has_date = rng.random(n) < 0.4
    has_sex = rng.random(n) < 0.4
    return register, pd.DataFrame(
        {
            "record_key": np.char.mod("R%08d", np.arange(n)).astype(object),
            "raw_id": raw,
            "raw_name": names,
            "township": np.where(has_place, town, None),
            "village": np.where(has_place, vill, None),
            "birth_date": np.where(has_date, born.dt.date.to_numpy(), None),
            "sex": np.where(has_sex, np.where(people["male"].to_numpy(), "男", "女"), None),
            "true_row": truth,
            "corruptions": _join(id_labels, name_labels),
        }
    )


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = (a != "") & (b != "")
    return np.where(both, a + ";" + b, a + b).astype(object)


# --------------------------------------------------------------------------- measuring

HARD_ID = ("id_check_digit", "id_mangled", "id_blank")


def _load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(data / "register.parquet"), pd.read_parquet(data / "records.parquet")


def _persons(register: pd.DataFrame) -> pd.DataFrame:
    """The register as ``linker.register_persons`` returns it (dim_person + pii_identity)."""
    from crosscheck.settings import DEV_PII_KEY
    from matching.identity import keyed_hash
    from matching.normalize import normalize_names

    return pd.DataFrame(
        {
            "person_key": keyed_hash(register["id_number"].astype("string"), DEV_PII_KEY.encode()),
            "household_no": register["household_no"],
            "name_norm": normalize_names(register["name"]),
            "township": register["township"],
            "village": register["village"],
            "birth_date": register["birth_date"],
            "sex": register["sex"],
            "status": register["status"],
            "relation": register["relation"],
            "id_number": register["id_number"],
        }
    )


def _normalise(records: pd.DataFrame) -> pd.DataFrame:
    """What ingest stores for a record: identity (as resolve_identity) and the name."""
    from connectors.spec import load_specs
    from crosscheck.settings import DEV_PII_KEY
    from matching.identity import resolve_identity
    from matching.normalize import normalize_names

    spec = load_specs()["zhujian_housing"]  # any source whose ID column is a plain ID
    ident = resolve_identity(
        spec, pd.DataFrame({spec.id_field: records["raw_id"]}), DEV_PII_KEY.encode()
    )
    return pd.DataFrame(
        {
            "record_key": records["record_key"],
            "person_key": ident["person_key"],
            "id_status": ident["id_status"],
            "name_norm": normalize_names(records["raw_name"]),
            "township": records["township"],
            "village": records["village"],
            "birth_date": records["birth_date"],
            "sex": records["sex"],
            "id_number": ident["id_number"],
        }
    )


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


def _evaluate(truth: pd.DataFrame, got: pd.DataFrame) -> dict:
    """P/R/F1 overall and by ID corruption; ``got``: record_key, person_key, method."""
    ev = truth.merge(got, on="record_key", how="left")
    linked = ev["method"].isin(["exact_id", "exact_name_place", "probabilistic"]).to_numpy()
    correct = ev["person_key"].astype("string").eq(ev["true_key"]).fillna(False).to_numpy()
    has_truth = ev["true_key"].notna().to_numpy()
    corr = ev["corruptions"].astype(str)

    def metrics(sel: np.ndarray) -> dict:
        tp = int((sel & linked & correct).sum())
        fp = int((sel & linked & ~correct).sum())
        fn = int((sel & has_truth & ~(linked & correct)).sum())
        return _prf(tp, fp, fn) | {
            "records": int(sel.sum()),
            "review": int((sel & ev["method"].eq("review").to_numpy()).sum()),
        }

    hard = corr.str.contains("|".join(HARD_ID)).to_numpy()
    alike = ev["indistinguishable"].to_numpy(dtype=bool)
    out = {"overall": metrics(np.ones(len(ev), dtype=bool))}
    out["overall_distinguishable"] = metrics(~alike)
    out["corrupted_id_hard"] = metrics(hard)
    out["corrupted_id_hard_distinguishable"] = metrics(hard & ~alike)
    out["indistinguishable"] = metrics(alike)
    for code in (*ID_QUIRKS, "id_15", *NAME_QUIRKS):
        out[code] = metrics(corr.str.contains(code).to_numpy())
    out["no_partner"] = metrics(~has_truth)
    out["methods"] = ev["method"].value_counts().to_dict()
    return out


def _truth(raw: pd.DataFrame, records: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """True person per record, its corruptions, and whether it is indistinguishable."""
    from matching.bench_match import indistinguishable

    row = raw["true_row"].to_numpy()
    key = persons["person_key"].to_numpy()[np.maximum(row, 0)]
    truth = pd.DataFrame(
        {
            "record_key": raw["record_key"],
            "true_key": pd.array(np.where(row >= 0, key, None), dtype="string"),
            "corruptions": raw["corruptions"],
        }
    )
    # Only records without a full ID can be: the hard-ID ones and the people not registered.
    maybe = (
        raw["corruptions"].str.contains("|".join(HARD_ID)).to_numpy() | truth["true_key"].isna()
    ).to_numpy(dtype=bool)
    flags = indistinguishable(records[maybe], persons, truth.loc[maybe, "true_key"])
    truth["indistinguishable"] = False
    truth.loc[maybe, "indistinguishable"] = flags.to_numpy()
    return truth


def measure_pipeline(data: Path) -> dict:
    """Normalise, then link_records cold (training) and warm (stored model)."""
    from matching.comparators import settings_expressions, with_expressions
    from matching.linker import link_records
    from matching.settings import load_settings

    register, raw = _load(data)
    t0 = time.perf_counter()
    persons = _persons(register)
    register_s = time.perf_counter() - t0
    del register
    t0 = time.perf_counter()
    records = _normalise(raw)
    normalise_s = time.perf_counter() - t0
    truth = _truth(raw, records, persons)
    del raw
    settings = load_settings("department")
    # As link_all does once per run for all sources: the register's derived keys.
    t0 = time.perf_counter()
    persons = with_expressions(persons, settings_expressions(settings))
    register_index_s = time.perf_counter() - t0
    runs = {}
    model = None
    links = {}
    for run in ("cold", "warm"):
        t0 = time.perf_counter()
        result = link_records(
            records,
            persons,
            source_id="bench_scale",
            links_by="head",
            settings=settings,
            model=model,
        )
        seconds = time.perf_counter() - t0
        model = result.model
        links[run] = result.links
        runs[run] = {
            "link_s": round(seconds, 2),
            "stats": result.stats,
            "quality": _evaluate(truth, result.links),
            "peak_rss_mib": round(_peak_rss_mib()),
        }
    key = ["record_key", "person_key", "method", "match_probability"]
    cold, warm = (links[r][key].astype(object) for r in ("cold", "warm"))
    same = cold.where(cold.notna(), None).equals(warm.where(warm.notna(), None))
    return {
        "register_s": round(register_s, 2),
        "register_index_s": round(register_index_s, 2),
        "normalise_s": round(normalise_s, 2),
        "runs": runs,
        "warm_links_identical": bool(same),
        "model": model.to_dict() if model is not None else None,
        "peak_rss_mib": round(_peak_rss_mib()),
    }


def measure_all_probabilistic(data: Path) -> dict:
    """Every record through link_to_register (no exact stage): the fuzzy path's throughput."""
    from matching.probabilistic import link_to_register
    from matching.settings import load_settings

    register, raw = _load(data)
    persons = _persons(register)
    del register
    records = _normalise(raw)
    truth = _truth(raw, records, persons)
    records = records.drop(columns="person_key")
    del raw
    t0 = time.perf_counter()
    found, result = link_to_register(records, persons, load_settings("department"))
    seconds = time.perf_counter() - t0
    got = found.assign(
        method=np.where(found["decision"].eq("accepted"), "probabilistic", "review")
    )[["record_key", "person_key", "method"]]
    return {
        "link_s": round(seconds, 2),
        "stats": result.stats,
        "quality": _evaluate(truth, got),
        "peak_rss_mib": round(_peak_rss_mib()),
    }


# --------------------------------------------------------------------------- driver


def _data_dir(out: Path, persons: int, records: int, seed: int) -> Path:
    """Generated once per (size, seed); later runs reuse the Parquet files."""
    data = out / "scale_data" / f"p{persons}_r{records}_s{seed}"
    if not (data / "records.parquet").exists():
        t0 = time.perf_counter()
        register, records_frame = generate(persons, records, seed)
        data.mkdir(parents=True, exist_ok=True)
        register.to_parquet(data / "register.parquet")
        records_frame.to_parquet(data / "records.parquet")
        print(
            f"generated {len(register)} persons, {len(records_frame)} records in "
            f"{time.perf_counter() - t0:.1f} s -> {data}",
            flush=True,
        )
    return data


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _measure_in_subprocess(kind: str, data: Path) -> dict:
    load_before = _load_average()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "matching.bench_scale", "--measure", kind, "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - t0, 2)
    result["load_average_before"] = load_before
    result["load_average_after"] = _load_average()
    return result


def _markdown(result: dict) -> str:
    lines = [
        "# Scale benchmark: department records against the register",
        "",
        f"Command: `{result['command']}`; machine: {result['machine']}.",
        f"Data: {result['persons']:,} register persons, {result['records']:,} records, "
        f"seed {result['seed']}. Target: linking in < 120 s with peak RSS < 4096 MiB.",
        "",
        "| run | normalise s | exact s | name s | train s | probabilistic s | link total s "
        "| to prob. | candidate pairs | peak RSS MiB | load avg | P | R | F1 | hard-ID F1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    pipe = result.get("pipeline")
    if pipe:
        for name, run in pipe["runs"].items():
            st, q = run["stats"], run["quality"]
            prob = st.get("probabilistic", {})
            lines.append(
                f"| pipeline {name} | {pipe['normalise_s']} | {st['exact_s']} | "
                f"{st['name_place_s']} | {prob.get('train_s', 0)} | "
                f"{st.get('probabilistic_s', 0)} | {run['link_s']} | {st['to_probabilistic']:,} | "
                f"{prob.get('candidate_pairs', 0):,} | {run['peak_rss_mib']} | "
                f"{pipe['load_average_before']} | {q['overall']['precision']:.4f} | "
                f"{q['overall']['recall']:.4f} | {q['overall']['f1']:.4f} | "
                f"{q['corrupted_id_hard']['f1']:.4f} |"
            )
    allp = result.get("all_probabilistic")
    if allp:
        st, q = allp["stats"], allp["quality"]
        lines.append(
            f"| all probabilistic | - | - | - | {st.get('train_s', 0)} | {allp['link_s']} | "
            f"{allp['link_s']} | {result['records']:,} | {st.get('candidate_pairs', 0):,} | "
            f"{allp['peak_rss_mib']} | {allp['load_average_before']} | "
            f"{q['overall']['precision']:.4f} | {q['overall']['recall']:.4f} | "
            f"{q['overall']['f1']:.4f} | {q['corrupted_id_hard']['f1']:.4f} |"
        )
    if pipe:
        lines += [
            "",
            f"Warm run links identical to the cold run: {pipe['warm_links_identical']}. "
            f"Register preparation (person keys, names; done by ingest in the pipeline): "
            f"{pipe['register_s']} s; the register's derived keys, once per run for all "
            f"sources (`with_expressions`): {pipe['register_index_s']} s. Normalising the "
            "records (identity, names) is ingest's work, listed apart from linking.",
            "",
            "By subset (pipeline, warm). _indistinguishable_: records without a full ID whose "
            "every stated value also fits a register person other than the true one.",
            "",
            "| subset | records | precision | recall | F1 | false links | missed | review |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, m in pipe["runs"]["warm"]["quality"].items():
            if isinstance(m, dict) and "f1" in m:
                lines.append(
                    f"| {name} | {m['records']:,} | {m['precision']:.4f} | {m['recall']:.4f} | "
                    f"{m['f1']:.4f} | {m['fp']:,} | {m['fn']:,} | {m['review']:,} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.bench_scale")
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    parser.add_argument("--persons", type=int, default=1_200_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--skip-all-probabilistic", action="store_true")
    parser.add_argument(
        "--measure", choices=["pipeline", "all_probabilistic"], help=argparse.SUPPRESS
    )
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # the child process: one measurement, JSON on the last stdout line
        fn = measure_pipeline if args.measure == "pipeline" else measure_all_probabilistic
        print(json.dumps(fn(args.data), ensure_ascii=False, default=str))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    data = _data_dir(args.out, args.persons, args.records, args.seed)
    result: dict = {
        "command": " ".join(["python -m matching.bench_scale", *(argv or sys.argv[1:])]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "persons": int(pd.read_parquet(data / "register.parquet", columns=["sex"]).shape[0]),
        "records": args.records,
        "seed": args.seed,
    }
    result["pipeline"] = _measure_in_subprocess("pipeline", data)
    if not args.skip_all_probabilistic:
        result["all_probabilistic"] = _measure_in_subprocess("all_probabilistic", data)
    (args.out / "match_scale.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, default=str)
    )
    (args.out / "match_scale.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
