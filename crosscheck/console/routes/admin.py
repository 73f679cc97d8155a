"""Administrator: the audit log (read only; the table itself refuses updates and deletes)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crosscheck.console import queries
from crosscheck.console.web import AdminSession, console, render

router = APIRouter(prefix="/admin")

ACTIONS_ZH = {
    "login": "登录",
    "logout": "退出",
    "session": "会话",
    "page": "访问页面",
    "csrf": "表单校验",
    "view_household": "查看农户",
    "view_overview": "查看概览",
    "export_list": "导出名单",
    "export_evidence": "导出证据",
    "decision": "登记决定",
    "review": "匹配复核",
    "upload": "上传文件",
    "view_file": "查看文件",
}


@router.get("/audit")
def audit_log(request: Request, session: AdminSession):
    c = console(request)
    username = request.query_params.get("username", "")[:64]
    household_no = request.query_params.get("household_no", "")[:64]
    rows = queries.audit_log(c.engine, username=username, household_no=household_no)
    return render(
        request,
        "audit.html",
        session,
        rows=rows.to_dict("records"),
        actions=ACTIONS_ZH,
        username=username,
        household_no=household_no,
    )
