"""Reviewer: the match-review queue, each record beside its candidate; confirm or reject.

A decision sets ``match_review.status`` (confirmed / rejected, with who and when): what
the linker already reads on the next run (``warehouse.links`` -> ``matching.linker``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import update

from crosscheck.console import audit, queries
from crosscheck.console.auth import ConsoleError
from crosscheck.console.web import ReviewerSession, checked_form, console, render, require
from warehouse.models import MatchReview

router = APIRouter(prefix="/review")
reviewer = require("reviewer")
ACTIONS = {"confirm": "confirmed", "reject": "rejected"}


def _page_number(value) -> int:
    """A page number from the query or form (anything else: the first page)."""
    text = str(value or "")
    return int(text) if text.isdigit() and 0 < len(text) < 7 and int(text) > 0 else 1


@router.get("")
def queue(request: Request, session: ReviewerSession):
    c = console(request)
    size = queries.REVIEW_PAGE
    page = _page_number(request.query_params.get("page"))
    items, total = queries.review_queue(c.engine, size, (page - 1) * size)
    pages = max(1, -(-total // size))
    if page > pages:  # past the end (the queue shrank): the last page
        page = pages
        items, total = queries.review_queue(c.engine, size, (page - 1) * size)
    done = request.query_params.get("done", "")
    return render(
        request,
        "review.html",
        session,
        items=items,
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * size + 1,
        message={"confirmed": "已确认匹配", "rejected": "已否决匹配"}.get(done, ""),
    )


@router.post("/decide")
async def decide(request: Request, session: ReviewerSession):
    form = await checked_form(request, session)
    c = console(request)
    source_id, record_key = str(form.get("source_id", "")), str(form.get("record_key", ""))
    person_key, action = str(form.get("person_key", "")), str(form.get("action", ""))
    target = f"{source_id}/{record_key}"
    if action not in ACTIONS:
        audit.record(
            c.engine,
            c.config,
            "review",
            user=session.user,
            outcome="refused",
            target=target,
            detail=f"未知操作 {action[:20]}",
        )
        raise ConsoleError("未知的复核操作：只能确认或否决")
    with c.engine.begin() as conn:
        changed = conn.execute(
            update(MatchReview)
            .where(
                MatchReview.source_id == source_id,
                MatchReview.record_key == record_key,
                MatchReview.person_key == person_key,
                MatchReview.status == "pending",
            )
            .values(
                status=ACTIONS[action],
                decided_by=session.user.username,
                decided_at=c.config.clock(),
            )
        ).rowcount
    if changed != 1:
        audit.record(
            c.engine,
            c.config,
            "review",
            user=session.user,
            outcome="refused",
            target=target,
            detail="记录已处理或候选已变化",
        )
        raise ConsoleError("这条记录已由他人处理，或候选人已变化：请刷新复核队列", 409)
    audit.record(
        c.engine,
        c.config,
        "review",
        user=session.user,
        target=target,
        detail=f"{ACTIONS[action]} 候选 {person_key}",
    )
    page = _page_number(form.get("page"))
    return RedirectResponse(f"/review?page={page}&done={ACTIONS[action]}", status_code=303)
