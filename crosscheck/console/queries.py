"""What the console reads from the warehouse, scoped to the person asking.

A county officer's reads of the monitoring list (and its history) run, on PostgreSQL,
under the officer's database login (``SET LOCAL ROLE``), so the warehouse's row-level
security (``warehouse.access``) decides which rows exist; the same county rule is also
applied here, which is what enforces it on SQLite. Details of a household (members,
signals, cases) are read only after that scoped check found the household.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pandas as pd
from sqlalchemy import Connection, Engine, func, select, union

from connectors.spec import load_specs
from crosscheck.console.auth import ConsoleError, User
from privacy import redact_ids
from warehouse.console_models import ConsoleAudit, ConsoleSession, ConsoleUser
from warehouse.db import read_frame
from warehouse.models import (
    DimHousehold,
    DimPerson,
    HouseholdCase,
    LoadAudit,
    MatchReview,
    MonitoringList,
    MonitoringListHistory,
    Quarantine,
    RiskSignal,
    staging_table,
)
from warehouse.rules import load_rule_set

__all__ = [
    "GRADE_LABELS",
    "REVIEW_PAGE",
    "change_since_previous",
    "filter_options",
    "household_detail",
    "household_visible",
    "monitoring_list",
    "review_queue",
    "scoped",
    "status_labels",
]

GRADE_LABELS = {"red": "红色", "yellow": "黄色", "green": "绿色"}
GRADE_RANK = {"green": 1, "yellow": 2, "red": 3}
DECISIONS_SOURCE = "county_decisions"
_PG_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
LIST_COLUMNS = [
    "household_no",
    "county",
    "township",
    "village",
    "head_name",
    "head_id_masked",
    "object_type",
    "risk_types",
    "grade",
    "asset_check",
    "first_flagged_at",
    "evidence_count",
    "status",
    "decision_due",
    "overdue",
    "suggested_measures",
    "as_of",
]


@cache
def status_labels() -> dict[str, str]:
    """Case statuses in Chinese, as the rule set names them."""
    return dict(load_rule_set()["cases"]["status_labels"])


@contextmanager
def scoped(engine: Engine, user: User) -> Iterator[Connection]:
    """A read transaction as the user may see the warehouse (RLS on PostgreSQL)."""
    with engine.begin() as conn:
        if user.role == "county_officer" and conn.dialect.name == "postgresql":
            if not user.pg_role or not _PG_ROLE.match(user.pg_role):
                raise ConsoleError("该账号未配置数据库行级权限，请联系管理员", 403)
            conn.exec_driver_sql(f'SET LOCAL ROLE "{user.pg_role}"')
        yield conn


def _county(user: User) -> str | None:
    """The county rule: an officer sees their county; a superior role sees all."""
    if user.role == "county_officer":
        return user.county or "\x00"  # no county: nothing
    return None


def monitoring_list(engine: Engine, user: User, filters: dict[str, str]) -> pd.DataFrame:
    """The list as the user may see it, filtered (township, village, grade, status, overdue)."""
    m = MonitoringList
    stmt = select(*[m.__table__.c[c] for c in LIST_COLUMNS])
    if (county := _county(user)) is not None:
        stmt = stmt.where(m.county == county)
    for field in ("township", "village", "grade", "status"):
        if filters.get(field):
            stmt = stmt.where(m.__table__.c[field] == filters[field])
    if filters.get("overdue") == "1":
        stmt = stmt.where(m.overdue.is_(True))
    with scoped(engine, user) as conn:
        frame = read_frame(conn, stmt.order_by(m.township, m.village, m.household_no))
    frame["grade_rank"] = frame["grade"].map(GRADE_RANK).fillna(0)
    return frame.sort_values(
        ["grade_rank", "overdue", "township", "village", "household_no"],
        ascending=[False, False, True, True, True],
        kind="stable",
    ).drop(columns="grade_rank")


def filter_options(engine: Engine, user: User) -> dict[str, list[str]]:
    m = MonitoringList
    stmt = select(m.township, m.village).distinct()
    if (county := _county(user)) is not None:
        stmt = stmt.where(m.county == county)
    with scoped(engine, user) as conn:
        rows = conn.execute(stmt).all()
    return {
        "townships": sorted({r.township for r in rows if r.township}),
        "villages": sorted({r.village for r in rows if r.village}),
    }


def household_visible(engine: Engine, user: User, household_no: str) -> bool:
    """Whether the household is (or was) on a list the user may read."""
    if user.role != "county_officer":
        return False
    county = _county(user)
    h = MonitoringListHistory
    stmt = union(
        select(MonitoringList.household_no).where(
            MonitoringList.household_no == household_no, MonitoringList.county == county
        ),
        select(h.c.household_no).where(h.c.household_no == household_no, h.c.county == county),
    )
    with scoped(engine, user) as conn:
        return conn.execute(stmt).first() is not None


def household_detail(engine: Engine, household_no: str) -> dict:
    """Place, members (masked), list row, signals with evidence, case history, decisions.

    Call only after ``household_visible``."""
    with engine.connect() as conn:
        house = conn.execute(
            select(DimHousehold).where(DimHousehold.household_no == household_no)
        ).first()
        listed = conn.execute(
            select(MonitoringList).where(MonitoringList.household_no == household_no)
        ).first()
        members = read_frame(
            conn,
            select(
                DimPerson.relation,
                DimPerson.name,
                DimPerson.id_masked,
                DimPerson.sex,
                DimPerson.birth_date,
                DimPerson.status,
                DimPerson.cancel_reason,
            )
            .where(DimPerson.household_no == household_no)
            .order_by(DimPerson.relation != "户主", DimPerson.birth_date, DimPerson.person_key),
        )
        latest = conn.execute(
            select(func.max(RiskSignal.as_of)).where(RiskSignal.household_no == household_no)
        ).scalar()
        signals = read_frame(
            conn,
            select(
                RiskSignal.rule_id,
                RiskSignal.risk_type,
                RiskSignal.source_id,
                LoadAudit.file_name,
                RiskSignal.row_number,
                RiskSignal.event_date,
                RiskSignal.value,
                RiskSignal.threshold,
                RiskSignal.evidence,
            )
            .join(LoadAudit, LoadAudit.load_id == RiskSignal.load_id, isouter=True)
            .where(RiskSignal.household_no == household_no, RiskSignal.as_of == latest)
            .order_by(RiskSignal.signal_no),
        )
        # A notice without a row (待签署授权) leaves a gap: whole numbers stay whole (行号 2).
        signals["row_number"] = [None if pd.isna(n) else int(n) for n in signals["row_number"]]
        cases = read_frame(
            conn,
            select(
                HouseholdCase.as_of,
                HouseholdCase.case_no,
                HouseholdCase.status,
                HouseholdCase.status_since,
                HouseholdCase.decision_due,
                HouseholdCase.overdue,
                HouseholdCase.measures,
                HouseholdCase.suggested_measures,
                HouseholdCase.elimination_check,
                HouseholdCase.elimination_blockers,
                HouseholdCase.decision_conflict,
            )
            .where(HouseholdCase.household_no == household_no)
            .order_by(HouseholdCase.as_of.desc()),
        )
        stg = staging_table(load_specs()[DECISIONS_SOURCE])
        decisions = read_frame(
            conn,
            select(
                stg.c.decision_id,
                stg.c.decision,
                stg.c.decided_on,
                stg.c.risk_types,
                stg.c.measures,
                stg.c.officer,
                LoadAudit.file_name,
            )
            .join(LoadAudit, LoadAudit.load_id == stg.c.load_id)
            .where(stg.c.hukou_no == household_no)
            .order_by(stg.c.decided_on.desc(), stg.c.decision_id),
        )
        submitted = read_frame(
            conn,
            select(ConsoleAudit.at, ConsoleAudit.username, ConsoleAudit.target)
            .where(
                ConsoleAudit.action == "decision",
                ConsoleAudit.outcome == "ok",
                ConsoleAudit.household_no == household_no,
            )
            .order_by(ConsoleAudit.audit_id.desc()),
        )
        loaded = {
            r.file_name
            for r in conn.execute(
                select(LoadAudit.file_name).where(LoadAudit.source_id == DECISIONS_SOURCE)
            )
        }
    signals["evidence"] = signals["evidence"].map(lambda t: redact_ids(str(t)))
    submitted["processed"] = submitted["target"].map(lambda t: str(t).split("/")[-1] in loaded)
    return {
        "house": house,
        "listed": listed,
        "members": members,
        "signals_as_of": latest,
        "signals": signals,
        "cases": _case_changes(cases),
        "decisions": decisions,
        "waiting": submitted[~submitted["processed"].astype(bool)].to_dict("records"),
    }


def _case_changes(cases: pd.DataFrame) -> pd.DataFrame:
    """The case history: the run dates on which a case's status changed (newest first)."""
    if cases.empty:
        return cases
    ordered = cases.iloc[::-1]
    key = ordered["case_no"].astype(str) + "|" + ordered["status"].astype(str)
    changed = key.ne(key.shift())
    return ordered[changed].iloc[::-1]


