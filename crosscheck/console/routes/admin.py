"""Administrator: the audit log (read only; the table itself refuses updates and deletes)
and the users: list them, deactivate or reactivate one, lift a sign-in lock. Users are
created (and passwords set) with ``crosscheck console add-user``, never over the web."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from crosscheck.console import audit, queries, throttle
from crosscheck.console.auth import ConsoleError, set_active
from crosscheck.console.web import AdminSession, checked_form, console, render

router = APIRouter(prefix="/admin")

ACTIONS_ZH = {
    "login": "登录",
    "login_lock": "登录锁定",
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
    "user_deactivate": "停用用户",
    "user_reactivate": "启用用户",
    "user_unlock": "解除锁定",
}
# What an administrator may do to a user: (audit action, message once done).
USER_ACTIONS = {
    "deactivate": ("user_deactivate", "已停用用户 {}，其会话已结束"),
    "reactivate": ("user_reactivate", "已启用用户 {}"),
    "unlock": ("user_unlock", "已解除用户 {} 的登录锁定"),
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


@router.get("/users")
def users(request: Request, session: AdminSession):
    c = console(request)
    rows = queries.users(c.engine, c.config.clock()).to_dict("records")
    locked = throttle.locked_users(c.engine, c.config, [r["username"] for r in rows])
    done, name = request.query_params.get("done", ""), request.query_params.get("user", "")
    known = {r["username"] for r in rows}
    message = USER_ACTIONS[done][1].format(name) if done in USER_ACTIONS and name in known else ""
    return render(
        request,
        "users.html",
        session,
        rows=rows,
        locked={k: c.config.local(v) for k, v in locked.items()},
        message=message,
    )


@router.post("/users/{username}/{action}")
async def change_user(request: Request, username: str, action: str, session: AdminSession):
    await checked_form(request, session)
    c = console(request)
    audit_action = USER_ACTIONS[action][0] if action in USER_ACTIONS else "user_" + action[:20]

    def refuse(message: str, status: int) -> None:
        audit.record(
            c.engine,
            c.config,
            audit_action,
            user=session.user,
            outcome="refused",
            target=username[:64],
            detail=message,
        )
        raise ConsoleError(message, status)

    if action not in USER_ACTIONS:
        refuse("未知的用户操作：只能停用、启用或解除锁定", 404)
    if username not in set(queries.users(c.engine, c.config.clock())["username"]):
        refuse("没有这个用户", 404)
    if action == "deactivate" and username == session.user.username:
        refuse("不能停用自己的账号（请由另一位管理员操作）", 400)
    if action in ("deactivate", "reactivate"):
        set_active(c.engine, username, action == "reactivate")
    audit.record(c.engine, c.config, audit_action, user=session.user, target=username)
    return RedirectResponse(f"/admin/users?done={action}&user={username}", status_code=303)
