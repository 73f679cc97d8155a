"""Shared plumbing for turning facts into department files (see sources.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .city import City
from .facts import Facts
from .periods import Periods
from .quirks import META, IdQuirks, NameQuirks, corrupt_ids, corrupt_names, join_codes

__all__ = ["Ctx", "OutFile", "make_frame"]


@dataclass
class OutFile:
    """One file to write: data columns (in header order) plus META bookkeeping columns.

    `header` is the header as written (quirks included); `fmt` is csv/xlsx/jsonl/sqlite.
    """

    source_id: str
    name: str
    fmt: str
    frame: pd.DataFrame
    header: list[str]
    encoding: str = ""
    newline: str = "\n"
    header_quirks: list[str] = field(default_factory=list)
    period: str = ""
    redrop_as: str = ""  # also dropped a second time under this name (identical bytes)


def make_frame(
    data: dict[str, np.ndarray],
    pidx: np.ndarray,
    hh: np.ndarray,
    corr: np.ndarray | None = None,
    planted: np.ndarray | None = None,
) -> pd.DataFrame:
    """Data columns as object dtype (cells keep their Python type) plus META columns."""
    n = len(pidx)
    cols = {k: pd.Series(np.asarray(v, dtype=object), dtype=object) for k, v in data.items()}
    cols["__pidx"] = pd.Series(np.asarray(pidx, dtype=np.int64))
    cols["__hh"] = pd.Series(np.asarray(hh, dtype=np.int64))
    cols["__corr"] = pd.Series(np.full(n, "", dtype=object) if corr is None else corr, dtype=object)
    cols["__reject"] = pd.Series(np.full(n, "", dtype=object), dtype=object)
    cols["__planted"] = pd.Series(np.zeros(n, dtype=bool) if planted is None else planted)
    frame = pd.DataFrame(cols)
    assert list(frame.columns[-len(META) :]) == list(META)
    return frame


@dataclass
class Ctx:
    """What every source builder needs: the city, its facts and per-person text."""

    city: City
    facts: Facts
    periods: Periods
    rng: Callable[[str], np.random.Generator]
    planted_hh: np.ndarray = None  # bool per household: carries a planted signal
    decisions: pd.DataFrame = None  # county decisions to write (demo/cases.py)

    def __post_init__(self) -> None:
        p = self.city.persons
        hh = self.city.hh
        self.ids = p["id"].to_numpy(dtype=object)
        self.names = p["name"].to_numpy(dtype=object)
        self.born = p["birth"].to_numpy().astype("datetime64[Y]").astype(np.int64) + 1970
        self.male = p["male"].to_numpy()
        self.hh_of = p["hh"].to_numpy()
        self.head = hh["first"].to_numpy()
        self.hh_no = hh["hh_no"].to_numpy(dtype=object)
        self.township = hh["township"].to_numpy(dtype=object)
        self.village = hh["village"].to_numpy(dtype=object)
        self.county = hh["county_name"].to_numpy(dtype=object)
        o = self.facts.outsiders
        self.o_ids = o["id"].to_numpy(dtype=object)
        self.o_names = o["name"].to_numpy(dtype=object)
        self.o_born = pd.DatetimeIndex(o["birth"]).year.to_numpy().astype(np.int64)
        self.o_male = o["male"].to_numpy()
        self.o_birth = o["birth"].to_numpy().astype("datetime64[D]")

    def col(self, name: str) -> np.ndarray:
        """A low-cardinality persons column as an object array that shares one string object
        per distinct value (an Arrow -> object conversion would make one per row)."""
        c = pd.Categorical(self.city.persons[name])
        return np.asarray(c.categories, dtype=object)[c.codes]

    def people(
        self, pidx: np.ndarray, oidx: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ids, names, birth years, male) for master people or outsiders (pidx = -1)."""
        pidx = np.asarray(pidx, dtype=np.int64)
        m = pidx >= 0
        pi = np.maximum(pidx, 0)
        if oidx is None:
            return self.ids[pi], self.names[pi], self.born[pi], self.male[pi]
        oi = np.maximum(np.asarray(oidx, dtype=np.int64), 0)
        return (
            np.where(m, self.ids[pi], self.o_ids[oi]),
            np.where(m, self.names[pi], self.o_names[oi]),
            np.where(m, self.born[pi], self.o_born[oi]),
            np.where(m, self.male[pi], self.o_male[oi]),
        )

    def person_hh(self, pidx: np.ndarray) -> np.ndarray:
        pidx = np.asarray(pidx, dtype=np.int64)
        return np.where(pidx >= 0, self.hh_of[np.maximum(pidx, 0)], -1)

    def quirky_people(
        self,
        rng: np.random.Generator,
        pidx: np.ndarray,
        oidx: np.ndarray | None = None,
        idq: IdQuirks | None = None,
        nq: NameQuirks | None = None,
        protect: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """IDs and names as a department writes them, with the corruption codes."""
        ids, names, born, _ = self.people(pidx, oidx)
        if protect is None:
            protect = self.planted_hh[np.maximum(self.person_hh(pidx), 0)] & (np.asarray(pidx) >= 0)
        ids_out, c1 = corrupt_ids(ids, born, idq or IdQuirks(), rng, protect)
        names_out, c2 = corrupt_names(names, nq or NameQuirks(), rng)
        return ids_out, names_out, join_codes(c1, c2)

    def short_places(
        self, hh: np.ndarray, rng: np.random.Generator, share: float = 0.03
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Township and village names, a few written without 镇/乡/村 (less detail)."""
        tw = self.township[hh].copy()
        vil = self.village[hh].copy()
        short = np.flatnonzero(rng.random(len(hh)) < share)
        tw[short] = [t[:-1] if t[-1] in "镇乡" else t for t in tw[short]]
        vil[short] = [v[:-1] for v in vil[short]]
        code = np.full(len(hh), "", dtype=object)
        code[short] = "addr_short"
        return tw, vil, code
