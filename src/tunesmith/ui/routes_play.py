"""Playground page and its streaming endpoint (server-sent events, one event per text piece)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from tunesmith.errors import UserError
from tunesmith.ui import playground
from tunesmith.ui.app import page
from tunesmith.ui.request_body import read_json_model
from tunesmith.ui.security import require_token, run_path

router = APIRouter()
MAX_PROMPT_CHARS = 8000


class PlaygroundPrompt(BaseModel):
    """The JSON body of a playground request: exactly these keys, each of its JSON type.

    Read with str() / int(), a null prompt was answered as the text "None", a list as its
    Python repr, and a max_new_tokens of "12", true or 3.9 was taken as 12, 1 or 3; a key
    such as `temperature` would be ignored without a word (decoding is greedy)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: str
    system: str = "tuned"
    max_new_tokens: int = 64  # kept within 1..MAX_NEW_TOKENS by the stream


@router.get("/runs/{name}/playground")
def playground_page(request: Request, name: str):
    run_path(request, name)
    return page(request, "playground.html.j2", run=name, systems=playground.SYSTEMS)


@router.post("/api/runs/{name}/generate")
async def generate(request: Request, name: str):
    require_token(request)
    root = run_path(request, name)
    body = await read_json_model(request, PlaygroundPrompt, "a playground prompt")
    prompt, system, max_new = body.prompt, body.system, body.max_new_tokens
    if not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(f"prompt: between 1 and {MAX_PROMPT_CHARS} characters, please")
    # load errors become a JSON error before streaming starts; loading blocks, so off the loop
    await run_in_threadpool(playground.load, root, system)

    def events():
        try:
            for piece in playground.stream(root, system, prompt, max_new):
                yield f"data: {json.dumps(_event(piece))}\n\n"
        except Exception as exc:  # mid-stream: tell the page, not a broken connection
            yield f"event: error\ndata: {json.dumps({'error': type(exc).__name__})}\n\n"
        yield "event: end\ndata: {}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _event(piece: str | playground.Note) -> dict:
    """A piece of the answer, or a note the page shows before it (its own line, marked
    `note` so a client can tell it from the model's text)."""
    if isinstance(piece, playground.Note):
        return {"text": piece.text + "\n", "note": True}
    return {"text": piece}
