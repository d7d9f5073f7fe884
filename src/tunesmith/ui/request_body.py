"""Request bodies: every one bounded as it arrives (`BoundedBodies`, 413 past its route's
bound), and the JSON body of an API request read once and refused with one clear 4xx message.

Starlette's `request.json()` lets every way a client can get a body wrong (nothing sent, bad
JSON, bytes that are not UTF-8, `[[[[…` nested past Python's recursion limit) escape as a
500; every JSON endpoint of the UI reads its body here instead.
"""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from tunesmith.artifacts.files import JSON_KINDS
from tunesmith.data.io import lone_surrogate
from tunesmith.errors import UserError
from tunesmith.human.sheet import MAX_SHEET_BYTES
from tunesmith.ui.launch import MAX_RECIPE_BYTES

# The largest legitimate JSON body is a playground prompt (8000 characters, up to 4 bytes
# each); every request without a bound of its own below is held to it too.
MAX_BODY_BYTES = 64 * 1024
# Bounds of the whole body for the routes that take a recipe or a sheet (`body_limit`).
# Beside its file or recipe, such a form carries a few short fields and part headers:
# MAX_BODY_BYTES more is room for them.
RECIPE_UPLOAD_BYTES = MAX_RECIPE_BYTES + MAX_BODY_BYTES
RECIPE_FORM_BYTES = 3 * MAX_RECIPE_BYTES + MAX_BODY_BYTES  # URL-encoding: a byte may be "%XX"
SHEET_UPLOAD_BYTES = MAX_SHEET_BYTES + MAX_BODY_BYTES


Body = TypeVar("Body", bound=BaseModel)


async def read_json_object(request: Request) -> dict:
    """The body as a JSON object (a dict), or a UserError (400). A body over MAX_BODY_BYTES
    never gets here whole: `BoundedBodies` answers 413 on the way in."""
    raw = await request.body()
    if not raw.strip():
        raise UserError("request body: empty; send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"request body: not UTF-8 text (byte {exc.start})") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"request body: not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None
    except RecursionError:
        raise UserError("request body: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (4300 digits)
        raise UserError(f"request body: not usable JSON ({exc})") from None
    if not isinstance(body, dict):
        raise UserError(f"request body: expected a JSON object, not {JSON_KINDS[type(body)]}")
    # valid JSON, but no text: a rating with it failed writing its line (a 500), a prompt
    # failed in the tokenizer; only a \u escape can make one, so most bodies skip the check
    bad = lone_surrogate(body) if "\\u" in text else None
    if bad is not None:
        raise UserError(
            f"request body: \\u{bad:04x} is half of a UTF-16 surrogate pair, not a character"
        )
    return body


async def read_json_model(request: Request, model: type[Body], what: str) -> Body:
    """The body checked against `model` (declare it `extra="forbid", strict=True`): a key
    the model does not have, or a value of another JSON type, is a 400 naming the key.

    Reading keys one by one with str() turned a number or a list into text and dropped a
    misspelt key without a word."""
    body = await read_json_object(request)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise UserError(_first_problem(exc, model, what)) from None


def _first_problem(exc: ValidationError, model: type[BaseModel], what: str) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: not a field of {what} (only {', '.join(model.model_fields)})"
    if error["type"] == "missing":
        return f"{key}: missing; {what} needs {', '.join(_required(model))}"
    if not error["type"].endswith("_type"):  # a value the model's constraints refuse
        return f"{key}: {error['msg'].lower()}"
    got = JSON_KINDS.get(type(error["input"]), type(error["input"]).__name__)
    return f"{key}: {error['msg'].lower()}, not {got}"


def _required(model: type[BaseModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if field.is_required()]


def body_limit(size: int):
    """Mark a route's endpoint as taking a body of up to `size` bytes (else MAX_BODY_BYTES)."""

    def mark(endpoint):
        endpoint.max_body_bytes = size
        return endpoint

    return mark


class BodyTooLarge(HTTPException):
    """Starlette's HTTPException: FastAPI's form parsing lets it through (it turned any other
    error into a 400 "There was an error parsing the body")."""

    def __init__(self, limit: int) -> None:
        size = f"{limit / 2**20:.1f} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
        super().__init__(413, f"request body: larger than {size}")


class BoundedBodies:
    """ASGI middleware: every request body is held to its route's bound as it arrives, before
    any parser sees it. A declared Content-Length over the bound is refused before a byte is
    read; a body sent without one (chunked) is cut off at the bound. Starlette's
    `request.form()` spools every uploaded file to a temporary file with no bound of its own
    (its `max_part_size` covers text fields only), so a client could fill the disk before
    our size checks ran.

    Not FastAPI's `max_body_size`: for a declared Content-Length over it, that answers with its
    own plain-text "Content Too Large" in place of any response, JSON under /api/ included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        received = 0

        async def bounded_receive():
            nonlocal received
            # read when the body is: by then routing has put the endpoint in the scope
            limit = getattr(scope.get("endpoint"), "max_body_bytes", MAX_BODY_BYTES)
            if _declared_length(scope) > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, bounded_receive, send)


def _declared_length(scope) -> int:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server refuses a malformed length before we see the request
    return 0
