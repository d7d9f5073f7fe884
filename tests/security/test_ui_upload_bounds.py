"""Request bodies sent to `tunesmith ui` are bounded before any parser sees them: an upload
(a recipe, a rating sheet) no longer spools to a temporary file of any size before our own
size checks run, with or without a declared Content-Length."""

from __future__ import annotations

import asyncio
from tempfile import SpooledTemporaryFile

import pytest
from ui_runs import make_run

pytest.importorskip("fastapi")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from tunesmith.human.session import Session  # noqa: E402
from tunesmith.ui.app import create_app  # noqa: E402
from tunesmith.ui.request_body import (  # noqa: E402
    MAX_BODY_BYTES,
    RECIPE_UPLOAD_BYTES,
    SHEET_UPLOAD_BYTES,
)

TOKEN = "secret-token"
BOUNDARY = "tunesmith-test"
CHUNK = 64 * 1024
UPLOADS = {  # route, file field, its bound, what the message says
    "recipe": ("/new/recipe", "recipe_file", RECIPE_UPLOAD_BYTES, "larger than 320 KiB"),
    "sheet": ("/runs/demo-1/human/s1/sheet", "sheet", SHEET_UPLOAD_BYTES, "larger than 16.1 MiB"),
}


@pytest.fixture
def app(tmp_path):
    root = make_run(tmp_path / "runs", "demo-1", items=4, report=False)
    Session.create(root, "s1")
    return create_app(tmp_path / "runs", TOKEN)


@pytest.fixture
def spooled(monkeypatch):
    """The largest size any upload's temporary file reached."""
    sizes = [0]

    class Recording(SpooledTemporaryFile):
        def write(self, data):
            written = super().write(data)
            sizes.append(self.tell())
            return written

    monkeypatch.setattr("starlette.formparsers.SpooledTemporaryFile", Recording)
    return sizes


def _part_head(field: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="f.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()


def _stream(app, url: str, field: str, size: int) -> tuple[httpx.Response, int]:
    """POST a multipart upload of `size` bytes chunked (no Content-Length) through a real
    httpx client, which sends it piece by piece; also how many bytes the app pulled."""
    pulled = 0

    async def body():
        nonlocal pulled
        yield _part_head(field)
        for _ in range(size // CHUNK):
            pulled += CHUNK
            yield b"#" * CHUNK
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    async def post():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            headers = {
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "X-Tunesmith-Token": TOKEN,
            }
            return await c.post(url, content=body(), headers=headers)

    response = asyncio.run(post())
    assert "content-length" not in response.request.headers  # really chunked
    return response, pulled


@pytest.mark.parametrize("upload", UPLOADS)
def test_a_chunked_upload_stops_being_read_at_its_bound(app, spooled, upload):
    url, field, bound, message = UPLOADS[upload]
    response, pulled = _stream(app, url, field, bound + 4 * 1024 * 1024)
    assert response.status_code == 413, response.text
    assert f"request body: {message}</p>" in response.text
    assert pulled <= bound + CHUNK  # the client's generator was not drained
    assert 0 < max(spooled) <= bound  # parsing began, and stopped at the bound


@pytest.mark.parametrize("upload", UPLOADS)
def test_a_declared_length_over_the_bound_is_refused_unread(app, spooled, upload):
    url, field, bound, message = UPLOADS[upload]
    body = _part_head(field) + b"#" * (bound + 1)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = TestClient(app).post(url, content=body, headers=headers)
    assert response.status_code == 413 and f"request body: {message}</p>" in response.text
    assert max(spooled) == 0  # not one byte reached a temporary file


def test_an_upload_within_its_bound_still_goes_through(app):
    """A recipe of 300 KiB passes the body's bound and meets the recipe's own (256 KiB)."""
    files = {"recipe_file": ("big.yaml", b"#" * (300 * 1024), "text/yaml")}
    response = TestClient(app).post("/new/recipe", files=files)
    assert response.status_code == 400 and "big.yaml: recipe larger than 256 KiB" in response.text


def test_every_other_body_is_held_to_the_json_bound_with_a_json_answer(app):
    """Routes without a bound of their own (here a form post) take MAX_BODY_BYTES; under
    /api/ the refusal is the app's JSON error, also for a declared Content-Length."""
    client = TestClient(app)
    form = {"session": "s2", "rater": "ann", "token": TOKEN, "pad": "x" * MAX_BODY_BYTES}
    page = client.post("/runs/demo-1/human/sessions", data=form)
    assert page.status_code == 413 and "request body: larger than 64 KiB" in page.text
    assert not (app.state.runs_dir / "demo-1" / "eval" / "human" / "s2.json").exists()
    api = client.post(
        "/api/runs/demo-1/generate",
        content=b"{" + b" " * MAX_BODY_BYTES + b"}",
        headers={"X-Tunesmith-Token": TOKEN, "Content-Type": "application/json"},
    )
    assert api.status_code == 413
    assert api.json() == {"error": "request body: larger than 64 KiB", "status": 413}
