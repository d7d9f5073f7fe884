"""Playground page and its streaming endpoint (server-sent events, one event per text piece)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tunesmith.errors import UserError
from tunesmith.ui import playground
from tunesmith.ui.app import page
from tunesmith.ui.security import require_token, run_path

router = APIRouter()
MAX_PROMPT_CHARS = 8000


@router.get("/runs/{name}/playground")
def playground_page(request: Request, name: str):
    run_path(request, name)
    return page(request, "playground.html.j2", run=name, systems=playground.SYSTEMS)


@router.post("/api/runs/{name}/generate")
def generate(request: Request, name: str, body: dict):
    require_token(request)
    root = run_path(request, name)
    prompt = str(body.get("prompt", ""))
    if not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(f"prompt: between 1 and {MAX_PROMPT_CHARS} characters, please")
    system = str(body.get("system", "tuned"))
    try:
        max_new = int(body.get("max_new_tokens", 64))
    except (TypeError, ValueError):
        raise UserError("max_new_tokens: a whole number, please") from None
    playground.load(root, system)  # load errors become a JSON error before streaming starts

    def events():
        try:
            for piece in playground.stream(root, system, prompt, max_new):
                yield f"data: {json.dumps({'text': piece})}\n\n"
        except Exception as exc:  # mid-stream: tell the page, not a broken connection
            yield f"event: error\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
        yield "event: end\ndata: {}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