REVIEW_PAGE = 30


def review_queue(
    engine: Engine, limit: int = REVIEW_PAGE, offset: int = 0
) -> tuple[list[dict], int]:
    """One page of pending grey-zone links, most likely first: each record beside its
    candidate, and how many are pending. The order is total (probability, then the
    primary key), so pages neither repeat nor skip a record while nothing is decided."""
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(MatchReview).where(MatchReview.status == "pending")
        ).scalar()
        pending = read_frame(
            conn,
            select(
                MatchReview.source_id,
                MatchReview.record_key,
                MatchReview.person_key,
                MatchReview.match_probability,
                DimPerson.name,
                DimPerson.id_masked,
                DimPerson.birth_date,
                DimPerson.sex,
                DimPerson.township,
                DimPerson.village,
                DimPerson.household_no,
            )
            .join(DimPerson, DimPerson.person_key == MatchReview.person_key, isouter=True)
            .where(MatchReview.status == "pending")
            .order_by(
                MatchReview.match_probability.desc(),
                MatchReview.source_id,
                MatchReview.record_key,
            )
            .limit(limit)
            .offset(offset),
        )
        records = {}
        specs = load_specs()
        for source_id, keys in pending.groupby("source_id")["record_key"]:
            spec = specs.get(source_id)
            if spec is None:
                continue
            records.update(_records(conn, spec, keys.tolist()))
    items = []
    for row in pending.to_dict("records"):
        items.append(
            {
                **row,
                "title": specs[row["source_id"]].title if row["source_id"] in specs else "",
                "department": specs[row["source_id"]].department
                if row["source_id"] in specs
                else "",
                "record": records.get((row["source_id"], row["record_key"]), {}),
            }
        )
    return items, int(total)


