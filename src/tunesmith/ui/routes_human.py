"""Blind human evaluation: sessions, the rating page, results, CSV sheets."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from tunesmith.data.io import decode_text
from tunesmith.errors import UserError
from tunesmith.human.items import available_systems
from tunesmith.human.names import check_name
from tunesmith.human.session import VERDICTS, Session, list_sessions
from tunesmith.human.sheet import export_sheet, import_sheet
from tunesmith.human.stats import summarize
from tunesmith.human.summary import write_summary
from tunesmith.ui.app import StandardJSONResponse, page
from tunesmith.ui.request_body import SHEET_UPLOAD_BYTES, body_limit, read_json_model
from tunesmith.ui.runs import read_json
from tunesmith.ui.security import require_token, run_path

router = APIRouter()


def _session(request: Request, name: str, session: str) -> Session:
    found = Session(run_path(request, name), session)
    found.settings  # noqa: B018 (raises NotFound for an unknown session)
    return found


@router.get("/runs/{name}/human")
def human_page(request: Request, name: str):
    return _human_page(request, name)


def _human_page(request: Request, name: str, status_code: int = 200, error=None, typed=None):
    """The sessions page; after a refused new session, with its error and what was typed."""
    root = run_path(request, name)
    sessions = []
    for session_name in list_sessions(root):
        session = Session(root, session_name)
        stats = summarize(session.ratings(), session.systems)
        sessions.append({"name": session_name, "settings": session.settings, "stats": stats})
    return page(
        request,
        "human.html.j2",
        status_code,
        run=name,
        sessions=sessions,
        systems=available_systems(root),
        saved=read_json(root, "eval/human.json"),
        error=error,
        typed=typed or NEW_SESSION_DEFAULTS,
    )


NEW_SESSION_DEFAULTS = {
    "session": "s1",
    "rater": "",
    "system_a": "tuned",
    "system_b": "base",
    "show_reference": "1",
}


@router.post("/runs/{name}/human/sessions")
def create_session(
    request: Request,
    name: str,
    session: str = Form(...),
    rater: str = Form(...),
    system_a: str = Form("tuned"),
    system_b: str = Form("base"),
    show_reference: str = Form(""),
    token: str = Form(""),
):
    require_token(request, token)
    root = run_path(request, name)
    try:
        check_name(rater, "rater")
        systems = (system_a, system_b)
        Session.create(root, session, systems, show_reference=bool(show_reference))
    except UserError as exc:  # e.g. the name of a session comparing other systems
        typed = {"session": session, "rater": rater, "system_a": system_a}
        typed.update(system_b=system_b, show_reference=show_reference)
        status = getattr(exc, "status", 400)
        return _human_page(request, name, status, error=str(exc), typed=typed)
    return RedirectResponse(f"/runs/{name}/human/{session}/rate?rater={rater}", status_code=303)


@router.get("/runs/{name}/human/{session}/rate")
def rate_page(request: Request, name: str, session: str, rater: str = ""):
    found = _session(request, name, session)
    if rater:
        check_name(rater, "rater")
    item = found.next_item(rater) if rater else None
    total = len(found.items())
    done = len(found.rated_by(rater)) if rater else 0
    order = found.order(item.id) if item else None
    answers = [item.answers[s] for s in order] if item else []
    return page(
        request,
        "rate.html.j2",
        run=name,
        session=session,
        rater=rater,
        item=item,
        answers=answers,
        show_reference=found.settings.get("show_reference", True),
        done=done,
        total=total,
        verdicts=VERDICTS,
    )


@router.post("/runs/{name}/human/{session}/rate")
def rate_form(
    request: Request,
    name: str,
    session: str,
    rater: str = Form(...),
    item: str = Form(...),
    verdict: str = Form(...),
    reason: str = Form(""),
    token: str = Form(""),
):
    require_token(request, token)
    _session(request, name, session).rate(rater, item, verdict, reason)
    return RedirectResponse(f"/runs/{name}/human/{session}/rate?rater={rater}", status_code=303)


class Rating(BaseModel):
    """The JSON body of a rating: exactly these keys, each a JSON string."""

    model_config = ConfigDict(extra="forbid", strict=True)
    rater: str
    item: str
    verdict: str
    reason: str = ""


@router.post("/api/runs/{name}/human/{session}/ratings")
async def rate_api(request: Request, name: str, session: str):
    require_token(request)
    body = await read_json_model(request, Rating, "a rating")
    found = _session(request, name, session)
    record = found.rate(body.rater, body.item, body.verdict, body.reason)
    return StandardJSONResponse(record, status_code=201)


@router.get("/api/runs/{name}/human")
def human_api(request: Request, name: str):
    from tunesmith.human.summary import run_summary

    return StandardJSONResponse(run_summary(run_path(request, name)))


@router.post("/runs/{name}/human/summary")
def summary(request: Request, name: str, token: str = Form("")):
    require_token(request, token)
    write_summary(run_path(request, name))
    return RedirectResponse(f"/runs/{name}/human", status_code=303)


@router.get("/runs/{name}/human/{session}/sheet.csv")
def sheet_export(request: Request, name: str, session: str, rater: str = ""):
    found = _session(request, name, session)
    text = export_sheet(found, check_name(rater, "rater") if rater else None)
    headers = {"Content-Disposition": f'attachment; filename="{session}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/runs/{name}/human/{session}/sheet")
@body_limit(SHEET_UPLOAD_BYTES)
async def sheet_import(
    request: Request,
    name: str,
    session: str,
    sheet: UploadFile,
    rater: str = Form(...),
    token: str = Form(""),
):
    require_token(request, token)
    found = _session(request, name, session)
    source = sheet.filename or "sheet.csv"
    # as `human import` reads a sheet: a byte that is not UTF-8 refuses the whole sheet
    text = decode_text(await sheet.read(), source)
    import_sheet(found, check_name(rater, "rater"), text, source)
    return RedirectResponse(f"/runs/{name}/human", status_code=303)
