"""What the rules read: linked staging rows per source and the register's persons.

``RuleInputs`` reads each source once per run (or takes frames from a test); the helpers
below are shared by the rule modules (and ``warehouse.cases``): windows, ages, the latest
row per key, registered households, income per year. They are not part of the package's
public names.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, select

from connectors.spec import load_specs
from warehouse.db import read_frame
from warehouse.intermediate import linked_view
from warehouse.models import DimPerson, staging_table
from warehouse.partition import in_county
from warehouse.rules.config import RuleSet

PERSON_SOURCE = "gongan_hukou"

PERSON_COLUMNS = [
    "person_key",
    "household_no",
    "birth_date",
    "relation",
    "status",
    "cancel_date",
    "cancel_reason",
]


class RuleInputs:
    """Linked staging rows per source (household_no, person_key + staging columns) and the
    register's persons, read once per run.

    ``person_key`` of a linked row is the register person the record was linked to (not
    the key of its own, possibly mistyped, ID). Tests pass ``frames`` (per source) and
    ``persons`` (dim_person rows) directly: rules are pure functions of these frames.
    ``county``: read only that county's households (``warehouse.partition``).
    """

    def __init__(
        self,
        engine: Engine | None = None,
        frames: dict[str, pd.DataFrame] | None = None,
        persons: pd.DataFrame | None = None,
        county: str | None = None,
    ):
        self.engine = engine
        self.county = county
        self.specs = load_specs()
        self._cache: dict[str, pd.DataFrame] = {}
        for source_id, frame in (frames or {}).items():
            # Columns a test leaves out are there, empty, as in a staged source.
            empty = self._empty(source_id)
            missing = {
                c: pd.Series(None, index=frame.index, dtype=empty[c].dtype)
                for c in empty.columns
                if c not in frame and c != "source_id"
            }
            self._cache[source_id] = frame.assign(**missing, source_id=source_id)
        self._persons = None if persons is None else self._person_frame(persons)

    def persons(self) -> pd.DataFrame:
        """One row per register person (dim_person): household, birth date, status,
        cancellation; with the register row behind it as evidence (source_id, load_id,
        row_number, record_key of the latest gongan_hukou row)."""
        if self._persons is None:
            if self.engine is None:
                self._persons = self._person_frame(pd.DataFrame(columns=PERSON_COLUMNS))
            else:
                stg = staging_table(self.specs[PERSON_SOURCE])
                with self.engine.connect() as conn:
                    mine = in_county(DimPerson.household_no, self.county)
                    people = read_frame(
                        conn,
                        select(*[DimPerson.__table__.c[c] for c in PERSON_COLUMNS]).where(mine),
                    )
                    rows = read_frame(
                        conn,
                        select(
                            stg.c.person_key, stg.c.record_key, stg.c.load_id, stg.c.row_number
                        ).where(
                            stg.c.person_key.is_not(None),
                            stg.c.person_key.in_(select(DimPerson.person_key).where(mine)),
                        ),
                    )
                rows = rows.sort_values(["load_id", "row_number"]).drop_duplicates(
                    "person_key", keep="last"
                )
                self._persons = self._person_frame(people.merge(rows, on="person_key", how="left"))
        return self._persons

    @staticmethod
    def _person_frame(people: pd.DataFrame) -> pd.DataFrame:
        people = people.copy()
        for col in [*PERSON_COLUMNS, "record_key", "load_id", "row_number"]:
            if col not in people:
                people[col] = None
        for col in ("birth_date", "cancel_date"):
            people[col] = pd.to_datetime(people[col])
        return people.assign(source_id=PERSON_SOURCE)

    def linked(self, source_id: str) -> pd.DataFrame:
        if source_id not in self._cache and self.engine is None:
            return self._empty(source_id)
        if source_id not in self._cache:
            # The int_ layer: the source's records joined to their linked household.
            # In key order: rules that keep one row of several (the evidence of a flag)
            # must not depend on the order the database returns rows in.
            view = linked_view(self.specs[source_id])
            stmt = (
                select(view)
                .where(in_county(view.c.household_no, self.county))
                .order_by(view.c.record_key)
            )
            with self.engine.connect() as conn:
                frame = read_frame(conn, stmt)
            for col in self.specs[source_id].columns:
                if col.field in frame and col.type in ("date", "datetime", "month"):
                    frame[col.field] = pd.to_datetime(frame[col.field])
                elif col.field in frame and col.type in ("amount", "integer"):
                    frame[col.field] = pd.to_numeric(frame[col.field])
            frame["source_id"] = source_id
            self._cache[source_id] = frame
        return self._cache[source_id]

    def _empty(self, source_id: str) -> pd.DataFrame:
        spec = self.specs[source_id]
        columns = ["household_no", "person_key", "record_key", "load_id", "row_number"]
        columns += spec.fields
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        for col in spec.columns:
            if col.type in ("date", "datetime", "month"):
                frame[col.field] = pd.Series(dtype="datetime64[ns]")
            elif col.type in ("amount", "integer"):
                frame[col.field] = pd.Series(dtype=float)
        return frame.assign(source_id=source_id)


def _in_window(dates: pd.Series, as_of: dt.date, months: int) -> pd.Series:
    end = pd.Timestamp(as_of)
    return (dates > end - pd.DateOffset(months=months)) & (dates <= end)


def _age(birth: pd.Series, on) -> pd.Series:
    """Completed years from ``birth`` to ``on`` (a date or a Series of dates); NA if unknown."""
    on = pd.to_datetime(on)
    birth = pd.to_datetime(birth)
    if isinstance(on, pd.Series):
        oy, om, od = on.dt.year, on.dt.month, on.dt.day
    else:
        oy, om, od = on.year, on.month, on.day
    by, bm, bd = birth.dt.year, birth.dt.month, birth.dt.day
    before = (bm > om) | ((bm == om) & (bd > od))
    return (oy - by - before.astype("Int64")).astype("Int64")


def _working_age(ages: pd.Series, rules: RuleSet) -> pd.Series:
    low, high = rules["working_age"]
    return ((ages >= low) & (ages <= high)).fillna(False).astype(bool)


def _months_back(months: pd.Series, as_of: dt.date) -> pd.Series:
    """0 for the as-of month, 1 for the month before, ...; negative for later months."""
    months = pd.to_datetime(months)
    return (as_of.year * 12 + as_of.month) - (months.dt.year * 12 + months.dt.month)


def _who(frame: pd.DataFrame) -> pd.Series:
    """The person a row is about: its linked register person, else the row itself."""
    if "person_key" not in frame:
        return frame["record_key"].astype(object)
    return frame["person_key"].astype(object).fillna(frame["record_key"])


def _latest(frame: pd.DataFrame, key, order: list[str]) -> pd.DataFrame:
    """The last row per key after sorting by ``order`` (then load and row number); an
    unknown value (a missing date) sorts first, so it never hides a known one."""
    return frame.sort_values(
        [*order, "load_id", "row_number"], kind="stable", na_position="first"
    ).drop_duplicates(key, keep="last")


def _living(persons: pd.DataFrame) -> pd.Series:
    return persons["status"].fillna("正常").ne("注销")


def _registered(inputs: RuleInputs) -> pd.Index:
    reg = inputs.linked("xczx_registry")
    mask = reg["registry_type"].eq("脱贫户") | reg["monitored_type"].notna()
    return pd.Index(reg.loc[mask, "household_no"].unique())


def _income(inputs: RuleInputs, rules: RuleSet) -> pd.DataFrame:
    """Per household and income year: per-capita and total net income (latest row wins)."""
    inc = inputs.linked("nync_income").sort_values(["load_id", "row_number"])
    return inc.dropna(subset=["year"]).drop_duplicates(["household_no", "year"], keep="last")
