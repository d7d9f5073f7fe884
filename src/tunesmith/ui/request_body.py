"""The JSON body of an API request, read once and refused with one clear 4xx message.

Starlette's `request.json()` lets every way a client can get a body wrong (nothing sent, bad
JSON, bytes that are not UTF-8, `[[[[…` nested past Python's recursion limit) escape as a
500; every JSON endpoint of the UI reads its body here instead.
"""

from __future__ import annotations

import json

from fastapi import Request

from tunesmith.errors import UserError

# The largest legitimate body is a playground prompt (8000 characters, up to 4 bytes each).
MAX_BODY_BYTES = 64 * 1024


JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number"}
JSON_TYPES.update({bool: "true or false", type(None): "null"})


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


async def _read_capped(request: Request) -> bytes:
    """The body, read no further than MAX_BODY_BYTES (a client cannot fill the memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"request body: larger than {MAX_BODY_BYTES // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)