def _records(conn: Connection, spec, keys: list[str]) -> dict[tuple[str, str], dict]:
    """The staged records under review, with the fields a reviewer compares."""
    stg = staging_table(spec)
    names = [c.field for c in spec.columns if c.type == "name"]
    wanted = [c for c in ("birth_date", "sex", "township", "village") if spec.has(c)]
    cols = [stg.c.record_key, stg.c.id_masked, stg.c.row_number, LoadAudit.file_name]
    cols += [stg.c[c] for c in [*names[:1], *wanted]]
    rows = conn.execute(
        select(*cols)
        .join(LoadAudit, LoadAudit.load_id == stg.c.load_id, isouter=True)
        .where(stg.c.record_key.in_(keys))
    ).all()
    out = {}
    for r in rows:
        values = r._asdict()
        values["name"] = values.pop(names[0], None) if names else None
        out[(spec.source_id, r.record_key)] = values
    return out


def _overview_frame(engine: Engine, user: User) -> pd.DataFrame:
    m = MonitoringList
    stmt = select(m.county, m.township, m.village, m.grade, m.risk_types, m.household_no)
    if (county := _county(user)) is not None:
        stmt = stmt.where(m.county == county)
    with scoped(engine, user) as conn:
        return read_frame(conn, stmt)


def overview(engine: Engine, user: User) -> dict:
    """Households by grade per township, by risk type, and per village by grade and by
    risk type (a household of several risk types counts once under each)."""
    frame = _overview_frame(engine, user)
    grades = ["red", "yellow", "green"]
    by_township = (
        pd.crosstab([frame["county"], frame["township"]], frame["grade"])
        .reindex(columns=grades, fill_value=0)
        .reset_index()
        if len(frame)
        else pd.DataFrame(columns=["county", "township", *grades])
    )
    risks = frame.assign(risk_type=frame["risk_types"].fillna("").str.split(";")).explode(
        "risk_type"
    )
    risks = risks[risks["risk_type"].str.strip().ne("")]
    by_risk = (
        pd.crosstab(risks["risk_type"], risks["grade"]).reindex(columns=grades, fill_value=0)
        if len(risks)
        else pd.DataFrame(columns=grades)
    )
    by_risk = by_risk.assign(total=by_risk.sum(axis=1)).sort_values("total", ascending=False)
    place = ["county", "township", "village"]
    by_village = pd.DataFrame(columns=[*place, *grades])
    if len(frame):
        by_village = pd.crosstab([frame[c].fillna("") for c in place], frame["grade"]).reindex(
            columns=grades, fill_value=0
        )
        if len(risks):
            by_village = by_village.join(
                pd.crosstab([risks[c].fillna("") for c in place], risks["risk_type"])
            )
        by_village = by_village.fillna(0).astype(int).reset_index()
    return {
        "households": len(frame),
        "by_township": by_township,
        "by_risk": by_risk.reset_index(),
        "by_village": by_village,
        "change": change_since_previous(engine, user),
    }


