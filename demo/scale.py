"""A register and department extract at any scale, generated with numpy (deterministic seed).

Households in villages of five counties, names from the demo's surname table and homophone
pairs, GB 11643 IDs; the extract carries the quirks departments produce (departments.md):
blank, 15-digit, check-digit typos and swaps, Excel-rounded and full-width IDs; traditional,
homophone and spaced names; a 5% share of people not in the register (hard negatives).
Used by the scale benchmark and by the linkage training tests.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pandas as pd

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


@cache
def _alphabet() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Given-name characters with Zipf weights, each one's homophone partner, and the
    traditional forms of characters and surnames (opencc, once per character)."""
    from opencc import OpenCC

    from demo.names import SURNAMES, TYPO

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
    from demo.names import SURNAMES

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
    from demo.names import SURNAMES

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


# The demo's name quirks on lead sources (demo/sources.py): a cadre hears the head's name
# (8% typos), an applicant types it (3%).
VISIT_NAME_QUIRKS = {"name_traditional": 0.01, "name_typo": 0.08, "name_space": 0.01}
DECLARATION_NAME_QUIRKS = {"name_traditional": 0.0, "name_typo": 0.03, "name_space": 0.01}
DECLARATION_ID_GIVEN = 0.85


def _quirky_names(
    people: pd.DataFrame, quirks: dict[str, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Names with traditional characters, a homophone or look-alike typo in one given-name
    character, or a space inside, at the given shares; and the quirk of each."""
    partner = _alphabet()[2]
    names = _names(people)
    edges = np.cumsum(list(quirks.values()))
    code = np.searchsorted(edges, rng.random(len(people)), side="right")
    labels = np.array([*quirks, ""], dtype=object)[code]
    sel = code == 0
    names[sel] = _names(people, np.flatnonzero(sel), trad=True)
    sel = np.flatnonzero(code == 1)
    typo = people.iloc[sel].copy()
    second = (typo["c2"].to_numpy() >= 0) & (rng.random(len(sel)) < 0.5)
    typo.loc[second, "c2"] = partner[typo.loc[second, "c2"].to_numpy()]
    typo.loc[~second, "c1"] = partner[typo.loc[~second, "c1"].to_numpy()]
    names[sel] = _names(typo)
    sel = np.flatnonzero(code == 2)
    spaced = pd.Series(names[sel], dtype=object)
    names[sel] = (spaced.str.slice(0, 1) + "\u3000" + spaced.str.slice(1)).to_numpy()
    return names, labels


def generate_leads(
    households: int, visits: int, declarations: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A register of about ``households`` households and two lead extracts naming a
    household by its head: cadre visits (name with the demo's quirks, township, village,
    no ID) and self-declarations (name, township, village, the head's ID for 85%, some of
    them with a check-digit typo). Every lead's household is in the register; its
    ``true_household`` says which."""
    rng = np.random.default_rng(seed)
    # Household sizes average 3.3 people (see _population).
    pop, mat = _population(int(households * 3.3), rng)
    ids = _strings(mat)
    town, vill = _place_names(pop["village"].to_numpy())
    register = pd.DataFrame(
        {
            "id_number": ids,
            "household_no": np.char.mod("H%08d", pop["household"].to_numpy()).astype(object),
            "name": _names(pop),
            "township": town,
            "village": vill,
            "birth_date": pd.Series(pop["born"].to_numpy()).dt.date.to_numpy(),
            "sex": np.where(pop["male"].to_numpy(), "男", "女").astype(object),
            "relation": np.where(
                pop["head"].to_numpy(), "户主", RELATIONS[np.maximum(pop["relation_code"], 0)]
            ).astype(object),
            "status": "正常",
        }
    )
    heads = np.flatnonzero(pop["head"].to_numpy())

    def extract(n: int, quirks: dict[str, float], prefix: str) -> pd.DataFrame:
        rows = rng.choice(heads, n, replace=False)
        people = pop.iloc[rows].reset_index(drop=True)
        names, labels = _quirky_names(people, quirks, rng)
        return pd.DataFrame(
            {
                "record_key": np.char.mod(f"{prefix}%07d", np.arange(n)).astype(object),
                "raw_name": names,
                "township": town[rows],
                "village": vill[rows],
                "raw_id": "",
                "birth_date": None,
                "sex": None,
                "true_household": register["household_no"].to_numpy()[rows],
                "corruptions": labels,
            }
        ), rows

    visit_frame, _ = extract(visits, VISIT_NAME_QUIRKS, "V")
    decl, rows = extract(declarations, DECLARATION_NAME_QUIRKS, "D")
    given = rng.random(declarations) < DECLARATION_ID_GIVEN
    decl_ids = ids[rows].copy()
    # One in fifty given IDs with a wrong check character, as the demo's declarations.
    bad = given & (rng.random(declarations) < 0.02)
    decl_ids[bad] = [i[:17] + ("0" if i[17] != "0" else "1") for i in decl_ids[bad]]
    decl["raw_id"] = np.where(given, decl_ids, "").astype(object)
    decl["corruptions"] = _join(
        np.where(~given, "id_blank", np.where(bad, "id_check_digit", "")).astype(object),
        decl["corruptions"].to_numpy(),
    )
    return register, visit_frame, decl


_LINKED = ("exact_id", "exact_name_place", "probabilistic", "review_confirmed")


def lead_outcomes(links: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Leads (``link_records``' links of a ``generate_leads`` extract) right, in review,
    wrong and unlinked, by household: right when linked to its true household."""
    ev = links.merge(truth[["record_key", "true_household", "corruptions"]], on="record_key")
    linked = ev["method"].isin(_LINKED)
    right = linked & ev["household_no"].astype("string").eq(ev["true_household"]).fillna(False)
    out = {
        "leads": len(ev),
        "right": int(right.sum()),
        "review": int(ev["method"].eq("review").sum()),
        "wrong": int((linked & ~right).sum()),
        "unlinked": int(ev["method"].eq("unlinked").sum()),
    }
    out["right_share"] = round(out["right"] / max(len(ev), 1), 5)
    typo = ev["corruptions"].str.contains("name_typo")
    out["typo_leads"] = int(typo.sum())
    out["typo_right"] = int((right & typo).sum())
    out["typo_review"] = int((ev["method"].eq("review") & typo).sum())
    out["by_method"] = ev["method"].value_counts().sort_index().to_dict()
    return out


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = (a != "") & (b != "")
    return np.where(both, a + ";" + b, a + b).astype(object)


def register_persons_frame(register: pd.DataFrame) -> pd.DataFrame:
    """The register as ``linker.register_persons`` returns it (dim_person + pii_identity)."""
    from crosscheck.settings import DEV_PII_KEY
    from matching.normalize import normalize_names
    from privacy import keyed_hash

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


def normalised_records(records: pd.DataFrame) -> pd.DataFrame:
    """What ingest stores for a record: identity (as resolve_identity) and the name."""
    from connectors.spec import load_specs
    from crosscheck.settings import DEV_PII_KEY
    from matching.identity import resolve_identity
    from matching.normalize import normalize_names

    spec = load_specs()["zhujian_housing"]  # any source whose ID column is a plain ID
    ident = resolve_identity(
        spec,
        pd.DataFrame({spec.id_field: records["raw_id"]}),
        DEV_PII_KEY.encode(),
        as_of=AS_OF,
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
