"""The start-up token for state-changing requests, and run names resolved inside the runs folder."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, Request

from tunesmith.errors import UserError
from tunesmith.human.names import child_of

TOKEN_ENV = "TUNESMITH_UI_TOKEN"
COOKIE = "tunesmith_token"
HEADER = "x-tunesmith-token"


def make_token() -> str:
    return os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(18)


def presented_token(request: Request, form_token: str | None = None) -> str:
    return (request.headers.get(HEADER) or form_token or request.cookies.get(COOKIE) or "").strip()


def token_ok(request: Request, form_token: str | None = None) -> bool:
    expected = request.app.state.token
    return hmac.compare_digest(presented_token(request, form_token).encode(), expected.encode())


def require_token(request: Request, form_token: str | None = None) -> None:
    """403 unless the request carries the token (header, form field or cookie)."""
    if not token_ok(request, form_token):
        raise HTTPException(
            status_code=403,
            detail="this action needs the token printed when `tunesmith ui` started "
            f"(or ${TOKEN_ENV}); paste it into the token field",
        )


def run_path(request: Request, name: str) -> Path:
    """The run folder `name` inside the runs folder, or a 404 (names are checked, not joined)."""
    runs: Path = request.app.state.runs_dir
    try:
        path = child_of(runs, name, "run")
    except UserError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if not path.is_dir():
        raise HTTPException(status_code=404, detail=f"run {name!r} not found in {runs}")
    return path
