"""People and households of the demo city (the 公安 户籍 master), built with numpy.

Households follow a handful of templates (couple with children, three generations, ...)
so relations and ages are consistent: a 孙子 is younger than his father, a 配偶 is the
opposite sex of the 户主. Every household keeps at least one living member aged 16-59
(its "anchor"), so the clean background never looks like a household without labour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .geo import Geography
from .ids import id_strings
from .names import draw_given, draw_minority, draw_surnames

__all__ = ["City", "age_on", "build_city", "recompute_anchor"]

WORK_MIN, WORK_MAX = 16, 59

# Household size distribution (rural Jiangxi: many 2-4 person households; mean ~3.1).
_SIZE_P = np.array([0.15, 0.25, 0.22, 0.18, 0.11, 0.06, 0.03])

# Templates per size: (weight, head age range, head male probability, other slots).
# A slot is (relation, reference slot, min offset, max offset): its age is the age of the
# reference slot plus the offset, so children are 22-36 years younger than a parent.
_Slot = tuple[str, int, int, int]
_KID: _Slot = ("子|女", 0, -36, -22)
_SPOUSE: _Slot = ("配偶", 0, -6, 3)
# fmt: off
_TEMPLATES: dict[int, list[tuple[float, tuple[int, int], float, tuple[_Slot, ...]]]] = {
    1: [(1.0, (22, 58), 0.65, ())],
    2: [
        (0.55, (28, 58), 0.9, (_SPOUSE,)),
        (0.20, (58, 80), 0.65, (("子|女", 0, -34, -24),)),
        (0.10, (22, 45), 0.65, (("父亲|母亲", 0, 22, 32),)),
        (0.15, (30, 55), 0.65, (("子|女", 0, -32, -20),)),
    ],
    3: [
        (0.7, (28, 50), 0.9, (_SPOUSE, _KID)),
        (0.3, (55, 75), 0.9, (_SPOUSE, ("子|女", 0, -34, -24))),
    ],
    4: [
        (0.6, (30, 50), 0.9, (_SPOUSE, _KID, _KID)),
        (0.4, (28, 45), 0.9, (_SPOUSE, _KID, ("父亲|母亲", 0, 22, 32))),
    ],
    5: [
        (0.55, (52, 72), 0.9,
         (_SPOUSE, ("子", 0, -32, -24), ("儿媳", 2, -3, 3), ("孙子|孙女", 2, -30, -20))),
        (0.45, (32, 48), 0.9, (_SPOUSE, _KID, _KID, ("父亲|母亲", 0, 22, 32))),
    ],
    6: [
        (0.6, (52, 72), 0.9,
         (_SPOUSE, ("子", 0, -32, -24), ("儿媳", 2, -3, 3), ("孙子|孙女", 2, -30, -20),
          ("孙子|孙女", 2, -30, -20))),
        (0.4, (32, 46), 0.9,
         (_SPOUSE, ("父亲", 0, 22, 32), ("母亲", 2, -5, 2), _KID, _KID)),
    ],
    7: [
        (0.5, (55, 72), 0.9,
         (_SPOUSE, ("子", 0, -32, -24), ("儿媳", 2, -3, 3), ("孙子|孙女", 2, -30, -20),
          ("孙子|孙女", 2, -30, -20), ("其他", 0, -40, -10))),
        (0.5, (34, 46), 0.9,
         (_SPOUSE, ("父亲", 0, 22, 32), ("母亲", 2, -5, 2), _KID, _KID, _KID)),
    ],
}
# fmt: on
# Relations that carry the family surname (the father's line).
_FAMILY_LINE = {"子", "女", "孙子", "孙女"}


@dataclass
class City:
    """The person master: `hh` one row per household, `persons` one row per person.

    Persons are sorted by household then slot (户主 first); `hh.first` / `hh.size` index
    into them. Ages are whole years on `as_of`.
    """

    as_of: np.datetime64
    geo: Geography
    hh: pd.DataFrame
    persons: pd.DataFrame


def _ymd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(a).astype("datetime64[D]")
    month_start = a.astype("datetime64[M]")
    y = a.astype("datetime64[Y]").astype(np.int64) + 1970
    m = month_start.astype(np.int64) % 12 + 1
    d = (a - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def age_on(birth: np.ndarray, day: np.ndarray | np.datetime64) -> np.ndarray:
    """Completed years between `birth` dates and `day` (one date or one per person)."""
    by, bm, bd = _ymd(birth)
    dy, dm, dd = _ymd(day)
    before = (bm > dm) | ((bm == dm) & (bd > dd))
    return (dy - by - before).astype(np.int64)


def build_city(
    geo: Geography, households: int, as_of: np.datetime64, rng: np.random.Generator
) -> City:
    """Draw households, members, names, IDs and the few background deaths and moves."""
    n = households
    size = rng.choice(np.arange(1, 8), size=n, p=_SIZE_P)
    tw = rng.choice(len(geo.tw_name), size=n, p=geo.tw_weight / geo.tw_weight.sum())
    vil = geo.tw_first_village[tw] + (rng.random(n) * geo.tw_village_count[tw]).astype(np.int64)
    county = geo.tw_county_code[tw]
    # 户号: county code + a random unique 6-digit number, so it is a city-wide key.
    hh_no = np.empty(n, dtype=object)
    for code in np.unique(county):
        sel = np.flatnonzero(county == code)
        nums = rng.choice(999_999, size=len(sel), replace=False) + 1
        hh_no[sel] = code + pd.Series(nums).astype(str).str.zfill(6).to_numpy(dtype=object)
    order = np.lexsort((hh_no.astype(str), vil))  # registers list households by village
    size, tw, vil, county, hh_no = size[order], tw[order], vil[order], county[order], hh_no[order]

    persons = _members(size, as_of, rng)
    hh_idx = persons["hh"].to_numpy()
    persons["county_code"] = county[hh_idx]
    _name_people(persons, n, rng)
    persons["id"] = _assign_ids(persons)
    persons["status"] = "正常"
    persons["cancel_date"] = np.datetime64("NaT", "D")
    persons["cancel_reason"] = ""

    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    hh = pd.DataFrame(
        {
            "hh_no": hh_no,
            "county_code": county,
            "county_name": geo.tw_county_name[tw],
            "township": geo.tw_name[tw],
            "village": geo.vil_name[vil],
            "tw": tw,
            "vil": vil,
            "first": first,
            "size": size,
        }
    )
    city = City(as_of=as_of, geo=geo, hh=hh, persons=persons)
    recompute_anchor(city)
    _background_cancellations(city, rng)
    recompute_anchor(city)
    if (city.hh["anchor"] < 0).any():  # templates guarantee one; keep the promise explicit
        raise AssertionError("a household has no working-age member")
    return city


def _members(size: np.ndarray, as_of: np.datetime64, rng: np.random.Generator) -> pd.DataFrame:
    """Expand households into members following the templates."""
    n = len(size)
    tpl = np.zeros(n, dtype=np.int64)
    for s, options in _TEMPLATES.items():
        sel = np.flatnonzero(size == s)
        w = np.array([o[0] for o in options])
        tpl[sel] = rng.choice(len(options), size=len(sel), p=w / w.sum())
    parts = []
    for s, options in _TEMPLATES.items():
        for t, (_, (lo, hi), male_p, slots) in enumerate(options):
            hsel = np.flatnonzero((size == s) & (tpl == t))
            k = len(hsel)
            if k == 0:
                continue
            ages = [rng.integers(lo, hi + 1, k)]
            males = [rng.random(k) < male_p]
            rels = [np.full(k, "户主", dtype=object)]
            for rel, ref, dlo, dhi in slots:
                age = ages[ref] + rng.integers(dlo, dhi + 1, k)
                young = age < 0  # a young parent: the child is a small one
                age[young] = rng.integers(0, 6, int(young.sum()))
                ages.append(np.clip(age, 0, 98))
                if rel == "配偶":
                    male = ~males[0]
                    relv = np.full(k, "配偶", dtype=object)
                elif "|" in rel:
                    m_rel, f_rel = rel.split("|")
                    male = rng.random(k) < 0.52
                    relv = np.where(male, m_rel, f_rel).astype(object)
                elif rel == "其他":
                    male = rng.random(k) < 0.5
                    relv = np.full(k, rel, dtype=object)
                else:
                    male = np.full(k, rel in ("子", "父亲", "孙子"))
                    relv = np.full(k, rel, dtype=object)
                males.append(male)
                rels.append(relv)
            for slot in range(len(ages)):
                parts.append(
                    pd.DataFrame(
                        {
                            "hh": hsel,
                            "slot": slot,
                            "relation": rels[slot],
                            "male": males[slot],
                            "age": ages[slot],
                        }
                    )
                )
    p = pd.concat(parts, ignore_index=True).sort_values(["hh", "slot"], kind="stable")
    p = p.reset_index(drop=True)
    # Birth date somewhere in the year before the age's birthday, then exact age on as_of.
    days_back = (p["age"].to_numpy() * 365.2425 + rng.uniform(1, 364, len(p))).astype(np.int64)
    p["birth"] = (as_of - days_back.astype("timedelta64[D]")).astype("datetime64[D]")
    p["age"] = age_on(p["birth"].to_numpy(), as_of)
    return p


def _name_people(p: pd.DataFrame, n_hh: int, rng: np.random.Generator) -> None:
    """Surnames follow the family line; given names depend on sex and generation."""
    hh = p["hh"].to_numpy()
    rel = p["relation"].to_numpy()
    male = p["male"].to_numpy()
    own = draw_surnames(rng, len(p))
    head_mask = rel == "户主"
    head_sur = np.empty(n_hh, dtype=object)
    head_sur[hh[head_mask]] = own[head_mask]
    head_male = np.zeros(n_hh, dtype=bool)
    head_male[hh[head_mask]] = male[head_mask]
    # The children's surname is the husband's: the head's, or the male spouse's.
    family = head_sur.copy()
    sp = (rel == "配偶") & male
    family[hh[sp]] = own[sp]
    surname = own.copy()
    line = np.isin(rel, list(_FAMILY_LINE))
    surname[line] = family[hh[line]]
    father = rel == "父亲"
    surname[father] = head_sur[hh[father]]
    old = pd.DatetimeIndex(p["birth"]).year.to_numpy() < 1975
    names = surname + draw_given(rng, male, old)
    # Ethnic minorities: a few Uyghur households (dotted names) and some 畲族 and others.
    u = rng.random(n_hh)
    ethnic_hh = np.full(n_hh, "汉族", dtype=object)
    ethnic_hh[u < 0.003] = "维吾尔族"
    other = (u >= 0.003) & (u < 0.013)
    choices = np.array(["畲族", "畲族", "畲族", "苗族", "回族", "壮族", "土家族"], dtype=object)
    ethnic_hh[other] = choices[rng.integers(0, len(choices), int(other.sum()))]
    ethnic = ethnic_hh[hh]
    uy = ethnic == "维吾尔族"
    names[uy] = draw_minority(rng, male[uy])
    p["name"] = names
    p["ethnic"] = ethnic


def _assign_ids(p: pd.DataFrame) -> np.ndarray:
    """Unique IDs: sequence numbers counted within (county, birth date, sex)."""
    birth = pd.DatetimeIndex(p["birth"])
    ymd = (birth.year * 10000 + birth.month * 100 + birth.day).to_numpy().astype(np.int64)
    code = p["county_code"].astype(np.int64).to_numpy()
    male = p["male"].to_numpy()
    key = pd.DataFrame({"c": code, "d": ymd, "m": male})
    rank = key.groupby(["c", "d", "m"], sort=False).cumcount().to_numpy()
    if rank.max(initial=0) >= 399:
        raise ValueError("too many people born on one day in one county for 3-digit sequences")
    # A per-group offset spreads sequence numbers instead of always starting at 001.
    offset = (ymd * 7919 + code * 104729) % 399
    k = (offset + rank) % 399  # 0..398; 800-999 stays free for people outside the master
    seq = np.where(male, 2 * k + 1, 2 * k + 2)
    body = code * 10**11 + ymd * 1000 + seq
    p["id_body"] = body
    return id_strings(body)


def recompute_anchor(city: City) -> None:
    """Anchor = first living member (slot order) aged 16-59, or -1 if there is none."""
    p = city.persons
    ok = (
        (p["status"].to_numpy() == "正常")
        & (p["age"].to_numpy() >= WORK_MIN)
        & (p["age"].to_numpy() <= WORK_MAX)
    )
    idx = np.flatnonzero(ok)
    anchor = np.full(len(city.hh), -1, dtype=np.int64)
    hh = p["hh"].to_numpy()[idx]
    first_pos = np.unique(hh, return_index=True)
    anchor[first_pos[0]] = idx[first_pos[1]]
    city.hh["anchor"] = anchor


def _background_cancellations(city: City, rng: np.random.Generator) -> None:
    """A few old members died and a few young ones moved away (never the anchor or head)."""
    p = city.persons
    n = len(p)
    idx = np.arange(n)
    is_anchor = np.zeros(n, dtype=bool)
    is_anchor[city.hh["anchor"].to_numpy()] = True
    free = (p["relation"].to_numpy() != "户主") & ~is_anchor
    age = p["age"].to_numpy()
    u = rng.random(n)
    dead = free & (age >= 65) & (u < 0.012)
    moved = free & (age >= 18) & (age <= 35) & (u < 0.01)
    when = city.as_of - rng.integers(1, 700, n).astype("timedelta64[D]")
    status = p["status"].to_numpy(dtype=object).copy()
    reason = p["cancel_reason"].to_numpy(dtype=object).copy()
    cdate = p["cancel_date"].to_numpy().copy()
    for mask, why in ((dead, "死亡"), (moved, "迁出")):
        sel = idx[mask]
        status[sel] = "注销"
        reason[sel] = why
        cdate[sel] = when[sel]
    p["status"] = status
    p["cancel_reason"] = reason
    p["cancel_date"] = cdate