def change_since_previous(engine: Engine, user: User) -> dict:
    """New, upgraded, downgraded and cleared households between the last two runs, by
    township (from the published lists, ``mart_monitoring_list_history``)."""
    h = MonitoringListHistory
    county = _county(user)
    where = [h.c.county == county] if county is not None else []
    with scoped(engine, user) as conn:
        dates = [
            r[0]
            for r in conn.execute(
                select(h.c.as_of).where(*where).distinct().order_by(h.c.as_of.desc()).limit(2)
            )
        ]
        if len(dates) < 2:
            return {"latest": dates[0] if dates else None, "previous": None, "rows": []}
        rows = read_frame(
            conn,
            select(h.c.as_of, h.c.household_no, h.c.township, h.c.grade).where(
                h.c.as_of.in_(dates), *where
            ),
        )
    latest, previous = dates
    now = rows[rows["as_of"] == latest].set_index("household_no")
    before = rows[rows["as_of"] == previous].set_index("household_no")
    both = now.join(before, how="outer", lsuffix="_now", rsuffix="_before")
    rank_now = both["grade_now"].map(GRADE_RANK)
    rank_before = both["grade_before"].map(GRADE_RANK)
    both["township"] = both["township_now"].fillna(both["township_before"])
    both["change"] = None
    both.loc[rank_before.isna(), "change"] = "new"
    both.loc[rank_now.isna(), "change"] = "cleared"
    both.loc[rank_now > rank_before, "change"] = "upgraded"
    both.loc[rank_now < rank_before, "change"] = "downgraded"
    table = (
        pd.crosstab(both["township"], both["change"])
        .reindex(columns=["new", "upgraded", "downgraded", "cleared"], fill_value=0)
        .reset_index()
    )
    return {"latest": latest, "previous": previous, "rows": table.to_dict("records")}


