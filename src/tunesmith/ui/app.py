"""The FastAPI application: templates (autoescaped), errors as pages or JSON, never a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from tunesmith.artifacts.files import strict_json
from tunesmith.errors import UserError
from tunesmith.report.templating import html_templates
from tunesmith.ui.request_body import BoundedBodies
from tunesmith.ui.security import COOKIE, token_ok

HERE = Path(__file__).resolve().parent
log = logging.getLogger("tunesmith.ui")


LOCAL_HOSTS = ["127.0.0.1", "localhost"]


def create_app(runs_dir: Path, token: str, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app over `runs_dir`; `token` guards every state-changing request. With
    `allowed_hosts`, other Host headers are refused (no DNS rebinding onto a local server)."""
    from tunesmith.ui import routes_human, routes_new, routes_play, routes_runs

    app = FastAPI(title="tunesmith", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runs_dir = Path(runs_dir).resolve()
    app.state.token = token
    env = html_templates("ui/templates")  # autoescaped: training data is untrusted text
    app.state.templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (routes_runs, routes_new, routes_human, routes_play):
        _answer_head(module.router)
        app.include_router(module.router)
    _error_handlers(app)
    app.add_middleware(BoundedBodies)
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app


def _answer_head(router: APIRouter) -> None:
    """HEAD wherever GET is (HTTP requires it of a server; FastAPI, unlike Starlette's own
    routes, answered 405): the same response, whose body the server does not send."""
    for route in router.routes:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            route.methods.add("HEAD")


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """Render a page; forms get the token pre-filled only for a browser that already holds it."""
    known = token_ok(request)
    context.update(request=request, token=request.app.state.token if known else "", known=known)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)


class StandardJSONResponse(JSONResponse):
    """JSON every client parses: a NaN or infinity read from a run file (a diverged training's
    loss, a folder an older tunesmith wrote) is null. Starlette's JSONResponse refuses them,
    which made one such run a 500 for the whole run list and its progress polling."""

    def render(self, content) -> bytes:
        return strict_json(content).encode("utf-8")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(request: Request, status: int, message: str, headers=None):
    if wants_json(request):
        body = {"error": message, "status": status}
        response = StandardJSONResponse(body, status_code=status)
    else:
        response = page(request, "error.html.j2", status, status=status, message=message)
    response.headers.update(headers or {})  # e.g. a 405's Allow
    return response


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        status = getattr(exc, "status", 400)
        return error_response(request, status, str(exc))

    # Starlette's class, not FastAPI's subclass: a wrong method (405), a body over its bound
    # (413, request_body.BodyTooLarge) and a form that cannot be parsed (400) are raised as
    # Starlette's, and came back as FastAPI's default {"detail": ...} JSON, on pages too
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed here (only {allowed})"
        return error_response(request, exc.status_code, message, exc.headers)

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        detail = getattr(exc, "detail", None)
        message = detail if isinstance(detail, str) and detail != "Not Found" else "no such page"
        return error_response(request, 404, message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(request, 422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(OSError)
    async def path_error(request: Request, exc: OSError):
        from tunesmith.cli.errors import os_message
        from tunesmith.errors import PATH_ERRORS

        if exc.errno not in PATH_ERRORS:  # the server's own failure, not the request's path
            return await internal(request, exc)
        return error_response(request, 400, os_message(exc).removeprefix("error: "))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)  # the trace goes to the log
        return error_response(request, 500, f"internal error ({type(exc).__name__}); see log")


def set_token_cookie(response, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
