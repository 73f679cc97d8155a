"""Department uploader: upload a file for one of its own sources, follow its processing,
read its feedback page (counts, problems, rejected rows) once processed."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from connectors.filecheck import sniff_format
from connectors.spec import SourceSpec, load_specs
from crosscheck.console import audit, queries
from crosscheck.console.auth import ConsoleError, Session
from crosscheck.console.landing import clean_file_name, write_landed
from crosscheck.console.web import (
    DepartmentSession,
    checked_form,
    console,
    csp_allowing_inline_styles,
    render,
    require,
)
from validation import feedback

router = APIRouter(prefix="/department")
department = require("department")

# File name endings a format may have; the bytes are checked too (connectors.filecheck).
EXTENSIONS = {
    "csv": (".csv",),
    "xlsx": (".xlsx",),
    "jsonl": (".jsonl", ".json"),
    "sql": (".sqlite", ".db"),
}
_CHUNK = 1 << 20


def own_sources(session: Session) -> dict[str, SourceSpec]:
    return {
        s.source_id: s for s in load_specs().values() if s.department == session.user.department
    }


@router.get("")
def home(request: Request, session: DepartmentSession):
    c = console(request)
    sources = own_sources(session)
    return render(
        request,
        "department.html",
        session,
        sources=sources,
        files=queries.department_files(c.engine, list(sources)).to_dict("records"),
        uploads=queries.uploads(c.engine, list(sources)).to_dict("records"),
        status_zh=feedback.STATUS_ZH,
        max_mb=c.config.max_upload_bytes // (1024 * 1024),
        message=request.query_params.get("uploaded", "") and "文件已上传，等待下次运行处理",
    )


def _refuse(request, session, message: str, target: str, status: int = 400):
    c = console(request)
    audit.record(
        c.engine,
        c.config,
        "upload",
        user=session.user,
        outcome="refused",
        target=target,
        detail=message,
    )
    raise ConsoleError(message, status)


@router.post("/upload")
async def upload(request: Request, session: DepartmentSession):
    c = console(request)
    limit = c.config.max_upload_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + 64 * 1024:  # refused before reading the body
        _refuse(request, session, f"文件超过 {limit // (1024 * 1024)} MB 的上限，未保存", "-", 413)
    form = await checked_form(request, session, max_files=1, max_fields=5)
    source_id = str(form.get("source_id", ""))
    sources = own_sources(session)
    if source_id not in sources:
        _refuse(request, session, "只能为本部门的数据源上传文件", source_id, 403)
    spec = sources[source_id]
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        _refuse(request, session, "请选择要上传的文件", source_id)
    name = clean_file_name(upload.filename)
    target = f"{source_id}/{name}"
    if not name.lower().endswith(EXTENSIONS.get(spec.format, ())):
        _refuse(
            request,
            session,
            f"文件类型不符：{spec.title}须为 {'、'.join(EXTENSIONS.get(spec.format, ()))} 文件",
            target,
            415,
        )
    if (upload.size or 0) > limit:
        _refuse(
            request, session, f"文件超过 {limit // (1024 * 1024)} MB 的上限，未保存", target, 413
        )
    # The bytes must be what the name says (a renamed file is refused before landing).
    with tempfile.TemporaryDirectory(prefix="console-upload-") as folder:
        probe = Path(folder) / "probe"
        size, digest = 0, hashlib.sha256()
        with open(probe, "wb") as fh:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    _refuse(
                        request,
                        session,
                        f"文件超过 {limit // (1024 * 1024)} MB 的上限，未保存",
                        target,
                        413,
                    )
                digest.update(chunk)
                fh.write(chunk)
        if size == 0:
            _refuse(request, session, "文件为空，未保存", target)
        actual = sniff_format(probe)
        if actual != spec.format:
            _refuse(
                request,
                session,
                f"文件内容不是 {spec.format.upper()} 格式（实为 {actual}），未保存",
                target,
                415,
            )

        def chunks():
            with open(probe, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk

        try:
            write_landed(c.config.landing_dir, source_id, name, chunks())
        except ConsoleError as exc:
            _refuse(request, session, exc.message, target, exc.status)
    audit.record(
        c.engine,
        c.config,
        "upload",
        user=session.user,
        target=target,
        detail=f"{size} 字节 sha256 {digest.hexdigest()}",
    )
    return RedirectResponse("/department?uploaded=1", status_code=303)


def _own_load(request: Request, session: Session, load_id: int):
    c = console(request)
    load = queries.load_of(c.engine, load_id)
    if load is None or load.source_id not in own_sources(session):
        audit.record(
            c.engine,
            c.config,
            "view_file",
            user=session.user,
            outcome="refused",
            target=str(load_id),
            detail="非本部门文件",
        )
        raise ConsoleError("没有这个文件，或它不属于本部门的数据源", 404)
    return load


@router.get("/files/{load_id}")
def file_status(request: Request, load_id: int, session: DepartmentSession):
    c = console(request)
    load = _own_load(request, session, load_id)
    rejected = feedback.rejected_rows(queries.rejected_of(c.engine, load_id))
    return render(
        request,
        "file.html",
        session,
        load=load,
        spec=load_specs()[load.source_id],
        outcome=feedback.STATUS_ZH.get(load.status, load.status),
        rejected_columns=list(rejected.columns),
        rejected=rejected.head(500).to_dict("records"),
        rejected_total=len(rejected),
        problems=rejected.groupby("问题说明").size().sort_values(ascending=False).to_dict()
        if len(rejected)
        else {},
    )


@router.get("/files/{load_id}/feedback")
def feedback_page(request: Request, load_id: int, session: DepartmentSession):
    c = console(request)
    load = _own_load(request, session, load_id)
    spec = load_specs()[load.source_id]
    outcome = feedback.FileOutcome(
        load_id=load.load_id,
        source_id=load.source_id,
        file_name=load.file_name,
        file_sha256=load.file_sha256,
        status=load.status,
        rows_in=load.rows_in,
        rows_loaded=load.rows_loaded,
        rows_quarantined=load.rows_quarantined,
        rows_duplicate=load.rows_duplicate,
        finished_at=load.finished_at,
        reason_code=load.reason_code,
        message=load.message,
    )
    html = feedback.summary_html(
        outcome,
        spec,
        feedback.rejected_rows(queries.rejected_of(c.engine, load_id)),
        feedback.warning_rows(queries.staged_warnings(c.engine, load.source_id, load_id)),
    )
    # The pack's page as the department also gets it as a file: its own inline style kept.
    return HTMLResponse(html, headers={"Content-Security-Policy": csp_allowing_inline_styles(html)})