def department_files(engine: Engine, source_ids: list[str]) -> pd.DataFrame:
    """Processed files of these sources (newest first) with their outcome."""
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(
                LoadAudit.load_id,
                LoadAudit.source_id,
                LoadAudit.file_name,
                LoadAudit.status,
                LoadAudit.rows_in,
                LoadAudit.rows_loaded,
                LoadAudit.rows_quarantined,
                LoadAudit.rows_duplicate,
                LoadAudit.finished_at,
                LoadAudit.message,
            )
            .where(LoadAudit.source_id.in_(source_ids))
            .order_by(LoadAudit.load_id.desc())
            .limit(200),
        )


def uploads(engine: Engine, source_ids: list[str]) -> pd.DataFrame:
    """Files uploaded through the console for these sources, with their load (if any)."""
    with engine.connect() as conn:
        sent = read_frame(
            conn,
            select(ConsoleAudit.at, ConsoleAudit.username, ConsoleAudit.target)
            .where(ConsoleAudit.action == "upload", ConsoleAudit.outcome == "ok")
            .order_by(ConsoleAudit.audit_id.desc()),
        )
        loads = read_frame(
            conn,
            select(LoadAudit.load_id, LoadAudit.source_id, LoadAudit.file_name, LoadAudit.status)
            .where(LoadAudit.source_id.in_(source_ids))
            .order_by(LoadAudit.load_id),
        )
    parts = sent["target"].str.split("/", n=1, expand=True) if len(sent) else None
    sent["source_id"] = parts[0] if parts is not None else []
    sent["file_name"] = parts[1] if parts is not None else []
    sent = sent[sent["source_id"].isin(source_ids)]
    latest = loads.drop_duplicates(["source_id", "file_name"], keep="last")
    return sent.merge(latest, on=["source_id", "file_name"], how="left")


def load_of(engine: Engine, load_id: int):
    with engine.connect() as conn:
        return conn.execute(select(LoadAudit).where(LoadAudit.load_id == load_id)).first()


def rejected_of(engine: Engine, load_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(Quarantine).where(Quarantine.load_id == load_id).order_by(Quarantine.row_number),
        )


def staged_warnings(engine: Engine, source_id: str, load_id: int) -> pd.DataFrame:
    stg = staging_table(load_specs()[source_id])
    with engine.connect() as conn:
        return read_frame(
            conn,
            select(stg.c.row_number, stg.c.row_warning, stg.c.id_masked).where(
                stg.c.load_id == load_id, stg.c.row_warning.is_not(None)
            ),
        )


def audit_log(engine: Engine, *, username: str = "", household_no: str = "", limit: int = 200):
    stmt = select(ConsoleAudit).order_by(ConsoleAudit.audit_id.desc()).limit(limit)
    if username:
        stmt = stmt.where(ConsoleAudit.username == username)
    if household_no:
        stmt = stmt.where(ConsoleAudit.household_no == household_no)
    with engine.connect() as conn:
        return read_frame(conn, stmt)


def users(engine: Engine, now: dt.datetime) -> pd.DataFrame:
    """Every console user (no password hash), with their last sign-in and open sessions."""
    u, a = ConsoleUser, ConsoleAudit
    last_login = (
        select(a.username, func.max(a.at).label("last_login"))
        .where(a.action == "login", a.outcome == "ok")
        .group_by(a.username)
        .subquery()
    )
    sessions = (
        select(ConsoleSession.username, func.count().label("sessions"))
        .where(ConsoleSession.expires_at > now)
        .group_by(ConsoleSession.username)
        .subquery()
    )
    stmt = (
        select(
            u.username,
            u.display_name,
            u.role,
            u.county,
            u.department,
            u.active,
            u.created_at,
            last_login.c.last_login,
            func.coalesce(sessions.c.sessions, 0).label("sessions"),
        )
        .join(last_login, last_login.c.username == u.username, isouter=True)
        .join(sessions, sessions.c.username == u.username, isouter=True)
        .order_by(u.role, u.username)
    )
    with engine.connect() as conn:
        return read_frame(conn, stmt)


def raw_values(text: str | None) -> dict:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {}


def as_date(value) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()
