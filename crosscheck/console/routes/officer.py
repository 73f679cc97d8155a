"""County officer: the monitoring list of their county, a household, decisions, exports.

Every household route first asks ``queries.household_visible`` (RLS on PostgreSQL, the
county rule on both); a household of another county is refused the same way as one that
does not exist, and the attempt is logged.
"""

from __future__ import annotations

import io

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from crosscheck.console import audit, decisions, queries
from crosscheck.console.auth import ConsoleError, Session
from crosscheck.console.web import OfficerSession, checked_form, console, render, require
from warehouse.models import DimHousehold

router = APIRouter(prefix="/officer")
officer = require("county_officer")

FILTERS = ("township", "village", "grade", "status", "overdue")
EXPORT_HEADERS = {
    "household_no": "户号",
    "county": "县(市、区)",
    "township": "乡镇",
    "village": "村",
    "head_name": "户主姓名",
    "head_id_masked": "户主证件号码（脱敏）",
    "object_type": "监测对象类型",
    "risk_types": "风险类型",
    "grade": "预警等级",
    "asset_check": "资产核查",
    "first_flagged_at": "首次预警日期",
    "evidence_count": "证据条数",
    "status": "状态",
    "decision_due": "认定截止日期",
    "overdue": "是否逾期",
    "suggested_measures": "建议帮扶措施",
    "as_of": "数据日期",
}


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "")[:64] for k in FILTERS}


def _csv(frame, name: str) -> Response:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return Response(
        buffer.getvalue().encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@router.get("/list")
def monitoring_list(request: Request, session: OfficerSession):
    c = console(request)
    filters = _filters(request)
    rows = queries.monitoring_list(c.engine, session.user, filters)
    return render(
        request,
        "list.html",
        session,
        rows=rows.to_dict("records"),
        filters=filters,
        options=queries.filter_options(c.engine, session.user),
        grade_labels=queries.GRADE_LABELS,
        status_labels=queries.status_labels(),
        query=str(request.url.query),
    )


@router.get("/list.csv")
def monitoring_list_csv(request: Request, session: OfficerSession):
    c = console(request)
    rows = queries.monitoring_list(c.engine, session.user, _filters(request))
    rows = rows.assign(
        grade=rows["grade"].map(queries.GRADE_LABELS).fillna(rows["grade"]),
        status=rows["status"].map(queries.status_labels()).fillna(rows["status"]),
        overdue=rows["overdue"].map({True: "是", False: "否"}),
    )
    audit.record(
        c.engine, c.config, "export_list", user=session.user, target=str(request.url.query)
    )
    return _csv(rows[list(EXPORT_HEADERS)].rename(columns=EXPORT_HEADERS), "monitoring_list.csv")


def _visible(request: Request, session: Session, household_no: str, action: str) -> None:
    c = console(request)
    if not queries.household_visible(c.engine, session.user, household_no):
        audit.record(
            c.engine,
            c.config,
            action,
            user=session.user,
            outcome="refused",
            household_no=household_no,
            detail="不在本县监测名单",
        )
        raise ConsoleError("没有这一户，或这一户不属于您所在的县（区）", 404)


def _household_page(request, session, household_no, status=200, message="", form=None):
    c = console(request)
    detail = queries.household_detail(c.engine, household_no)
    return render(
        request,
        "household.html",
        session,
        status=status,
        d=detail,
        household_no=household_no,
        grade_labels=queries.GRADE_LABELS,
        status_labels=queries.status_labels(),
        decision_choices=decisions.DECISIONS,
        object_types=decisions.OBJECT_TYPES,
        today=c.config.today(),
        message=message,
        form=form or {},
    )


@router.get("/households/{household_no}")
def household(request: Request, household_no: str, session: OfficerSession):
    _visible(request, session, household_no, "view_household")
    c = console(request)
    audit.record(c.engine, c.config, "view_household", user=session.user, household_no=household_no)
    return _household_page(
        request,
        session,
        household_no,
        message=request.query_params.get("ok", "") and "决定已登记，下次运行后生效",
    )


@router.get("/households/{household_no}/evidence.csv")
def evidence_csv(request: Request, household_no: str, session: OfficerSession):
    _visible(request, session, household_no, "export_evidence")
    c = console(request)
    signals = queries.household_detail(c.engine, household_no)["signals"]
    audit.record(
        c.engine, c.config, "export_evidence", user=session.user, household_no=household_no
    )
    columns = {
        "rule_id": "规则",
        "risk_type": "风险类型",
        "source_id": "数据来源",
        "file_name": "文件",
        "row_number": "行号",
        "event_date": "日期",
        "value": "数值",
        "threshold": "阈值",
        "evidence": "证据",
    }
    return _csv(signals[list(columns)].rename(columns=columns), f"evidence_{household_no}.csv")


@router.post("/households/{household_no}/decisions")
async def decide(request: Request, household_no: str, session: OfficerSession):
    form = dict(await checked_form(request, session))
    _visible(request, session, household_no, "decision")
    c = console(request)
    with c.engine.connect() as conn:
        house = conn.execute(
            select(DimHousehold).where(DimHousehold.household_no == household_no)
        ).first()
    if house is None:
        raise ConsoleError("户籍中没有这一户", 404)
    form.pop("csrf", None)
    try:
        # In a worker thread: the pipeline's checks take a moment, other pages go on.
        decision_id, path = await run_in_threadpool(
            decisions.submit_decision,
            c.config.landing_dir,
            house,
            {k: str(v) for k, v in form.items()},
            session.user.display_name,
            c.config.today(),
            c.config.clock(),
        )
    except ConsoleError as exc:
        audit.record(
            c.engine,
            c.config,
            "decision",
            user=session.user,
            outcome="refused",
            household_no=household_no,
            detail=f"{form.get('decision', '')} {form.get('decided_on', '')}: {exc.message}",
        )
        return _household_page(request, session, household_no, 422, exc.message, form)
    audit.record(
        c.engine,
        c.config,
        "decision",
        user=session.user,
        household_no=household_no,
        target=f"{decisions.SOURCE_ID}/{path.name}",
        detail=f"{decision_id} {form.get('decision')} {form.get('decided_on')}",
    )
    return RedirectResponse(f"/officer/households/{household_no}?ok=1", status_code=303)
