"""The JSON body of an API request, read once and refused with one clear 4xx message.

Starlette's `request.json()` lets every way a client can get a body wrong (nothing sent, bad
JSON, bytes that are not UTF-8, `[[[[…` nested past Python's recursion limit) escape as a
500; every JSON endpoint of the UI reads its body here instead.
"""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from tunesmith.errors import UserError

# The largest legitimate body is a playground prompt (8000 characters, up to 4 bytes each).
MAX_BODY_BYTES = 64 * 1024


JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number"}
JSON_TYPES.update({bool: "true or false", type(None): "null", dict: "an object"})
Body = TypeVar("Body", bound=BaseModel)


class BodyTooLarge(UserError):
    status = 413


async def read_json_object(request: Request) -> dict:
    """The body as a JSON object (a dict), or a UserError (400; 413 when too large)."""
    raw = await _read_capped(request)
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
        raise UserError(f"request body: expected a JSON object, not {JSON_TYPES[type(body)]}")
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
    got = JSON_TYPES.get(type(error["input"]), type(error["input"]).__name__)
    return f"{key}: {error['msg'].lower()}, not {got}"


def _required(model: type[BaseModel]) -> list[str]:
    return [name for name, field in model.model_fields.items() if field.is_required()]


async def _read_capped(request: Request) -> bytes:
    """The body, read no further than MAX_BODY_BYTES (a client cannot fill the memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"request body: larger than {MAX_BODY_BYTES // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)
